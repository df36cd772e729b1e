"""``from perfkit.asgi import PerfkitMiddleware``: the ASGI middleware."""

from .middleware.asgi import PerfkitMiddleware

__all__ = ["PerfkitMiddleware"]
