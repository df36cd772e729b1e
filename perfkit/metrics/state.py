"""The registry as plain data: serialise, rebuild and merge — loops over `tables.TABLES`.

One JSON-friendly shape serves the file store (saved across restarts); the
shared stores use the flat maps of `stores/codec.py`. Counts and sums merge
exactly; sketches merge by adding bins.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection
from typing import Any

from ..clock import Clock
from ..config import PerfkitSettings
from .aggregate import combine
from .registry import Registry
from .tables import SCALARS, TABLES, CappedTable

__all__ = ["STATE_VERSION", "fold_into_other", "from_state", "merge_into", "to_state"]

STATE_VERSION = 1


def to_state(registry: Registry) -> dict[str, Any]:
    """Everything the registry aggregated, as JSON-serialisable data."""
    with registry.locked():
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            "buckets": list(registry.bucket_bounds),
            "gauges": dict(registry.gauges),
        }
        for field in SCALARS:
            state[field.attr] = getattr(registry, field.attr)
        for declared in TABLES:
            table = getattr(registry, declared.name)
            if declared.layout == "recent":
                state[declared.name] = list(table)
            elif declared.name == "endpoints":  # the key is a pair: kept inside the row
                state[declared.name] = {
                    f"{m} {r}": dict(s.to_state(), method=m, route=r) for (m, r), s in table.items()
                }
            else:
                state[declared.name] = {
                    declared.key_text(k): v.to_state() for k, v in table.items()
                }
        return state


def from_state(
    state: dict[str, Any], settings: PerfkitSettings | None = None, clock: Clock | None = None
) -> Registry:
    """A registry holding `state` (raises ValueError/KeyError/TypeError when it is malformed)."""
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"unknown state version {state.get('version')!r}")
    registry = Registry(settings, clock)
    if [float(b) for b in state["buckets"]] != list(registry.bucket_bounds):
        raise ValueError("the saved histogram buckets differ from the configured ones")
    for field in SCALARS:
        if field.attr in state:
            setattr(registry, field.attr, field.type(state[field.attr]))
    registry.gauges = {str(k): float(v) for k, v in state["gauges"].items()}
    if "query_operation_sums" in state:  # written before operations carried their sums
        for op, total in state["query_operation_sums"].items():
            state["query_operations"][op] = {
                "buckets": state["query_operations"][op],
                "total": total,
            }
    for declared in TABLES:
        saved = state.get(declared.name, [] if declared.layout == "recent" else {})
        table = getattr(registry, declared.name)
        if declared.layout == "recent":
            table.extend(saved)
            continue
        for text, data in saved.items():
            if declared.name == "endpoints":
                key: Any = (str(data["method"]), str(data["route"]))
            else:
                key = declared.key_of(str(text))
            assert declared.new is not None
            entry = declared.new(registry, key)
            entry.load_state(data)
            dict.__setitem__(table, key, entry)  # as saved: the caps held when it was written
    return registry


def merge_into(target: Registry, source: Registry) -> None:
    """Add `source`'s figures to `target` (exact for counts and sums; caps still apply)."""
    source.drain()
    target.drain()
    with source.locked():
        copies = {
            t.name: list(
                getattr(source, t.name) if t.layout == "recent" else getattr(source, t.name).items()
            )
            for t in TABLES
        }
        scalars = {f.attr: getattr(source, f.attr) for f in SCALARS}
        gauges = dict(source.gauges)
    with target.locked():
        for declared in TABLES:
            table = getattr(target, declared.name)
            items = copies[declared.name]
            if declared.layout == "recent":
                _merge_recent(table, items)
            elif declared.name == "endpoints":
                for key, stats in items:
                    target._new_endpoint(key).merge(stats)
            elif declared.layout == "minutes":
                for minute, bucket in items:
                    declared.entry(target, table, minute).merge(bucket)
            else:
                for key, entry in items:
                    declared.entry(target, table, key).merge(entry)
        for field in SCALARS:
            setattr(
                target,
                field.attr,
                combine(field.kind, getattr(target, field.attr), scalars[field.attr]),
            )
        target.gauges.update(gauges)


def fold_into_other(registry: Registry, **names: Collection[str]) -> None:
    """Move the named series (by table: ``endpoints=["GET /a"]``, ``users=...``) into the
    ``__other__`` series of their table (exact sums)."""
    with registry.locked():
        for declared in TABLES:
            wanted = names.get(declared.name)
            table = getattr(registry, declared.name)
            if wanted and isinstance(table, CappedTable):
                table.fold({k for k in table if declared.key_text(k) in wanted})


def _merge_recent(target: deque[dict[str, Any]], items: list[dict[str, Any]]) -> None:
    """Keep the most recent entries of both lists, in time order, within the bound."""
    merged = sorted([*target, *items], key=lambda item: _ts(item.get("timestamp")))
    target.clear()
    target.extend(merged)  # the deque's maxlen keeps the newest


def _ts(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0.0
