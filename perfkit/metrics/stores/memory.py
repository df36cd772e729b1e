"""The memory store: this process's registry is the whole truth (one process, no sharing)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...component import Component
from ..families import MetricFamily
from ..registry import Registry

if TYPE_CHECKING:
    from ...fleet import Fleet

__all__ = ["MemoryStore"]


class MemoryStore(Component):
    """Reads are the registry itself: nothing to ship, nothing to load, never behind."""

    scope: str = "process"
    component: str | None = None  # no snapshot section of its own

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @property
    def fleet(self) -> Fleet | None:
        return None

    def view(self) -> Registry:
        return self.registry

    def local(self) -> Registry:
        return self.registry

    def flush(self) -> bool:
        return True

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def reset(self) -> None:
        return None  # the kit resets the registry itself

    def snapshot(self) -> dict[str, Any] | None:
        return None

    def collect(self) -> Iterable[MetricFamily]:
        return ()
