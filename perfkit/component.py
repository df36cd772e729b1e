"""What a part of perfkit (cache, system monitor, alerts, backups, ...) offers the kit.

`Component` lists every method the kit calls on its parts, each with a do-nothing
default, so a part overrides only what it has and the kit calls each method
directly. perfkit's own parts subclass it. An object registered with
``kit.register_component(name, obj)`` that does not subclass it (the documented
duck-typed way) is wrapped once, at registration, in `ForeignComponent`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .metrics.families import MetricFamily

if TYPE_CHECKING:
    from .config import PerfkitSettings

__all__ = ["METHODS", "Component", "ForeignComponent", "as_component"]

# what the kit calls, in the order of the list below
METHODS = (
    "start",
    "stop",
    "collect",
    "snapshot",
    "alert_metrics",
    "reset",
    "cleanup",
    "settings_changed",
)


class Component:
    """A part the kit starts, stops, reads and maintains; every method is optional.

    - ``start()`` / ``stop()``: called by ``kit.start()`` / ``kit.stop()``;
    - ``collect()``: its families for ``/metrics``;
    - ``snapshot()``: its section of ``kit.snapshot()`` (under its name; None: no section);
    - ``alert_metrics()``: flat dotted keys for alert rules (``{"cache.hit_rate": 93.5}``);
    - ``reset()``: called by ``kit.reset()`` (zero the counters);
    - ``cleanup()``: called by ``kit.cleanup()`` (drop what is past retention; a report or None);
    - ``settings_changed(settings)``: called by ``kit.update_settings()``.
    """

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def collect(self) -> Iterable[MetricFamily]:
        return ()

    def snapshot(self) -> Mapping[str, Any] | None:
        return None

    def alert_metrics(self) -> Mapping[str, float | None]:
        return {}

    def reset(self) -> None:
        return None

    def cleanup(self) -> object:
        return None

    def settings_changed(self, settings: PerfkitSettings) -> None:
        return None


def _nothing(*_: Any) -> None:
    return None


class ForeignComponent(Component):
    """An object of the host app's registered as a component without subclassing
    `Component`: the methods it has are found once, here, and called like any part's.

    ``target`` is the object itself.
    """

    def __init__(self, target: object) -> None:
        self.target = target
        found: dict[str, Callable[..., Any]] = {}
        for name in METHODS:
            method = getattr(target, name, None)  # the one look-up by name, at registration
            found[name] = method if callable(method) else _nothing
        self._methods = found

    def start(self) -> None:
        self._methods["start"]()

    def stop(self) -> None:
        self._methods["stop"]()

    def collect(self) -> Iterable[MetricFamily]:
        families: Iterable[MetricFamily] | None = self._methods["collect"]()
        return () if families is None else families

    def snapshot(self) -> Mapping[str, Any] | None:
        section: Mapping[str, Any] | None = self._methods["snapshot"]()
        return section

    def alert_metrics(self) -> Mapping[str, float | None]:
        metrics: Mapping[str, float | None] | None = self._methods["alert_metrics"]()
        return {} if metrics is None else metrics

    def reset(self) -> None:
        self._methods["reset"]()

    def cleanup(self) -> object:
        return self._methods["cleanup"]()

    def settings_changed(self, settings: PerfkitSettings) -> None:
        self._methods["settings_changed"](settings)

    def __repr__(self) -> str:
        return f"ForeignComponent({self.target!r})"


def as_component(part: object) -> Component:
    """`part` itself when it is a `Component`, else `part` wrapped in `ForeignComponent`."""
    return part if isinstance(part, Component) else ForeignComponent(part)
