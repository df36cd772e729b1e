"""CacheManager with the memory backend: API, TTLs, copies, stats, bad input, kit component."""

from __future__ import annotations

import threading
import types
from typing import Any

import pytest

import perfkit.cache
from perfkit.cache import CacheManager
from perfkit.config import PerfkitSettings
from perfkit.errors import ConfigError
from perfkit.kit import Perfkit
from perfkit.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock: FakeClock) -> CacheManager:
    return CacheManager(backend="memory", default_ttl=60, maxsize=100, clock=clock)


def test_exported_members() -> None:
    """perfkit.cache exports exactly its public names."""
    public = {
        n
        for n, v in vars(perfkit.cache).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert set(perfkit.cache.__all__) == public - {"annotations"}


class TestBasics:
    def test_set_get_delete_exists(self, cache: CacheManager) -> None:
        """The basic operations do what they say; None is a value, default covers misses."""
        assert cache.get("a") is None and cache.get("a", "dflt") == "dflt"
        cache.set("a", {"x": 1})
        cache.set("n", None)
        assert cache.get("a") == {"x": 1} and cache.exists("a")
        assert cache.get("n", "dflt") is None
        assert cache.delete("a") is True and cache.delete("a") is False
        assert not cache.exists("a")

    def test_ttl_default_per_key_and_forever(self, cache: CacheManager, clock: FakeClock) -> None:
        """Keys expire after their own TTL, the default TTL, or never with ttl=0."""
        cache.set("short", 1, ttl=5)
        cache.set("default", 2)
        cache.set("forever", 3, ttl=0)
        clock.advance(5.01)
        assert cache.get("short") is None and cache.get("default") == 2
        clock.advance(60)
        assert cache.get("default") is None and cache.get("forever") == 3

    def test_lru_bound(self, clock: FakeClock) -> None:
        """Beyond maxsize the least recently used key goes first."""
        cache = CacheManager(backend="memory", maxsize=3, clock=clock)
        for k in "abc":
            cache.set(k, k)
        cache.get("a")
        cache.set("d", "d")
        assert [cache.exists(k) for k in "abcd"] == [True, False, True, True]

    def test_values_are_copies(self, cache: CacheManager) -> None:
        """Mutating a value after set or after get never changes what the cache holds."""
        value: dict[str, Any] = {"items": [1]}
        cache.set("k", value)
        value["items"].append(2)
        got = cache.get("k")
        assert got == {"items": [1]}
        got["items"].append(3)
        assert cache.get("k") == {"items": [1]}

    def test_many(self, cache: CacheManager) -> None:
        """set_many/get_many store and return only the present keys, counting each."""
        cache.set_many({"a": 1, "b": [2], 7: "seven"}, ttl=10)
        assert cache.get_many(["a", "b", "zz", 7]) == {"a": 1, "b": [2], 7: "seven"}
        stats = cache.get_stats()
        assert (stats["hits"], stats["misses"], stats["sets"]) == (3, 1, 3)

    def test_clear_counts(self, cache: CacheManager) -> None:
        """clear() removes everything and returns how many keys went."""
        cache.set_many({"a": 1, "b": 2})
        assert cache.clear() == 2
        assert cache.get_stats()["total_keys"] == 0


class TestBadInput:
    def test_unserialisable_value_is_a_type_error_and_nothing_stays(
        self, cache: CacheManager
    ) -> None:
        """set() of what JSON cannot hold raises TypeError; set_many writes nothing then."""
        cache.set("k", "old")
        with pytest.raises(TypeError, match="json serializer"):
            cache.set("k", object())
        assert cache.get("k") == "old"
        with pytest.raises(TypeError, match="value for key 'b'"):
            cache.set_many({"a": 1, "b": object()})
        assert not cache.exists("a")

    @pytest.mark.parametrize("ttl", [-1, -0.5, float("nan"), float("inf")])
    def test_bad_ttl_names_ttl(self, cache: CacheManager, ttl: float) -> None:
        """A negative or non-finite TTL raises ValueError naming ttl."""
        with pytest.raises(ValueError, match=r"^ttl must be >= 0"):
            cache.set("k", 1, ttl=ttl)

    def test_bad_keys_name_the_key(self, cache: CacheManager) -> None:
        """Unsupported and too long keys raise naming the argument."""
        with pytest.raises(TypeError, match=r"^key must be a str or an int"):
            cache.get(("tuple",))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^key is 2000 characters long"):
            cache.set("k" * 2000, 1)
        with pytest.raises(TypeError, match=r"^keys\[1\]"):
            cache.get_many(["ok", 1.5])  # type: ignore[list-item]

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"backend": "disk"}, "^backend must be one of"),
            ({"default_ttl": -1}, "^default_ttl must be >= 0"),
            ({"maxsize": 0}, "^maxsize must be"),
            ({"namespace": " "}, "^namespace must be"),
            ({"backend": "redis", "redis_url": "http://x"}, "^redis_url 'http://x' is not valid"),
            ({"backend": "auto", "redis_url": "redis://h:port"}, "^redis_url 'redis://h:port'"),
            ({"serializer": "pickle"}, "signing_key"),
            ({"backend": "redis", "redis_config": {"sockettimeout": 1}}, "^redis_config has"),
        ],
    )
    def test_bad_constructor_arguments(self, kwargs: dict[str, Any], message: str) -> None:
        """Each bad argument raises ValueError naming it."""
        with pytest.raises(ValueError, match=message):
            CacheManager(**kwargs)


