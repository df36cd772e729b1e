"""The limiter's direct storage calls agree with the `limits` strategies they replace."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.guards import Guards, RateLimiter, parse_rate_limits
from perfkit.guards.limiter import STRATEGIES
from perfkit.guards.responses import ratelimit_headers, raw_ratelimit_headers

strategies = pytest.importorskip("limits.strategies")

APPS_DIR = Path(__file__).resolve().parents[1] / "apps"
if str(APPS_DIR) not in sys.path:
    sys.path.insert(0, str(APPS_DIR))

import perfkit_sample_http as client  # noqa: E402

LIBRARY = {
    "moving-window": strategies.MovingWindowRateLimiter,
    "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter,
    "fixed-window": strategies.FixedWindowRateLimiter,
}


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A Redis key namespace of this test, deleted afterwards."""
    import redis

    name = f"perfkit-test-guards-{uuid.uuid4().hex}"
    yield name
    conn = redis.Redis.from_url(redis_url)
    try:
        keys = list(conn.scan_iter(match=name + "*", count=1000))
        if keys:
            conn.delete(*keys)
    finally:
        conn.close()


def storages(limiter: RateLimiter) -> Any:
    """The `limits` storage the limiter counts in now."""
    if limiter.storage == "redis":
        return limiter._redis_storage
    for value in vars(limiter._memory).values():
        owner = getattr(value, "__self__", None)
        if owner is not None:
            return owner
    raise AssertionError("no storage found")


@settings(max_examples=80, deadline=None)
@given(
    st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s),
    st.text(min_size=0, max_size=60),
    st.sampled_from(["5/second", "100/minute", "3/10 minutes;50/day"]),
)
def test_prepared_keys_are_the_librarys_own(scope: str, client: str, text: str) -> None:
    """`Rule` builds, for any scope and client, exactly `RateLimitItem.key_for(scope|client)`."""
    limiter = RateLimiter()
    specs = parse_rate_limits(text)
    rule = limiter.rule(specs, scope)
    assert rule is limiter.rule(specs, scope)  # prepared once
    for index, spec in enumerate(specs):
        assert rule.key(index, client) == limiter.item(spec).key_for(scope + "|" + client)


