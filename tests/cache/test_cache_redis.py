"""CacheManager and @cached against the real Redis (namespaced per test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from perfkit.cache import CacheManager, cached
from perfkit.errors import CacheBackendError
from perfkit.testing import FakeClock

pytestmark = pytest.mark.services


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def namespace(raw: redis.Redis) -> Iterator[str]:
    ns = f"test-{uuid.uuid4().hex}"
    yield ns
    for name in raw.scan_iter(f"{ns}:*"):
        raw.unlink(name)


@pytest.fixture
def cache(redis_url: str, namespace: str) -> Iterator[CacheManager]:
    with CacheManager(backend="redis", redis_url=redis_url, namespace=namespace) as c:
        yield c


def test_values_live_in_redis_under_the_namespace(
    cache: CacheManager, raw: redis.Redis, namespace: str
) -> None:
    """set() writes a serialised value with its TTL under <namespace>:cache:."""
    cache.set("user:1", {"name": "ada", "tags": {"x"}}, ttl=30)
    assert raw.exists(f"{namespace}:cache:user:1")
    assert 0 < raw.pttl(f"{namespace}:cache:user:1") <= 30_000
    assert cache.get("user:1") == {"name": "ada", "tags": {"x"}}
    assert cache.exists("user:1") and cache.get_stats()["cache_type"] == "redis"
    got = cache.get("user:1")
    got["name"] = "changed"
    assert cache.get("user:1")["name"] == "ada"


def test_clear_removes_only_this_namespace(
    redis_url: str, cache: CacheManager, raw: redis.Redis, namespace: str
) -> None:
    """clear() unlinks this cache's keys; another namespace and other keys stay."""
    other_ns = namespace + "-other"
    with CacheManager(backend="redis", redis_url=redis_url, namespace=other_ns) as other:
        cache.set_many({f"k{i}": i for i in range(1200)})
        other.set("keep", 1)
        raw.set(f"{namespace}:not-cache", 1)
        assert cache.get_stats()["total_keys"] == 1200
        assert cache.clear() == 1200
        assert cache.get_stats()["total_keys"] == 0
        assert other.get("keep") == 1 and raw.get(f"{namespace}:not-cache") == b"1"
        other.clear()


def test_get_many_is_one_round_trip(cache: CacheManager, monkeypatch: Any) -> None:
    """get_many of 100 keys sends one MGET; set_many one pipeline."""
    assert cache.redis is not None
    client = cache.redis.client
    commands: list[str] = []
    original = client.execute_command

    def counting(*args: Any, **kwargs: Any) -> Any:
        commands.append(str(args[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", counting)
    cache.set_many({f"k{i}": i for i in range(100)})
    found = cache.get_many([f"k{i}" for i in range(100)] + ["missing"])
    assert found == {f"k{i}": i for i in range(100)}
    assert commands == ["MGET"]
    stats = cache.get_stats()
    assert (stats["hits"], stats["misses"], stats["sets"]) == (100, 1, 100)


def test_planted_pickle_is_refused(redis_url: str, raw: redis.Redis, namespace: str) -> None:
    """A value planted in Redis without our signature is a miss, never unpickled."""
    import pickle

    with CacheManager(
        backend="redis",
        redis_url=redis_url,
        namespace=namespace,
        serializer="pickle",
        signing_key="k" * 32,
    ) as cache:
        cache.set("ok", range(2))
        assert cache.get("ok") == range(2)
        raw.set(f"{namespace}:cache:evil", pickle.dumps(["planted"]))
        assert cache.get("evil", "refused") == "refused"
        assert cache.get_stats()["errors"] == 1


def test_redis_metrics_and_pool(cache: CacheManager) -> None:
    """The component reports pool connections with state labels."""
    cache.set("a", 1)
    families = {f.name: f for f in cache.collect()}
    pool = families["app_redis_connections"]
    states = {s.labels["state"]: s.value for s in pool.samples}
    assert set(states) == {"in_use", "idle"} and states["idle"] >= 1


def test_redis_mode_raises_backend_errors_but_cached_still_computes(namespace: str) -> None:
    """backend='redis' with Redis down: CacheBackendError from the API, @cached just computes."""

    dead = CacheManager(backend="redis", redis_url="redis://127.0.0.1:1/0", namespace=namespace)
    with dead, pytest.raises(CacheBackendError, match="Redis GET failed"):
        dead.get("a")

    @cached(cache=dead)
    def f() -> int:
        return 5

    with dead:
        assert f() == 5 and dead.get_stats()["errors"] >= 2


def test_cached_with_redis_across_ttl(cache: CacheManager) -> None:
    """@cached on a Redis cache stores once and reads back."""
    runs = []

    @cached(cache=cache, ttl=30)
    def f(x: int) -> list[int]:
        runs.append(x)
        return [x]

    assert f(1) == f(1) == [1] and runs == [1]
    assert f.clear_cache() == 1 and f(1) == [1] and runs == [1, 1]


def test_auto_without_url_is_memory() -> None:
    """auto with no redis_url is the embedded memory cache."""
    cache = CacheManager(backend="auto", clock=FakeClock())
    cache.set("a", 1)
    assert cache.get_stats()["cache_type"] == "memory" and cache.get("a") == 1


def test_stampede_through_redis_threads_and_tasks(cache: CacheManager) -> None:
    """With Redis as the backend, 32 threads and then 32 tasks each compute once."""
    import asyncio
    import threading
    import time

    release = threading.Event()
    runs: list[str] = []

    @cached(cache=cache, ttl=30)
    def slow(x: int) -> dict[str, int]:
        runs.append("thread")
        release.wait(30)
        return {"x": x}

    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(slow(1))) for _ in range(32)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while cache.get_stats()["misses"] < 32 and time.monotonic() < deadline:
        time.sleep(0.002)
    release.set()
    for t in threads:
        t.join(30)
    assert runs == ["thread"] and results == [{"x": 1}] * 32

    async def main() -> list[Any]:
        gate = asyncio.Event()

        @cached(cache=cache, ttl=30)
        async def aslow(x: int) -> int:
            runs.append("task")
            await gate.wait()
            return x

        tasks = [asyncio.create_task(aslow(2)) for _ in range(32)]
        end = time.monotonic() + 30
        while cache.get_stats()["misses"] < 64 and time.monotonic() < end:
            await asyncio.sleep(0.001)
        gate.set()
        return await asyncio.gather(*tasks)

    assert asyncio.run(main()) == [2] * 32
    assert runs == ["thread", "task"]


def test_stale_refresh_is_one_process_through_redis(
    redis_url: str, raw: redis.Redis, namespace: str
) -> None:
    """While another process holds the refresh lock, a stale value is served, not recomputed."""
    clock = FakeClock()
    runs: list[int] = []
    with CacheManager(
        backend="redis", redis_url=redis_url, namespace=namespace, clock=clock
    ) as cache:

        @cached(cache=cache, ttl=30, stale_ttl=60, key_prefix="rates")
        def rates() -> list[int]:
            runs.append(1)
            return [len(runs)]

        assert rates() == [1]
        clock.advance(31)
        lock_name = cache.lock_name(rates.cache_key())
        raw.set(lock_name, "another-process", px=30_000)
        assert rates() == [1] and len(runs) == 1  # stale; the other process refreshes
        raw.delete(lock_name)
        assert rates() == [2] and len(runs) == 2  # this caller refreshed
        assert rates() == [2] and raw.get(lock_name) is None
