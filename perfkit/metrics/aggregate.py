"""Aggregates with their fields declared once: merge, flat maps and JSON state are loops.

Every aggregate lists its scalar fields in `FIELDS` (attribute, short code,
and how two parts combine: ``sum``, ``max`` or ``min``). `merge`, the flat
field map the stores write (`parts` / `load_flat`) and the JSON state
(`to_state` / `load_state`) are loops over that list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Literal, NamedTuple

__all__ = ["Aggregate", "Field", "Kind", "Part", "combine", "slots"]

Kind = Literal["sum", "max", "min"]
# one flat part of an aggregate: (code, how it combines, value); "put" for text
Part = tuple[str, Literal["sum", "max", "min", "put"], Any]


class Field(NamedTuple):
    """One scalar field of an aggregate.

    Attributes:
        attr: the attribute (also its key in the JSON state and the snapshot row).
        code: its short name in a store's flat map (a Redis hash field).
        kind: how two parts combine: ``sum``, ``max`` or ``min``.
        type: ``int`` or ``float``.
        shown: whether snapshot rows show it under `attr`.
        metric: ``(family, help)`` to expose it per series as a Prometheus counter.
    """

    attr: str
    code: str
    kind: Kind
    type: type[int] | type[float]
    shown: bool = True
    metric: tuple[str, str] | None = None


def combine(kind: str, mine: Any, theirs: Any) -> Any:
    if kind == "sum":
        return mine + theirs
    return max(mine, theirs) if kind == "max" else min(mine, theirs)


def _number(kind: type[int] | type[float], text: Any) -> int | float:
    return int(float(text)) if kind is int else float(text)


def slots(fields: tuple[Field, ...], inherited: tuple[Field, ...] = ()) -> tuple[str, ...]:
    """The slot names a subclass adds for its own fields."""
    return tuple(f.attr for f in fields if f not in inherited)


class Aggregate:
    """Fields declared in `FIELDS`; every loop over them lives here."""

    __slots__ = ()
    FIELDS: ClassVar[tuple[Field, ...]] = ()

    def __init__(self) -> None:
        for f in self.FIELDS:
            setattr(self, f.attr, f.type())

    def merge(self, other: Any) -> None:
        """Add `other`'s figures (sums add, maxima and minima combine)."""
        for f in self.FIELDS:
            setattr(self, f.attr, combine(f.kind, getattr(self, f.attr), getattr(other, f.attr)))

    def parts(self) -> Iterator[Part]:
        """The flat map a store writes: (code, kind, value) per field."""
        for f in self.FIELDS:
            yield f.code, f.kind, getattr(self, f.attr)

    def load_flat(self, flat: Mapping[str, str]) -> None:
        """Read the fields back from a flat map (missing ones stay zero)."""
        for f in self.FIELDS:
            if f.code in flat:
                setattr(self, f.attr, _number(f.type, flat[f.code]))

    def to_state(self) -> Any:
        return {f.attr: getattr(self, f.attr) for f in self.FIELDS}

    def load_state(self, data: Any) -> None:
        for f in self.FIELDS:
            if f.attr in data:  # a field added since the file was written stays zero
                setattr(self, f.attr, _number(f.type, data[f.attr]))

    def shown(self) -> dict[str, Any]:
        """The fields snapshot rows show."""
        return {f.attr: getattr(self, f.attr) for f in self.FIELDS if f.shown}
