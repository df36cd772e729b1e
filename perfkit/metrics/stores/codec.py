"""Registry deltas as key-value operations, and stored hashes back into a registry.

Both are loops over `tables.TABLES` (layouts described there): the Redis store
sends these operations in its Lua script, the host store applies the same
ones to its SQLite file, and both read back through `registry_from`.

Every key lives under ``{namespace}:`` — the braces make the namespace a hash
tag, so all of perfkit's keys share one Redis Cluster slot and one Lua script
can touch them all. Numbers travel as strings so no precision is lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...clock import Clock
from ...config import PerfkitSettings
from ..registry import Registry
from ..stats import Aggregate
from ..tables import SCALARS, TABLES, Table

__all__ = ["SEP", "Keys", "Stored", "decode", "delta_ops", "registry_from", "text", "texts"]

SEP = "\x1f"  # separates an id from a field name inside one hash


class Keys:
    """The key names of one namespace."""

    def __init__(self, namespace: str) -> None:
        self.prefix = "{" + namespace + "}:"
        p = self.prefix
        self.seq = p + "seq"
        self.meta = p + "meta"
        self.endpoints = p + "endpoints"
        self.queries = p + "queries"
        self.calls = p + "calls"
        self.users = p + "users"
        self.organizations = p + "orgs"
        self.errors = p + "errors"
        self.query_operations = p + "qop"
        self.gauges = p + "gauges"
        self.slow = p + "slow"
        self.slow_queries = p + "slowq"
        self.request_minutes = p + "rminutes"
        self.query_minutes = p + "qminutes"
        self.user_ids = p + "userids"
        self.organization_ids = p + "orgids"

    def endpoint(self, key: str) -> str:
        return self.prefix + "ep:" + key

    def query(self, fingerprint: str) -> str:
        return self.prefix + "q:" + fingerprint

    def call(self, name: str) -> str:
        return self.prefix + "call:" + name

    def request_minute(self, minute: int) -> str:
        return f"{self.prefix}rm:{minute}"

    def query_minute(self, minute: int) -> str:
        return f"{self.prefix}qm:{minute}"


def _num(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(int(value))


class _Ops:
    """Collects operations for the flush script: (op, key, field, value[, extra])."""

    def __init__(self) -> None:
        self.items: list[list[str]] = []

    def incr(self, key: str, field: str, value: float) -> None:
        if value:
            op = "f" if isinstance(value, float) else "i"
            self.items.append([op, key, field, _num(value)])

    def high(self, key: str, field: str, value: float) -> None:
        self.items.append(["mx", key, field, _num(value)])

    def low(self, key: str, field: str, value: float) -> None:
        self.items.append(["mn", key, field, _num(value)])

    def put(self, key: str, field: str, value: str) -> None:
        self.items.append(["s", key, field, value])

    def add_member(self, key: str, member: str) -> None:
        self.items.append(["sa", key, member])

    def push(self, key: str, value: str, keep: int) -> None:
        self.items.append(["lp", key, value, str(keep)])

    def index(self, key: str, member: int) -> None:
        self.items.append(["z", key, str(member), str(member)])

    def expire(self, key: str, seconds: int) -> None:
        self.items.append(["ex", key, str(seconds)])

    def part(self, key: str, field: str, kind: str, value: Any) -> None:
        if kind == "sum":
            self.incr(key, field, value)
        elif kind == "max":
            self.high(key, field, value)
        elif kind == "min":
            self.low(key, field, value)
        else:
            self.put(key, field, str(value))

    def aggregate(self, key: str, entry: Aggregate, prefix: str = "") -> None:
        for code, kind, value in entry.parts():
            self.part(key, prefix + code if code else prefix[:-1], kind, value)


def delta_ops(delta: Registry, keys: Keys, retention_seconds: int) -> list[list[str]]:
    """The operations that add `delta` to the stored figures (one loop over `TABLES`)."""
    ops = _Ops()
    p = keys.prefix
    keep = delta.settings.slow_requests_kept
    for declared in TABLES:
        table = getattr(delta, declared.name)
        if declared.layout == "recent":
            for item in table:
                ops.push(p + declared.key, json.dumps(item, default=str), keep)
            continue
        for key, entry in table.items():
            name = declared.key_text(key)
            if declared.layout == "hashes":
                ops.add_member(p + declared.names_key, name)
                ops.aggregate(p + declared.key + name, entry)
            elif declared.layout == "hash":
                if declared.names_key:
                    ops.add_member(p + declared.names_key, name)
                ops.aggregate(p + declared.key, entry, name + SEP)
            else:  # minutes
                hash_key = p + declared.key + name
                ops.aggregate(hash_key, entry)
                ops.index(p + declared.names_key, int(key))
                ops.expire(hash_key, retention_seconds)
    for name, value in delta.gauges.items():
        ops.put(keys.gauges, name, _num(float(value)))
    for f in SCALARS:
        ops.part(keys.meta, f.code, f.kind, getattr(delta, f.attr))
    return ops.items


# ------------------------------------------------------------------ reading
def text(value: Any) -> str:
    """A Redis reply (bytes or str) as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def texts(values: Iterable[Any]) -> list[str]:
    """Several Redis replies as str."""
    return [text(v) for v in values]


