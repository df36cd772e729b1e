"""@cached on functions, coroutines and methods; single flight in one process."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from perfkit.cache import CacheManager, cached
from perfkit.config import PerfkitSettings
from perfkit.kit import Perfkit, set_default_kit
from perfkit.testing import FakeClock


@pytest.fixture
def cache() -> CacheManager:
    return CacheManager(backend="memory", clock=FakeClock())


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll `condition` with a deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.002)


class TestFunctions:
    def test_caches_by_normalised_arguments(self, cache: CacheManager) -> None:
        """Positional, keyword and default-filled calls share one entry."""
        calls: list[Any] = []

        @cached(ttl=60, cache=cache)
        def add(a: int, b: int = 2) -> int:
            calls.append((a, b))
            return a + b

        assert add(1) == add(1, 2) == add(b=2, a=1) == 3
        assert add(2) == 4
        assert calls == [(1, 2), (2, 2)]
        assert add.__wrapped__.__name__ == "add" and add.__name__ == "add"

    def test_bare_decorator_and_default_kit(self) -> None:
        """@cached without arguments uses the default kit's cache."""
        kit = Perfkit(PerfkitSettings(cache_backend="memory"))
        set_default_kit(kit)
        try:
            calls = []

            @cached
            def square(x: int) -> int:
                calls.append(x)
                return x * x

            assert square(3) == square(3) == 9 and calls == [3]
            assert kit.cache.get_stats()["hits"] == 1
        finally:
            set_default_kit(None)

    def test_invalidate_and_clear_cache(self, cache: CacheManager) -> None:
        """invalidate() forgets one call; clear_cache() forgets this function only."""
        calls = []

        @cached(cache=cache, key_prefix="user")
        def user(uid: int) -> dict[str, int]:
            calls.append(uid)
            return {"id": uid}

        cache.set("other", 1)
        user(1), user(2)
        assert user.cache_key(1).startswith("user:")
        assert user.invalidate(1) is True
        user(1), user(2)
        assert calls == [1, 2, 1]
        assert user.clear_cache() == 2
        user(2)
        assert calls == [1, 2, 1, 2] and cache.get("other") == 1

    def test_failures_are_not_cached_and_none_by_choice(self, cache: CacheManager) -> None:
        """An exception is raised each time; None is cached only with cache_none."""
        runs = {"boom": 0, "none": 0, "kept": 0}

        @cached(cache=cache)
        def boom() -> int:
            runs["boom"] += 1
            raise RuntimeError("no")

        @cached(cache=cache)
        def none() -> None:
            runs["none"] += 1

        @cached(cache=cache, cache_none=True)
        def kept() -> None:
            runs["kept"] += 1

        for _ in range(2):
            with pytest.raises(RuntimeError):
                boom()
            none()
            kept()
        assert runs == {"boom": 2, "none": 2, "kept": 1}

    def test_unless_key_function_and_copies(self, cache: CacheManager) -> None:
        """unless() bypasses; key= builds the key; each caller gets its own copy."""
        bypass = {"on": False}
        calls = []

        @cached(cache=cache, key=lambda user, **_: f"u{user['id']}", unless=lambda: bypass["on"])
        def profile(user: dict[str, int], verbose: bool = False) -> list[int]:
            calls.append(user["id"])
            return [user["id"]]

        first = profile({"id": 1})
        first.append(99)
        assert profile({"id": 1}) == [1]
        bypass["on"] = True
        profile({"id": 1})
        assert calls == [1, 1]
        assert profile.cache_key({"id": 1}).endswith(":u1")

    def test_bad_arguments_name_themselves(self, cache: CacheManager) -> None:
        """Bad decorator arguments and unkeyable call arguments raise naming them."""
        with pytest.raises(ValueError, match=r"^ttl must be >= 0"):
            cached(ttl=-1)
        with pytest.raises(ValueError, match=r"^key_prefix must not be empty"):
            cached(key_prefix="")
        with pytest.raises(TypeError, match=r"^cache must be a CacheManager"):
            cached(cache="redis")  # type: ignore[arg-type]

        @cached(cache=cache)
        def f(conn: object) -> int:
            return 1

        with pytest.raises(TypeError, match=r"argument 'conn' of .*f has type object"):
            f(object())

    def test_unserialisable_result_is_a_type_error(self, cache: CacheManager) -> None:
        """A result the serializer cannot store is a TypeError, not a silent miss."""

        @cached(cache=cache)
        def f() -> object:
            return object()

        with pytest.raises(TypeError, match="json serializer"):
            f()


class Repo:
    def __init__(self) -> None:
        self.calls = 0

    @cached(ttl=60, key_prefix="repo.get")
    def get(self, item: int) -> list[int]:
        self.calls += 1
        return [item]

    @classmethod
    @cached(key_prefix="repo.kind")
    def kind(cls, name: str) -> str:
        return f"{cls.__name__}:{name}"

    @cached(key_prefix="repo.fetch")
    async def fetch(self, item: int) -> int:
        self.calls += 1
        await asyncio.sleep(0)
        return item * 10