def check_against_library(limiter: RateLimiter, strategy: str) -> None:
    """Hits through the limiter; after each one the library's own strategy, reading the
    same storage and key, reports the same remaining count and reset."""
    spec = parse_rate_limits("4/minute")[0]
    item = limiter.item(spec)
    library = LIBRARY[strategy](storages(limiter))
    client = f"ip:198.51.100.{uuid.uuid4().int % 250}"
    for n in range(1, 5):
        decision = limiter.hit((spec,), "*", client, True)
        stats = library.get_window_stats(item, "*|" + client)
        assert decision.allowed
        assert (decision.limit, decision.window) == (4, 60)
        assert decision.remaining == stats.remaining == 4 - n
        expected = max(stats.reset_time - time.time(), 0.0)
        # equal within rounding; the sliding counter's reset is a TTL modulo the
        # window, which reads 0 or 60 at the exact multiple (see windows.sliding_figures)
        gap = abs(decision.reset - expected) % 60
        assert min(gap, 60 - gap) <= 1.5, (decision, expected)
        assert decision.reset == int(decision.reset)  # whole seconds, rounded up
    refused = limiter.hit((spec,), "*", client, True)
    assert not refused.allowed and refused.remaining == 0
    assert 1 <= RateLimiter.retry_after(refused) <= 60
    assert not library.test(item, "*|" + client)  # the library sees the limit reached too
    # without figures: the same counting, no figures computed on the allowed path
    other = client + "-b"
    assert limiter.hit((spec,), "*", other, False).limit == 0
    assert library.get_window_stats(item, "*|" + other).remaining == 3


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_memory_figures_match_the_library(strategy: str) -> None:
    limiter = RateLimiter(strategy)
    check_against_library(limiter, strategy)
    limiter.close()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_redis_figures_match_the_library(strategy: str, redis_url: str, namespace: str) -> None:
    limiter = RateLimiter(strategy, redis_url, namespace)
    try:
        check_against_library(limiter, strategy)
        assert limiter.storage == "redis"
    finally:
        limiter.close()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_redis_allowed_requests_take_one_round_trip_with_headers(
    strategy: str, redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hit and figures travel together: one command or one pipeline per allowed request."""
    import redis.client

    trips: list[str] = []
    command = redis.client.Redis.execute_command
    execute = redis.client.Pipeline.execute

    def counted_command(self: Any, *args: Any, **options: Any) -> Any:
        trips.append(str(args[0]))
        return command(self, *args, **options)

    def counted_execute(self: Any, *args: Any, **options: Any) -> Any:
        trips.append("pipeline")
        return execute(self, *args, **options)

    limiter = RateLimiter(strategy, redis_url, namespace)
    try:
        spec = parse_rate_limits("100/minute")
        limiter.hit(spec, "*", "ip:warm-up", True)  # scripts loaded on this server
        monkeypatch.setattr(redis.client.Redis, "execute_command", counted_command)
        monkeypatch.setattr(redis.client.Pipeline, "execute", counted_execute)
        for figures in (True, False):
            trips.clear()
            decision = limiter.hit(spec, "*", f"ip:{uuid.uuid4().hex}", figures)
            assert decision.allowed
            assert len(trips) == 1, trips
            assert decision.remaining == (99 if figures else 0)
    finally:
        limiter.close()


def test_several_limits_report_the_tightest_and_stop_at_the_first_refusal() -> None:
    limiter = RateLimiter()
    specs = parse_rate_limits("2/second;100/minute")
    first = limiter.hit(specs, "/x", "ip:a", True)
    assert (first.limit, first.remaining) == (2, 1)
    assert limiter.hit(specs, "/x", "ip:a", True).remaining == 0
    refused = limiter.hit(specs, "/x", "ip:a", True)
    assert (refused.allowed, refused.limit, refused.window) == (False, 2, 1)
    minute = limiter.item(specs[1])
    library = LIBRARY["moving-window"](storages(limiter))
    assert library.get_window_stats(minute, "/x|ip:a").remaining == 98  # not counted there
    limiter.close()


def test_header_fields_are_shared_but_equal_to_fresh_ones() -> None:
    limiter = RateLimiter()
    spec = parse_rate_limits("10/minute")
    a = limiter.hit(spec, "*", "ip:one", True)
    b = limiter.hit(spec, "*", "ip:two", True)
    assert a == b and a is b  # same figures: the same decision object
    fields = dict(ratelimit_headers(a))
    assert fields == {
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "9",
        "RateLimit-Reset": str(int(a.reset)),
        "RateLimit-Policy": "10;w=60",
    }
    raw = raw_ratelimit_headers(a)
    assert raw == [(k.lower().encode(), v.encode()) for k, v in ratelimit_headers(a)]
    limiter.close()


def test_client_keys_are_cached_per_peer_and_header_and_stay_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import perfkit.guards.policy as policy

    monkeypatch.setattr(policy, "MAX_CLIENT_CACHE", 8)
    guards = Guards("5/minute", trusted_proxies="10.0.0.1")
    assert guards.client_key(None, "10.0.0.1", "203.0.113.9") == "ip:203.0.113.9"
    assert guards.client_key(None, "192.0.2.7", "203.0.113.9") == "ip:192.0.2.7"  # untrusted
    assert guards.client_key(None, "10.0.0.1", "203.0.113.9") == "ip:203.0.113.9"  # cached
    for i in range(50):
        assert guards.client_key(None, f"192.0.2.{i}", None) == f"ip:192.0.2.{i}"
    assert len(guards._clients) <= 8


def test_memory_storage_sweeps_expired_entries_in_the_background() -> None:
    """The once-a-second sweep (a flag, not a timer check per hit) frees expired keys."""
    limiter = RateLimiter()
    storage = storages(limiter)
    limiter.hit(parse_rate_limits("3/second"), "*", "ip:gone", False)
    assert any(storage.events.values())
    client.poll(lambda: not any(storage.events.values()), "the sweep of expired entries")
    limiter.close()


def test_a_sweep_before_expiry_is_followed_by_another_without_new_hits() -> None:
    """A 2-second window outlives the first sweep (at 1 s): a later sweep still frees it."""
    limiter = RateLimiter()
    storage = storages(limiter)
    limiter.hit(parse_rate_limits("3 per 2 seconds"), "*", "ip:late", False)
    assert any(storage.events.values())
    # no further hits: only a rescheduled sweep can free the entry (was: kept forever)
    client.poll(lambda: not any(storage.events.values()), "a second sweep", timeout=20)
    limiter.close()