def decode(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {text(k): text(v) for k, v in raw.items()}


@dataclass
class Stored:
    """What a key-value store holds, as read at one point in time.

    Attributes:
        members: set (and sorted set) key -> members.
        cells: hash key -> {field: value}.
        recent: list key -> entries, newest first.
    """

    members: dict[str, set[str]] = field(default_factory=dict)
    cells: dict[str, dict[str, str]] = field(default_factory=dict)
    recent: dict[str, list[str]] = field(default_factory=dict)


def wanted(keys: Keys) -> tuple[list[str], list[str], list[str]]:
    """The keys a reader fetches first: (sets, hashes, lists); then `series_keys`."""
    p = keys.prefix
    sets = [p + t.names_key for t in TABLES if t.layout in ("hashes", "minutes")]
    hashes = [p + t.key for t in TABLES if t.layout == "hash"] + [keys.gauges, keys.meta]
    lists = [p + t.key for t in TABLES if t.layout == "recent"]
    return sets, hashes, lists


def series_keys(stored: Stored, keys: Keys, first_minute: int) -> list[str]:
    """The per-series hashes to fetch once the index sets are known."""
    out = []
    for declared, name in _series(stored, keys, first_minute):
        out.append(keys.prefix + declared.key + name)
    return out


def _series(stored: Stored, keys: Keys, first_minute: int) -> list[tuple[Table, str]]:
    out = []
    for declared in TABLES:
        if declared.layout not in ("hashes", "minutes"):
            continue
        names = stored.members.get(keys.prefix + declared.names_key, set())
        if declared.layout == "minutes":
            minutes = sorted(int(float(m)) for m in names)
            out += [(declared, str(m)) for m in minutes if m >= first_minute]
        else:
            out += [(declared, name) for name in sorted(names)]
    return out


def registry_from(stored: Stored, keys: Keys, settings: PerfkitSettings, clock: Clock) -> Registry:
    """The stored figures as a registry (the reading side of `delta_ops`; caps apply)."""
    now = clock.time()
    first_minute = int(now // 60) - settings.retention_hours * 60
    registry = Registry(settings, clock)
    p = keys.prefix
    for declared, name in _series(stored, keys, first_minute):
        fields = stored.cells.get(p + declared.key + name)
        if fields:
            _load(registry, declared, declared.key_of(name), fields)
    for declared in TABLES:
        if declared.layout == "hash":
            rows: dict[str, dict[str, str]] = {}
            for name, value in stored.cells.get(p + declared.key, {}).items():
                ident, sep, code = name.rpartition(SEP)
                if not sep:
                    ident, code = name, ""
                rows.setdefault(ident, {})[code] = value
            for ident in sorted(rows):
                _load(registry, declared, declared.key_of(ident), rows[ident])
        elif declared.layout == "recent":
            getattr(registry, declared.name).extend(recent(stored.recent.get(p + declared.key, [])))
    registry.gauges = {n: float(v) for n, v in stored.cells.get(keys.gauges, {}).items()}
    meta = stored.cells.get(keys.meta, {})
    for f in SCALARS:
        setattr(
            registry,
            f.attr,
            f.type(float(meta[f.code])) if f.code in meta else getattr(registry, f.attr),
        )
    if "started" not in meta:
        registry.started_at = now
    return registry


def _load(registry: Registry, declared: Table, key: Any, fields: Mapping[str, str]) -> None:
    assert declared.new is not None
    loaded = declared.new(registry, key)
    loaded.load_flat(fields)
    table = getattr(registry, declared.name)
    if declared.name == "endpoints":
        registry._new_endpoint(key).merge(loaded)  # the view caps too
    else:
        declared.entry(registry, table, key).merge(loaded)


def recent(items: Iterable[Any]) -> list[dict[str, Any]]:
    """Slow-list entries (newest first in the store) as dicts in time order."""
    out = []
    for raw in items:
        try:
            out.append(json.loads(text(raw)))
        except ValueError:
            continue  # a foreign value in our list: skip it, never fail the read
    out.reverse()
    return out
