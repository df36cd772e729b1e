"""The ``database`` component: connection-pool figures of every instrumented pool."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..component import Component
from ..kit import Perfkit
from ..metrics.families import MetricFamily

__all__ = ["COMPONENT_NAME", "GAUGE_NAME", "DatabasePools", "pools_of"]

COMPONENT_NAME = "database"
GAUGE_NAME = "db.connections"  # what the default DB-connections alert rule reads

Figures = Callable[[], dict[str, float]]

_attach_lock = threading.Lock()


class DatabasePools(Component):
    """Collects ``{state: value}`` figures from each registered pool.

    States are ``size``, ``checked_out``, ``overflow`` and ``idle`` (each only
    when the pool type knows it). Exposed as
    ``app_database_connections{pool,state}``; the total of ``checked_out``
    is the ``db.connections`` gauge and alert metric.
    """

    def __init__(self, kit: Perfkit) -> None:
        self.kit = kit
        self._sources: dict[str, Figures] = {}
        self._lock = threading.Lock()

    def add(self, name: str, figures: Figures) -> str:
        """Register a pool under `name` (made unique with ``#2``, ``#3``...); returns the name."""
        with self._lock:
            unique, n = name, 1
            while unique in self._sources:
                n += 1
                unique = f"{name}#{n}"
            self._sources[unique] = figures
        return unique

    def discard(self, name: str) -> None:
        with self._lock:
            self._sources.pop(name, None)
        self.publish()

    def figures(self) -> dict[str, dict[str, float]]:
        """``{pool: {state: value}}``; a pool whose figures fail is reported and left out."""
        with self._lock:
            sources = list(self._sources.items())
        out: dict[str, dict[str, float]] = {}
        for name, figures in sources:
            try:
                out[name] = figures()
            except Exception as exc:
                self.kit.errors.report(f"pool figures:{name}", exc)
        return out

    def checked_out(self, figures: dict[str, dict[str, float]] | None = None) -> float:
        pools = self.figures() if figures is None else figures
        return float(sum(f.get("checked_out", 0.0) for f in pools.values()))

    def publish(self) -> None:
        """Set the ``db.connections`` gauge to the connections checked out of every pool."""
        self.kit.set_gauge(GAUGE_NAME, self.checked_out())

    # ------------------------------------------------------ component protocol
    def collect(self) -> list[MetricFamily]:
        family = MetricFamily(
            "app_database_connections", "gauge", "Database connection-pool figures, by state."
        )
        for pool, figures in sorted(self.figures().items()):
            for state, value in sorted(figures.items()):
                family.add(value, pool=pool, state=state)
        return [family]

    def snapshot(self) -> dict[str, Any]:
        figures = self.figures()
        return {"pools": figures, "checked_out": self.checked_out(figures)}

    def alert_metrics(self) -> dict[str, float]:
        total = self.checked_out()
        self.kit.set_gauge(GAUGE_NAME, total)  # keep the gauge, which wins in the kit, current
        return {GAUGE_NAME: total}


def pools_of(kit: Perfkit) -> DatabasePools:
    """The kit's ``database`` component, registered on first use."""
    with _attach_lock:
        component = kit.components.get(COMPONENT_NAME)
        if isinstance(component, DatabasePools):
            return component
        if component is not None:
            raise ValueError(
                f"the kit already has a component named {COMPONENT_NAME!r} "
                f"({type(component).__name__}); cannot attach database pools"
            )
        pools = DatabasePools(kit)
        kit.register_component(COMPONENT_NAME, pools)
        return pools