@pytest.fixture
def kit_cache() -> Iterator[CacheManager]:
    kit = Perfkit(PerfkitSettings(cache_backend="memory"))
    set_default_kit(kit)
    yield kit.cache
    set_default_kit(None)


class TestMethods:
    def test_self_is_left_out_of_the_key(self, kit_cache: CacheManager) -> None:
        """Two instances share entries; invalidate takes the arguments without self."""
        a, b = Repo(), Repo()
        assert a.get(1) == b.get(1) == [1]
        assert a.calls + b.calls == 1
        assert a.get.invalidate(1) is True
        b.get(1)
        assert b.calls == 1
        assert Repo.kind("x") == "Repo:x" and kit_cache.exists(Repo.kind.cache_key("x"))

    def test_async_method(self, kit_cache: CacheManager) -> None:
        """Coroutine methods are cached the same way."""
        repo = Repo()

        async def main() -> list[int]:
            return [await repo.fetch(2), await repo.fetch(item=2)]

        assert asyncio.run(main()) == [20, 20] and repo.calls == 1


def test_32_threads_missing_one_key_run_the_function_once(cache: CacheManager) -> None:
    """A stampede of 32 threads computes once; every thread gets an equal, separate copy."""
    release = threading.Event()
    runs = []

    @cached(cache=cache)
    def slow(x: int) -> dict[str, int]:
        runs.append(x)
        release.wait(30)
        return {"x": x}

    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(slow(7))) for _ in range(32)]
    for t in threads:
        t.start()
    wait_until(lambda: cache.get_stats()["misses"] == 32)
    release.set()
    for t in threads:
        t.join(30)
    assert runs == [7]
    assert results == [{"x": 7}] * 32
    assert len({id(r) for r in results}) == 32


def test_32_tasks_missing_one_key_run_the_coroutine_once(cache: CacheManager) -> None:
    """A stampede of 32 asyncio tasks computes once; a failure reaches every waiter."""
    runs = []

    async def main() -> list[Any]:
        release = asyncio.Event()

        @cached(cache=cache)
        async def slow(x: int) -> int:
            runs.append(x)
            await release.wait()
            return x + 1

        tasks = [asyncio.create_task(slow(1)) for _ in range(32)]
        deadline = time.monotonic() + 20
        while cache.get_stats()["misses"] < 32 and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        release.set()
        return await asyncio.gather(*tasks)

    assert asyncio.run(main()) == [2] * 32
    assert runs == [1]

    async def failing() -> list[Any]:
        gate = asyncio.Event()

        @cached(cache=cache)
        async def bad() -> int:
            runs.append("bad")
            await gate.wait()
            raise ValueError("nope")

        tasks = [asyncio.create_task(bad()) for _ in range(8)]
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    outcomes = asyncio.run(failing())
    assert all(isinstance(o, ValueError) for o in outcomes)
    assert runs.count("bad") == 1


def test_stale_value_is_served_while_one_caller_refreshes() -> None:
    """Past its ttl, within stale_ttl, one caller recomputes and the others get the old value."""
    clock = FakeClock()
    cache = CacheManager(backend="memory", clock=clock)
    gate, started = threading.Event(), threading.Event()
    versions = iter(range(1, 100))
    blocking = {"on": False}

    @cached(cache=cache, ttl=10, stale_ttl=60)
    def report(day: str) -> dict[str, int]:
        if blocking["on"]:
            started.set()
            gate.wait(30)
        return {"version": next(versions)}

    assert report("mon") == {"version": 1}
    clock.advance(11)
    blocking["on"] = True
    refreshed: list[Any] = []
    refresher = threading.Thread(target=lambda: refreshed.append(report("mon")))
    refresher.start()
    assert started.wait(30)
    assert report("mon") == {"version": 1}  # stale, at once, while the refresh runs
    gate.set()
    refresher.join(30)
    assert refreshed == [{"version": 2}]
    blocking["on"] = False
    assert report("mon") == {"version": 2}
    clock.advance(71)  # past ttl + stale_ttl: gone, computed again
    assert report("mon") == {"version": 3}
    with pytest.raises(ValueError, match=r"^stale_ttl must be >= 0"):
        cached(stale_ttl=-1)


def test_stale_async() -> None:
    """The async wrapper refreshes a stale entry the same way."""
    clock = FakeClock()
    cache = CacheManager(backend="memory", clock=clock)
    counter = {"n": 0}

    @cached(cache=cache, ttl=5, stale_ttl=5)
    async def value() -> int:
        counter["n"] += 1
        return counter["n"]

    async def main() -> list[int]:
        first = await value()
        clock.advance(6)
        second = await value()  # this caller refreshes
        third = await value()
        return [first, second, third]

    assert asyncio.run(main()) == [1, 2, 2]
