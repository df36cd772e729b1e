"""``from perfkit.wsgi import PerfkitMiddleware``: the WSGI middleware."""

from .middleware.wsgi import PerfkitMiddleware

__all__ = ["PerfkitMiddleware"]
