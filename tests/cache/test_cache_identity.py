"""Cached functions never share entries by accident, and a signed value cannot be moved.

Memory and the real Redis (127.0.0.1:6379, a unique namespace) alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from perfkit.cache import CacheManager, cached


def make(factor: int, cache: CacheManager) -> Callable[[int], int]:
    @cached(ttl=60, cache=cache)
    def scaled(x: int) -> int:
        return x * factor

    return scaled


def _plain(x: int) -> int:
    return x


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[CacheManager]:
    if request.param == "memory":
        with CacheManager(backend="memory") as c:
            yield c
        return
    redis_url = request.getfixturevalue("redis_url")
    namespace = f"test-ident-{uuid.uuid4().hex}"
    with CacheManager(backend="redis", redis_url=redis_url, namespace=namespace) as c:
        yield c
        c.clear()


def test_functions_from_one_factory_do_not_share_a_cache(cache: CacheManager) -> None:
    """make(3)(10) is 30, not make(2)(10)'s cached 20."""
    double, triple = make(2, cache), make(3, cache)
    assert double(10) == 20
    assert triple(10) == 30
    assert double(10) == 20 and triple(10) == 30
    assert double.cache_key(10) != triple.cache_key(10)


def test_equal_captures_share_entries_and_keys_are_stable() -> None:
    """The identity depends on what was captured, not on the process: equal closures agree."""
    with CacheManager(backend="memory") as c:
        first, again = make(5, c), make(5, c)
        assert first.cache_key(1) == again.cache_key(1)
    from perfkit.cache.keys import function_identity

    # a plain function keeps the key it always had: module.qualname
    assert function_identity(_plain) == f"{__name__}._plain"


def test_uncomparable_captures_still_get_their_own_entries() -> None:
    """Closures over objects (no canonical form) are told apart by decoration."""
    with CacheManager(backend="memory") as c:

        def build(owner: object) -> Any:
            @cached(cache=c)
            def who(x: int) -> str:
                return f"{id(owner)}:{x}"

            return who

        a, b = object(), object()
        first, second = build(a), build(b)
        assert first(1) == f"{id(a)}:1" and second(1) == f"{id(b)}:1"


def test_lambdas_in_one_module_do_not_share() -> None:
    with CacheManager(backend="memory") as c:
        double = cached(cache=c)(lambda x: x * 2)
        triple = cached(cache=c)(lambda x: x * 3)
        assert double(4) == 8 and triple(4) == 12


@pytest.mark.services
def test_a_signed_pickle_moved_to_another_key_is_refused(redis_url: str) -> None:
    """Copying a signed value in Redis from one key to another does not make it valid there."""
    namespace = f"test-mac-{uuid.uuid4().hex}"
    raw = redis.Redis.from_url(redis_url)
    try:
        with CacheManager(
            backend="redis", redis_url=redis_url, namespace=namespace,
            serializer="pickle", signing_key="k" * 32,
        ) as cache:  # fmt: skip
            cache.set("role:alice", "user")
            cache.set("role:admin", "admin")
            names = {n.decode(): n for n in raw.scan_iter(f"{namespace}:*")}
            admin = next(n for t, n in names.items() if t.endswith("role:admin"))
            alice = next(n for t, n in names.items() if t.endswith("role:alice"))
            raw.set(alice, raw.get(admin))  # the attacker's move: a valid signature elsewhere
            assert cache.get("role:alice", "refused") == "refused"
            assert cache.get("role:admin") == "admin"
            cache.clear()
    finally:
        raw.close()


def test_the_mac_binds_key_and_namespace_in_memory_too() -> None:
    """The manager's encode/decode: bytes made for one key or namespace fail for another."""
    a = CacheManager(backend="memory", serializer="pickle", signing_key="k" * 32, namespace="a")
    b = CacheManager(backend="memory", serializer="pickle", signing_key="k" * 32, namespace="b")
    data = a.encode({"v": 1}, "one")
    assert a.decode("one", data) == {"v": 1}
    with pytest.raises(ValueError, match="signature"):
        a.decode("two", data)
    with pytest.raises(ValueError, match="signature"):
        b.decode("one", data)
