"""Cache benchmarks: perfkit's cache beside cachetools, lru_cache, Flask-Caching, dogpile.cache.

Run: ``python tests/bench/bench_cache.py`` (``--quick`` for a smoke run).
Peers: ``pip install Flask-Caching dogpile.cache`` (the ``bench`` extra).
Redis rows use ``PERFKIT_TEST_REDIS_URL`` (default redis://127.0.0.1:6379/0)
and are skipped when it is unreachable.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import cachetools
from _common import (
    bench_args,
    interleave,
    load_now,
    machine_note,
    markdown_table,
    median,
)

from perfkit.cache import CacheManager, cached

REDIS_URL = os.environ.get("PERFKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def per_call(fn: Callable[[], Any], n: int) -> Callable[[], float]:
    """A batch of `n` calls; returns seconds per call."""

    def run() -> float:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - start) / n

    return run


def hit_variants(n: int) -> dict[str, Callable[[], float]]:
    """Cache hits: the raw store and every decorator, on a warm key."""
    from dogpile.cache import make_region
    from flask import Flask
    from flask_caching import Cache

    raw = cachetools.TTLCache(10_000, 300)
    raw["user:1"] = "ada"
    manager = CacheManager(backend="memory")
    manager.set("user:1", "ada")

    @cached(ttl=300, cache=manager)
    def pk(x: int) -> int:
        return x

    @cachetools.cached(cachetools.TTLCache(10_000, 300), lock=threading.Lock())
    def ct(x: int) -> int:
        return x

    @functools.lru_cache(maxsize=10_000)
    def lru(x: int) -> int:
        return x

    flask_cache = Cache(Flask("bench"), config={"CACHE_TYPE": "SimpleCache"})

    @flask_cache.memoize(300)
    def fc(x: int) -> int:
        return x

    region = make_region().configure("dogpile.cache.memory", expiration_time=300)

    @region.cache_on_arguments()
    def dp(x: int) -> int:
        return x

    for f in (pk, ct, lru, fc, dp):
        f(1)
    return {
        "TTLCache.get (raw)": per_call(lambda: raw.get("user:1"), n),
        "CacheManager.get (memory)": per_call(lambda: manager.get("user:1"), n),
        "@perfkit.cached": per_call(lambda: pk(1), n),
        "@cachetools.cached": per_call(lambda: ct(1), n),
        "@functools.lru_cache": per_call(lambda: lru(1), n),
        "@flask_caching.memoize": per_call(lambda: fc(1), n),
        "@dogpile cache_on_arguments": per_call(lambda: dp(1), n),
    }


def _slow_function(runs: list[int], duration: float) -> Callable[[int], int]:
    """A function taking `duration` seconds that records each execution in `runs`."""
    lock = threading.Lock()

    def slow(x: int) -> int:
        with lock:
            runs.append(x)
        time.sleep(duration)  # the expensive function being protected
        return x

    return slow


def stampede_counts(threads: int = 32, duration: float = 0.05) -> dict[str, int]:
    """How many times each library runs a 50 ms function when 32 threads miss one key."""
    from dogpile.cache import make_region
    from flask import Flask
    from flask_caching import Cache

    def decorate_all() -> dict[str, Callable[[Callable[[int], int]], Callable[[int], int]]]:
        flask_cache = Cache(Flask("stampede"), config={"CACHE_TYPE": "SimpleCache"})
        region = make_region().configure("dogpile.cache.memory", expiration_time=300)
        condition = threading.Condition()
        return {
            "perfkit @cached": cached(ttl=300, cache=CacheManager(backend="memory")),
            "cachetools.cached(lock)": cachetools.cached(
                cachetools.TTLCache(100, 300), lock=threading.Lock()
            ),
            "cachetools.cached(condition)": cachetools.cached(
                cachetools.TTLCache(100, 300), lock=condition, condition=condition
            ),
            "functools.lru_cache": functools.lru_cache(maxsize=100),
            "flask_caching.memoize": flask_cache.memoize(300),
            "dogpile.cache": region.cache_on_arguments(),
        }

    counts: dict[str, int] = {}
    for name, decorator in decorate_all().items():
        runs: list[int] = []
        wrapped = decorator(_slow_function(runs, duration))
        barrier = threading.Barrier(threads)

        def call(wrapped: Callable[[int], int] = wrapped, b: threading.Barrier = barrier) -> None:
            b.wait()
            wrapped(1)

        workers = [threading.Thread(target=call) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        counts[name] = len(runs)
    return counts


def redis_rows(rounds: int, keys: int = 100) -> list[list[str]] | None:
    """get_many of 100 keys vs 100 single GETs through the same cache (one vs 100 round trips)."""
    import redis

    probe = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        probe.ping()
    except redis.RedisError:
        return None
    namespace = f"bench-{uuid.uuid4().hex}"
    cache = CacheManager(backend="redis", redis_url=REDIS_URL, namespace=namespace)
    names = [f"k{i}" for i in range(keys)]
    cache.set_many({n: {"id": i} for i, n in enumerate(names)})
    assert cache.redis is not None
    client = cache.redis.client
    sent: list[int] = [0]
    original = client.execute_command

    def counting(*args: Any, **kwargs: Any) -> Any:
        sent[0] += 1
        return original(*args, **kwargs)

    client.execute_command = counting

    def many() -> float:
        start = time.perf_counter()
        cache.get_many(names)
        return time.perf_counter() - start

    def singles() -> float:
        start = time.perf_counter()
        for n in names:
            cache.get(n)
        return time.perf_counter() - start

    try:
        sent[0] = 0
        many()
        many_cmds = sent[0]
        sent[0] = 0
        singles()
        single_cmds = sent[0]
        samples = interleave({"get_many": many, "100 x get": singles}, rounds)
    finally:
        client.execute_command = original
        cache.clear()
        cache.close()
        probe.close()
    m, s = median(samples["get_many"]), median(samples["100 x get"])
    return [
        ["get_many(100 keys)", f"{m * 1e3:.3f}", str(many_cmds), f"{s / m:.1f}x faster"],
        ["100 x get(key)", f"{s * 1e3:.3f}", str(single_cmds), "—"],
    ]


def main() -> None:
    args = bench_args("perfkit cache benchmarks", "tiny smoke run (a few seconds)")
    rounds = args.rounds or (3 if args.quick else 15)
    n = args.requests or (2_000 if args.quick else 20_000)
    print(f"<!-- {machine_note()} -->\n")

    samples = interleave(hit_variants(n), rounds, seed=args.seed)
    med = {name: median(v) for name, v in samples.items()}
    base = med["TTLCache.get (raw)"]
    rows = [[name, f"{t * 1e9:.0f}", f"{t / base:.2f}"] for name, t in med.items()]
    print(f"### Hits ({rounds} interleaved rounds of {n} calls, medians)\n")
    print(markdown_table(["variant", "ns/call", "x raw TTLCache.get"], rows))
    pk = med["@perfkit.cached"]
    goals = [
        ["memory hit <= 2x TTLCache.get", f"{med['CacheManager.get (memory)'] / base:.2f}x"],
        ["@cached faster than Flask-Caching", f"{pk / med['@flask_caching.memoize']:.2f}x"],
        ["@cached faster than dogpile", f"{pk / med['@dogpile cache_on_arguments']:.2f}x"],
    ]
    print("\n" + markdown_table(["goal", "perfkit / peer"], goals))

    stampede_rounds = 1 if args.quick else 3
    runs: dict[str, list[int]] = {}
    for _ in range(stampede_rounds):
        for name, count in stampede_counts().items():
            runs.setdefault(name, []).append(count)
    print(f"\n### 32 threads missing one key of a 50 ms function ({stampede_rounds} rounds)\n")
    rows = [[name, ", ".join(map(str, c)), str(max(c))] for name, c in runs.items()]
    print(markdown_table(["library", "executions per round", "worst"], rows))

    redis_table = redis_rows(rounds)
    if redis_table is None:
        print(f"\nRedis at {REDIS_URL} unreachable: get_many rows skipped.")
    else:
        print(f"\n### Redis: 100 keys ({rounds} interleaved rounds, medians)\n")
        headers = ["operation", "ms", "commands sent", "vs 100 GETs"]
        print(markdown_table(headers, redis_table))
    print(f"\n<!-- load average at the end: {load_now()} -->")


if __name__ == "__main__":
    main()
