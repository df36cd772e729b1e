"""Serializers: JSON round-trips of the extra types, signed pickle."""

from __future__ import annotations

import datetime as dt
import decimal
import pickle
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.cache.serializers import (
    JsonSerializer,
    PickleSerializer,
    SignatureError,
    make_serializer,
)

hashables = st.one_of(
    st.integers(), st.text(max_size=10), st.uuids(), st.dates(), st.booleans(), st.none()
)
scalars = st.one_of(
    hashables,
    st.floats(allow_nan=False),
    st.binary(max_size=16),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.times(),
    st.timedeltas(),
    st.decimals(allow_nan=False),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
        st.dictionaries(hashables, inner, max_size=3),
        st.sets(hashables, max_size=4),
        st.frozensets(hashables, max_size=4),
        st.fixed_dictionaries({"__pk__": st.text(max_size=5), "v": inner}),
    ),
    max_leaves=15,
)


def same(a: Any, b: Any) -> bool:
    """Equal values of the same type, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, dt.datetime):
        # documented: an aware datetime keeps its instant and UTC offset, not its zone name
        aware = (a.tzinfo is None, b.tzinfo is None)
        return a == b and a.utcoffset() == b.utcoffset() and aware[0] == aware[1]
    return bool(a == b)


class TestJson:
    @settings(deadline=None)  # the machine is shared and loaded
    @given(values)
    def test_round_trip_keeps_types(self, value: Any) -> None:
        """Every supported value comes back equal and of the same type."""
        s = JsonSerializer()
        assert same(s.loads(s.dumps(value)), value)

    def test_documented_examples(self) -> None:
        """datetime, date, Decimal, UUID and set survive; tuples stay tuples."""
        s = JsonSerializer()
        value = {
            "when": dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc),
            "day": dt.date(2024, 5, 1),
            "price": decimal.Decimal("19.99"),
            "id": uuid.UUID(int=7),
            "tags": {"a", "b"},
            "pair": (1, 2),
        }
        assert s.loads(s.dumps(value)) == value

    @pytest.mark.parametrize("bad", [object(), {1: object()}, [lambda: 1]])
    def test_unsupported_values_raise_type_error(self, bad: Any) -> None:
        """What JSON cannot encode raises TypeError naming the type and the way out."""
        with pytest.raises(TypeError, match="cannot be serialised by the json serializer"):
            JsonSerializer().dumps(bad)

    def test_self_containing_value_is_a_type_error(self) -> None:
        """A list that contains itself is refused with TypeError, not a crash."""
        loop: list[Any] = []
        loop.append(loop)
        with pytest.raises(TypeError):
            JsonSerializer().dumps(loop)


class _Point:
    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Point) and other.x == self.x

    __hash__ = None  # type: ignore[assignment]


class TestPickle:
    def test_round_trip_of_any_picklable_value(self) -> None:
        """Objects JSON cannot hold round-trip through signed pickle."""
        s = PickleSerializer("k" * 32)
        assert s.loads(s.dumps({"p": _Point(3)})) == {"p": _Point(3)}

    def test_unsigned_or_foreign_payloads_are_refused(self) -> None:
        """A payload not signed with our key is never unpickled."""
        ours, theirs = PickleSerializer("a" * 32), PickleSerializer("b" * 32)
        with pytest.raises(SignatureError):
            ours.loads(theirs.dumps(1))
        with pytest.raises(SignatureError):
            ours.loads(pickle.dumps(1))
        with pytest.raises(SignatureError):
            ours.loads(b"")

    def test_unpicklable_value_is_a_type_error(self) -> None:
        """A lambda cannot be pickled: TypeError at dumps."""
        with pytest.raises(TypeError, match="cannot be pickled"):
            PickleSerializer("k" * 32).dumps(lambda: 1)

    def test_key_is_required_and_checked(self) -> None:
        """Pickle without a signing key, or with a short one, is refused."""
        with pytest.raises(ValueError, match="signing_key"):
            make_serializer("pickle")
        with pytest.raises(ValueError, match="signing_key"):
            make_serializer("pickle", "short")
        with pytest.raises(ValueError, match="serializer must be 'json' or 'pickle'"):
            make_serializer("yaml")
