"""Where the parts find the default kit's pieces without importing the kit.

``@cached`` with no ``cache=`` uses ``perfkit.get_kit().cache``, looked up at
call time. The cache package must not import the kit (the kit composes the
cache, not the other way round), so the package's ``__init__`` -- which runs
before any of its submodules -- puts the lookup here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cache.manager import CacheManager

__all__ = ["default_cache", "provide_default_cache"]

_cache_provider: Callable[[], CacheManager] | None = None


def provide_default_cache(provider: Callable[[], CacheManager]) -> None:
    """Set how `default_cache()` finds the cache (perfkit's ``__init__`` does, once)."""
    global _cache_provider
    _cache_provider = provider


def default_cache() -> CacheManager:
    """The default kit's cache."""
    provider = _cache_provider
    if provider is None:  # only when perfkit/__init__.py did not run, which Python prevents
        raise RuntimeError("perfkit's default cache is not wired (perfkit/__init__.py)")
    return provider()
