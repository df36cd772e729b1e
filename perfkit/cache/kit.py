"""Building the kit's cache from `PerfkitSettings`."""

from __future__ import annotations

from ..clock import Clock
from ..config import PerfkitSettings, env_var
from ..errors import ConfigError
from .manager import CacheManager

__all__ = ["cache_from_settings"]


def cache_from_settings(settings: PerfkitSettings, clock: Clock | None = None) -> CacheManager:
    """The `CacheManager` the settings describe (``cache_*``, ``redis_url``, namespace)."""
    try:
        return CacheManager(
            backend=settings.cache_backend,
            redis_url=settings.redis_url,
            default_ttl=settings.cache_default_ttl,
            maxsize=settings.cache_maxsize,
            serializer=settings.cache_serializer,
            namespace=settings.redis_namespace,
            signing_key=settings.cache_signing_key,
            clock=clock,
        )
    except ValueError as exc:
        names = ", ".join(
            env_var(n) for n in ("cache_serializer", "cache_signing_key", "redis_url")
        )
        raise ConfigError(f"the cache settings are not valid ({names}): {exc}") from None
