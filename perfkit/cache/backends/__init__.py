"""Cache backends: where serialised values live (memory or Redis)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

__all__ = ["CacheBackend"]


class CacheBackend(Protocol):
    """Bytes in, bytes out, with a per-key TTL in seconds (None: never expires).

    Keys are already validated strings; values are already serialised.
    """

    name: str

    def get(self, key: str) -> object | None:
        """The stored payload, or None when missing or expired."""

    def get_many(self, keys: Iterable[str]) -> list[object | None]:
        """Payloads in the order of `keys` (None where missing)."""

    def set(self, key: str, payload: object, ttl: float | None) -> None:
        """Store `payload` under `key` for `ttl` seconds."""

    def set_many(self, items: Mapping[str, object], ttl: float | None) -> None:
        """Store several payloads with one TTL."""

    def delete(self, key: str) -> bool:
        """Remove `key`; True when it existed."""

    def exists(self, key: str) -> bool:
        """True when `key` is present and not expired."""

    def clear(self) -> int:
        """Remove every key of this cache's namespace (and only those); the count removed."""

    def count(self) -> int:
        """How many keys the namespace holds."""

    def close(self) -> None:
        """Release connections."""
