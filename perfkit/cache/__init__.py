"""The cache: `CacheManager` (memory, Redis, or Redis with a memory fallback) and `@cached`."""

from __future__ import annotations

from .decorator import CachedFunction, cached
from .manager import CacheManager
from .serializers import JsonSerializer, PickleSerializer, Serializer, SignatureError

__all__ = [
    "CacheManager",
    "CachedFunction",
    "JsonSerializer",
    "PickleSerializer",
    "Serializer",
    "SignatureError",
    "cached",
]
