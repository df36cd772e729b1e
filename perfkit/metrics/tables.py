"""The registry's tables, declared once: what each holds, how it is bounded, where stores keep it.

`TABLES` is the one list. The registry builds its tables from it, and the JSON
state (`state.py`), the Redis/host encoding and loading (`stores/codec.py`),
merging and the fleet-wide caps are loops over it. `SCALARS` are the
registry's own counters (kept in the store's ``meta`` hash).

Layouts in a key-value store (Redis, the host file):

- ``hashes``: one hash per series (``key`` + name), the names in the set ``names_key``;
- ``hash``: one hash for the table, fields ``name`` + SEP + code (ids in ``names_key``);
- ``minutes``: one hash per minute (``key`` + minute), minutes in the sorted set
  ``names_key``, expiring after the retention;
- ``recent``: a bounded list of JSON entries, newest first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

from .aggregate import Aggregate, Field
from .routes import OTHER
from .stats import (
    Count,
    DurationStats,
    EndpointStats,
    MinuteBucket,
    OperationStats,
    QueryStats,
    QueryTally,
    Tally,
)

if TYPE_CHECKING:
    from ..config import PerfkitSettings
    from .registry import Registry

__all__ = ["SCALARS", "TABLES", "CappedTable", "Table", "table"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_ERROR_TYPES = 100
MAX_CALLS = 500


class CappedTable(dict[K, V]):
    """A bounded table: a new key gets an entry while there is room, else it shares the
    overflow entry (``__other__``), so the table stays bounded and totals stay exact.

    Args:
        cap: the most keys (read at each new key: settings may change at run time).
        new: builds the entry of a key.
        other: the overflow key for a key (``__other__``; per method for endpoints).
    """

    __slots__ = ("cap", "folds", "new", "other")

    def __init__(
        self,
        cap: Callable[[], int],
        new: Callable[[K], V],
        other: Callable[[K], K] = lambda _key: OTHER,  # type: ignore[assignment,return-value]
    ) -> None:
        super().__init__()
        self.cap = cap
        self.new = new
        self.other = other
        self.folds = 0  # bumped when series move away (readers caching entries start afresh)

    def full_for(self, key: K) -> bool:
        """Whether `key` would overflow (it is new and the table is full)."""
        return key not in self and len(self) >= self.cap()

    def entry(self, key: K) -> V:
        """The entry for `key`, or the overflow entry once the table is full."""
        value = self.get(key)
        if value is None:
            if len(self) >= self.cap():
                key = self.other(key)
                value = self.get(key)
            if value is None:
                value = self[key] = self.new(key)
        return value

    def fold(self, keys: set[K]) -> None:
        """Move the named series into their overflow entry (exact sums)."""
        self.folds += 1
        for key in [k for k in self if k in keys and k != self.other(k)]:
            moved = self.pop(key)
            other = self.other(key)
            mine = self.get(other)
            if mine is None:
                self[other] = moved
            else:
                mine.merge(moved)  # type: ignore[attr-defined]

    def empty_like(self) -> CappedTable[K, V]:
        return CappedTable(self.cap, self.new, self.other)


Layout = Literal["hashes", "hash", "minutes", "recent"]


def _text(key: Any) -> str:
    return str(key)


def _endpoint_text(key: Any) -> str:
    return f"{key[0]} {key[1]}"


def _endpoint_key(text: str) -> Any:
    method, _, route = text.partition(" ")
    return (method, route)


def _endpoint_other(key: Any) -> Any:
    return (key[0], OTHER)


_USER_SEP = "\x1e"  # between an endpoint and a user id in one key (neither holds it)


def _endpoint_user_text(key: Any) -> str:
    return f"{key[0]} {key[1]}{_USER_SEP}{key[2]}"


def _endpoint_user_key(text: str) -> Any:
    endpoint, _, user = text.partition(_USER_SEP)
    method, _, route = endpoint.partition(" ")
    return (method, route, user)


def _endpoint_user_other(key: Any) -> Any:
    return (key[0], key[1], OTHER)


class Table(NamedTuple):
    """One table of the registry.

    Attributes:
        name: the registry attribute.
        layout: how a key-value store keeps it (see the module docstring).
        key: its store key (``hash``, ``recent``) or the prefix of each series' key.
        names_key: the store's set of series names (ids for ``hash`` tables), "" for none.
        new: builds an entry for a key (``registry, key -> aggregate``).
        cap: the bound on its keys (``settings -> int``), None for unbounded by count.
        shared_cap: whether a shared store holds the cap across processes.
        key_text / key_of: the key as text in a store, and back.
        other: the overflow key of a key.
    """

    name: str
    layout: Layout
    key: str
    names_key: str = ""
    new: Callable[[Registry, Any], Aggregate] | None = None
    cap: Callable[[PerfkitSettings], int] | None = None
    shared_cap: bool = False
    key_text: Callable[[Any], str] = _text
    key_of: Callable[[str], Any] = _text
    other: Callable[[Any], Any] = lambda _key: OTHER

    def empty(self, registry: Registry) -> Any:
        """A fresh, empty table for `registry`."""
        settings = registry.settings
        if self.layout == "recent":
            return deque(maxlen=settings.slow_requests_kept)
        new = self.new
        assert new is not None
        if self.cap is None:
            return {}
        cap = self.cap
        return CappedTable(lambda: cap(registry.settings), lambda k: new(registry, k), self.other)

    def entry(self, registry: Registry, table: Any, key: Any) -> Any:
        """The entry of `key` in `table` (capped, or built fresh for unbounded tables)."""
        if isinstance(table, CappedTable):
            return table.entry(key)
        value = table.get(key)
        if value is None:
            assert self.new is not None
            value = table[key] = self.new(registry, key)
        return value


def table(name: str) -> Table:
    """The declaration named `name`."""
    return _BY_NAME[name]


TABLES: tuple[Table, ...] = (
    Table(
        "endpoints", "hashes", "ep:", "endpoints",
        lambda r, _k: EndpointStats(len(r.bucket_bounds)), lambda s: s.max_endpoints, True,
        _endpoint_text, _endpoint_key, _endpoint_other,
    ),
    Table("users", "hash", "users", "userids", lambda _r, _k: Tally(), lambda s: s.max_users, True),
    Table(
        "organizations", "hash", "orgs", "orgids",
        lambda _r, _k: Tally(), lambda s: s.max_organizations, True,
    ),
    # each endpoint's users (its drill-down page): bounded like the users table
    Table(
        "endpoint_users", "hash", "epusers", "epuserids",
        lambda _r, _k: Tally(), lambda s: s.max_users, True,
        _endpoint_user_text, _endpoint_user_key, _endpoint_user_other,
    ),
    Table("error_types", "hash", "errors", "", lambda _r, _k: Count(), lambda _s: MAX_ERROR_TYPES),
    Table("slow_requests", "recent", "slow"),
    Table(
        "request_minutes", "minutes", "rm:", "rminutes",
        lambda _r, k: MinuteBucket(k), key_of=int,
    ),
    Table(
        "queries", "hashes", "q:", "queries",
        lambda _r, _k: QueryStats(), lambda s: s.max_queries, True,
    ),
    Table(
        "query_organizations", "hash", "qorgs", "qorgids",
        lambda _r, _k: QueryTally(), lambda s: s.max_organizations, True,
    ),
    Table("query_operations", "hash", "qop", "", lambda r, _k: OperationStats(len(r.bucket_bounds))),  # noqa: E501
    Table("slow_queries", "recent", "slowq"),
    Table("query_minutes", "minutes", "qm:", "qminutes", lambda _r, k: MinuteBucket(k), key_of=int),
    Table("calls", "hashes", "call:", "calls", lambda _r, _k: DurationStats(), lambda _s: MAX_CALLS),  # noqa: E501
)  # fmt: skip

_BY_NAME = {t.name: t for t in TABLES}

# the registry's own counters (a store's "meta" hash)
SCALARS: tuple[Field, ...] = (
    Field("websocket_sessions", "ws", "sum", int),
    Field("dropped_endpoints", "dropped", "sum", int),
    Field("started_at", "started", "min", float),
)