def test_stats_are_exact_under_concurrency(cache: CacheManager) -> None:
    """8 threads x 500 hits and misses: every one is counted."""
    cache.set("hit", 1)
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for _ in range(500):
            cache.get("hit")
            cache.get("miss")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = cache.get_stats()
    assert (stats["hits"], stats["misses"], stats["total_requests"]) == (4000, 4000, 8000)
    assert stats["hit_rate"] == 50.0 and stats["cache_type"] == "memory"


class TestKitComponent:
    def test_kit_builds_registers_and_exposes_the_cache(self) -> None:
        """kit.cache comes from the settings and feeds snapshot, metrics and alerts."""
        kit = Perfkit(PerfkitSettings(cache_backend="memory", cache_maxsize=5))
        assert kit.alert_metrics().get("cache.hit_rate") is None
        cache = kit.cache
        assert kit.cache is cache and kit.components["cache"] is cache
        assert kit.alert_metrics()["cache.hit_rate"] is None
        cache.set("a", 1)
        cache.get("a")
        cache.get("a")
        cache.get("b")
        assert kit.snapshot()["cache"]["hit_rate"] == 66.67
        assert kit.alert_metrics()["cache.hit_rate"] == 66.67
        body = kit.render_metrics()[1].decode()
        assert "app_cache_hits_total 2" in body and "app_cache_misses_total 1" in body
        kit.reset()
        assert cache.get_stats()["total_requests"] == 0 and cache.get("a") == 1

    def test_bad_serializer_setting_is_a_config_error(self) -> None:
        """A bad cache_serializer names the variables to fix."""
        kit = Perfkit(PerfkitSettings(cache_backend="memory", cache_serializer="yaml"))
        with pytest.raises(ConfigError, match="PERFKIT_CACHE_SERIALIZER"):
            _ = kit.cache

    def test_pickle_from_settings(self) -> None:
        """cache_serializer=pickle with a signing key caches any picklable value."""
        settings = PerfkitSettings(
            cache_backend="memory", cache_serializer="pickle", cache_signing_key="s" * 32
        )
        cache = Perfkit(settings).cache
        cache.set("r", range(3))
        assert cache.get("r") == range(3)


def test_snapshot_reuses_a_recent_key_count(cache: CacheManager, clock: FakeClock) -> None:
    """snapshot() counts keys at most every 5 s; get_stats() always counts."""
    cache.set("a", 1)
    assert cache.snapshot()["total_keys"] == 1
    cache.set("b", 2)
    assert cache.snapshot()["total_keys"] == 1
    assert cache.get_stats()["total_keys"] == 2
    cache.set("c", 3)
    clock.advance(5.1)
    assert cache.snapshot()["total_keys"] == 3
