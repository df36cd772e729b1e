"""Properties of the declared tables (hypothesis): every table survives every store's encoding
(the JSON state of the file store, real Redis, the host store's SQLite file), and merging
parts equals adding everything to one registry."""

from __future__ import annotations

import json
import math
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfkit import PerfkitSettings
from perfkit.metrics.record import RequestRecord
from perfkit.metrics.registry import Registry
from perfkit.metrics.state import from_state, merge_into, to_state
from perfkit.metrics.stores.host import HostStore
from perfkit.metrics.stores.redis import RedisStore
from perfkit.metrics.tables import SCALARS, TABLES
from perfkit.testing import FakeClock

NOW = 1_800_000_000.0
SETTINGS = PerfkitSettings(slow_request_threshold=0.5, slow_query_threshold=0.5)

requests = st.builds(
    RequestRecord,
    method=st.sampled_from(["GET", "POST", "BREW"]),
    route=st.sampled_from(["/a", "/b/{id}", None]),
    status=st.sampled_from([200, 201, 304, 404, 499, 500, 503]),
    duration=st.one_of(st.floats(0, 3, allow_nan=False), st.just(0.0), st.just(-1.0)),
    size=st.integers(0, 10_000),
    ttfb=st.one_of(st.none(), st.floats(0, 1)),
    user=st.sampled_from([None, "u1", "u2", "ü3"]),
    organization=st.sampled_from([None, "o1", "o 2"]),
    error_type=st.sampled_from([None, "ValueError", "KeyError"]),
    path=st.sampled_from(["/x/1", "/x/2", "/y"]),
    request_id=st.sampled_from([None, "r1"]),
    timestamp=st.floats(NOW - 7200, NOW),  # spread over minutes inside the retention
)
queries = st.tuples(
    st.sampled_from(["SELECT * FROM t WHERE id = 1", "INSERT INTO t VALUES (2)", "VACUUM"]),
    st.floats(0, 2, allow_nan=False),
    st.booleans(),
)
calls = st.tuples(st.sampled_from(["pay", "mail"]), st.floats(0, 2, allow_nan=False))
traffic = st.tuples(
    st.lists(requests, max_size=25), st.lists(queries, max_size=8), st.lists(calls, max_size=5)
)


def registry_with(records: list[RequestRecord], qs: Any, cs: Any) -> Registry:
    registry = Registry(SETTINGS, FakeClock(NOW))
    for record in records:
        registry.record_request(RequestRecord(**{f: getattr(record, f) for f in record.__slots__}))
    for sql, duration, error in qs:
        registry.record_query(sql, duration, error)
    for name, duration in cs:
        registry.record_call(name, duration)
    registry.drain()
    return registry


def flat(registry: Registry) -> dict[str, Any]:
    """Every table as its flat field map (the parts a store writes), plus the lists."""
    registry.drain()
    out: dict[str, Any] = {f.attr: getattr(registry, f.attr) for f in SCALARS}
    for declared in TABLES:
        table = getattr(registry, declared.name)
        if declared.layout == "recent":
            out[declared.name] = sorted(json.dumps(i, sort_keys=True, default=str) for i in table)
        else:
            out[declared.name] = {
                declared.key_text(k): {code: value for code, _, value in v.parts()}
                for k, v in table.items()
                if any(True for _ in v.parts())
            }
    return out


def assert_same(got: Any, expected: Any, where: str = "") -> None:
    """Equal, floats to 1e-9 relative (sums added in another order, Redis float text)."""
    if isinstance(expected, dict):
        assert set(got) == set(expected), where
        for key in expected:
            assert_same(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, float) or isinstance(got, float):
        assert math.isclose(float(got), float(expected), rel_tol=1e-9, abs_tol=1e-12), where
    else:
        assert got == expected, where


@given(traffic)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_table_round_trips_through_the_json_state(parts: Any) -> None:
    registry = registry_with(*parts)
    again = from_state(json.loads(json.dumps(to_state(registry))), SETTINGS, FakeClock(NOW))
    assert_same(flat(again), flat(registry))


@pytest.fixture
def client(redis_url: str) -> Iterator[Any]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@given(traffic)
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_table_round_trips_through_redis(client: Any, parts: Any) -> None:
    registry = registry_with(*parts)
    expected = flat(registry)
    store = RedisStore(registry, namespace=f"perfkit-test-{uuid.uuid4().hex[:10]}", client=client)
    try:
        assert store.flush(), store.last_error
        loaded, applied = store.load()
        assert applied == 1
        got = flat(loaded)
        got["started_at"] = expected["started_at"]  # a min over what was flushed: same here
        assert_same(got, expected)
    finally:
        store.clear()


@given(traffic)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_table_round_trips_through_the_host_file(parts: Any) -> None:
    registry = registry_with(*parts)
    expected = flat(registry)
    with tempfile.TemporaryDirectory() as directory:
        store = HostStore(registry, str(Path(directory) / "host.sqlite3"), clock=FakeClock(NOW))
        try:
            assert store.flush()
            got = flat(store.view())
        finally:
            store.db.close()
    assert_same(got, expected)


@given(st.lists(traffic, min_size=1, max_size=4))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_merging_parts_equals_adding_everything_to_one_registry(pieces: Any) -> None:
    whole = registry_with(
        [r for p in pieces for r in p[0]], [q for p in pieces for q in p[1]],
        [c for p in pieces for c in p[2]],
    )  # fmt: skip
    merged = Registry(SETTINGS, FakeClock(NOW))
    for piece in pieces:
        merge_into(merged, registry_with(*piece))
    got, expected = flat(merged), flat(whole)
    # the slow lists keep the newest entries of both sides: the same set when within bound
    assert_same(got, expected)


@given(st.lists(requests, min_size=1, max_size=40), st.integers(1, 4))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_capped_tables_keep_exact_totals_when_merged(records: list[RequestRecord], k: int) -> None:
    capped = PerfkitSettings(max_endpoints=2, max_users=1, max_organizations=1)
    whole = Registry(capped, FakeClock(NOW))
    merged = Registry(capped, FakeClock(NOW))
    for i in range(k):
        part = Registry(capped, FakeClock(NOW))
        for record in records[i::k]:
            part.record_request(RequestRecord(**{f: getattr(record, f) for f in record.__slots__}))
            whole.record_request(RequestRecord(**{f: getattr(record, f) for f in record.__slots__}))
        merge_into(merged, part)
    for registry in (whole, merged):
        registry.drain()
        assert len(registry.endpoints) <= 2 + 3  # the cap plus one overflow series per method
        assert len(registry.users) <= 2 and len(registry.organizations) <= 2
    assert sum(s.count for s in merged.endpoints.values()) == len(records)
    assert sum(s.count for s in whole.endpoints.values()) == len(records)
    assert sum(t.count for t in merged.users.values()) == sum(t.count for t in whole.users.values())
