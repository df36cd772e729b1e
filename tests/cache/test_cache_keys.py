"""Key validation and keys built from call arguments."""

from __future__ import annotations

import datetime as dt
import decimal
import inspect
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.cache.keys import (
    MAX_BUILT_KEY_LENGTH,
    MAX_KEY_LENGTH,
    function_key,
    key_builder,
    validate_key,
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.binary(max_size=20),
    st.datetimes(),
    st.dates(),
    st.decimals(allow_nan=False),
    st.uuids(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
        st.frozensets(st.integers(), max_size=4),
    ),
    max_leaves=12,
)


def target(a: Any, b: Any = 3, *rest: Any, c: Any = None, **extra: Any) -> None:
    """A function with every kind of parameter."""


SIG = inspect.signature(target)


class TestValidateKey:
    def test_accepts_strings_and_ints(self) -> None:
        """A str is kept; an int becomes its decimal text."""
        assert validate_key("user:1") == "user:1"
        assert validate_key(42) == "42"

    @pytest.mark.parametrize("bad", [None, 1.5, True, b"k", ("a",), object()])
    def test_rejects_other_types_naming_the_argument(self, bad: object) -> None:
        """Unsupported key types raise TypeError that names the argument."""
        with pytest.raises(TypeError, match=r"^key must be a str or an int"):
            validate_key(bad)

    def test_rejects_empty_too_long_and_non_utf8(self) -> None:
        """Empty, over-long and unencodable keys raise ValueError naming the argument."""
        with pytest.raises(ValueError, match="key must not be empty"):
            validate_key("")
        with pytest.raises(ValueError, match=f"key is {MAX_KEY_LENGTH + 1} characters long"):
            validate_key("k" * (MAX_KEY_LENGTH + 1))
        with pytest.raises(ValueError, match="not valid UTF-8"):
            validate_key("bad\udc80")
        with pytest.raises(ValueError, match=r"^keys\[3\]"):
            validate_key("", "keys[3]")


class TestFunctionKey:
    @settings(deadline=None)  # the machine is shared and loaded
    @given(values, values)
    def test_keyword_order_and_defaults_do_not_matter(self, a: Any, c: Any) -> None:
        """Passing by position, by keyword, in any order, or leaving a default out: one key."""
        k1 = function_key("f", SIG, (a,), {"c": c})
        k2 = function_key("f", SIG, (), {"c": c, "a": a, "b": 3})
        k3 = function_key("f", SIG, (a, 3), {"c": c})
        assert k1 == k2 == k3
        assert len(k1) <= MAX_BUILT_KEY_LENGTH + 70
        assert validate_key(k1) == k1

    @settings(deadline=None)  # the machine is shared and loaded
    @given(values, values)
    def test_different_arguments_give_different_keys(self, a: Any, b: Any) -> None:
        """Equal keys only for equal arguments; equal arguments of one type share a key."""
        ka = function_key("f", SIG, (a,), {})
        kb = function_key("f", SIG, (b,), {})
        if ka == kb:
            assert a == b
        exact = (str, int, bytes, bool, type(None), uuid.UUID, dt.date)
        if type(a) is type(b) and a == b and type(a) in exact:
            assert ka == kb

    def test_kinds_are_kept_apart(self) -> None:
        """1, 1.0, True and '1' are different keys; extra keywords are sorted."""
        keys = {function_key("f", SIG, (v,), {}) for v in (1, 1.0, True, "1")}
        assert len(keys) == 4
        assert function_key("f", SIG, (1,), {"x": 1, "y": 2}) == function_key(
            "f", SIG, (1,), {"y": 2, "x": 1}
        )

    def test_rich_types_are_supported(self) -> None:
        """datetime, date, Decimal, UUID, bytes and sets make stable keys."""
        args = (dt.datetime(2024, 1, 2), dt.date(2024, 1, 2), decimal.Decimal("1.10"))
        assert function_key("f", SIG, args, {"c": {3, 1, 2}}) == function_key(
            "f", SIG, args, {"c": {1, 2, 3}}
        )
        u = uuid.uuid4()
        assert str(u) in function_key("f", SIG, (u,), {})

    def test_self_is_skipped_when_asked(self) -> None:
        """skip_first leaves the instance out of the key."""
        assert function_key("f", SIG, (object(), 2), {}, skip_first=True) == function_key(
            "f", SIG, (None, 2), {}, skip_first=True
        )

    def test_long_keys_are_hashed(self) -> None:
        """A long key keeps its name and ends in a SHA-256 of the arguments."""
        key = function_key("mod.fn", SIG, ("x" * 5000,), {})
        assert key.startswith("mod.fn:#") and len(key) == len("mod.fn:#") + 64
        assert key != function_key("mod.fn", SIG, ("x" * 5001,), {})

    def test_unsupported_argument_names_the_parameter(self) -> None:
        """An argument that cannot be part of a key raises TypeError naming it."""
        with pytest.raises(TypeError, match="argument 'c' of f has type object"):
            function_key("f", SIG, (1,), {"c": object()})


def plain(a: Any, b: Any = 2, c: Any = "x") -> None:
    """Only positional-or-keyword parameters: the fast key path applies."""


PLAIN = inspect.signature(plain)
simple = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=150))


@settings(deadline=None)  # the machine is shared and loaded
@given(st.lists(simple, min_size=1, max_size=3), st.booleans())
def test_fast_key_path_matches_the_general_one(args: list[Any], skip: bool) -> None:
    """key_builder gives exactly function_key's text, whichever path it takes."""
    build = key_builder("mod.plain", PLAIN, skip_first=skip)
    assert build(tuple(args), {}) == function_key("mod.plain", PLAIN, tuple(args), {}, skip)
    assert build((args[0],), {"c": 1.5}) == function_key(
        "mod.plain", PLAIN, (args[0],), {"c": 1.5}, skip
    )
