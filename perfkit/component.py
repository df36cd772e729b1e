"""What a part of perfkit (cache, system monitor, alerts, backups) offers the kit.

A component is registered with ``kit.register_component(name, component)``.
Every method is optional; the kit looks for each one by attribute, so a
component implements only what it has:

- ``collect() -> Iterable[MetricFamily]``: families for ``/metrics``;
- ``snapshot() -> dict``: its section of ``kit.snapshot()`` (under `name`);
- ``alert_metrics() -> dict[str, float]``: flat dotted keys for alert rules
  (e.g. ``{"cache.hit_rate": 93.5}``);
- ``start()`` / ``stop()``: called by ``kit.start()`` / ``kit.stop()``;
- ``reset()``: called by ``kit.reset()`` (reset counters).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from .metrics.families import MetricFamily

__all__ = ["Component"]


@runtime_checkable
class Component(Protocol):
    """Marker protocol; see the module docstring for the optional methods."""


def call_optional(component: object, method: str, *args: Any) -> Any:
    """Call ``component.method(*args)`` when the component has that method."""
    fn = getattr(component, method, None)
    return fn(*args) if callable(fn) else None


def collect_from(component: object) -> Iterable[MetricFamily]:
    families = call_optional(component, "collect")
    return families if families is not None else ()
