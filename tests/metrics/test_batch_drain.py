"""The batched drain equals adding records one by one: series, minutes, users, caps, slow list."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit import PerfkitSettings
from perfkit.metrics.record import RequestRecord
from perfkit.metrics.registry import Registry
from perfkit.testing import FakeClock

_START = 1_700_000_000.0

records = st.lists(
    st.builds(
        RequestRecord,
        method=st.sampled_from(["GET", "get", "POST", "BREW"]),
        route=st.sampled_from([None, None, "/named/{id}"]),
        status=st.sampled_from([200, 201, 404, 499, 500, 503]),
        duration=st.one_of(
            st.floats(0.0, 3.0),
            st.sampled_from([-1.0, math.nan, math.inf, 0.0, 1e-12]),
        ),
        size=st.integers(0, 10_000),
        ttfb=st.one_of(st.none(), st.floats(0.0, 1.0), st.just(math.nan)),
        user=st.sampled_from([None, "ann", "bob"]),
        organization=st.sampled_from([None, "acme"]),
        error_type=st.sampled_from([None, "ValueError"]),
        path=st.sampled_from(["/a", "/users/1", "/users/2", "/b/x", "/c", "/d"]),
        # up to three minutes apart, out of order: a batch straddles minutes
        timestamp=st.floats(_START, _START + 180.0),
    ),
    max_size=60,
)


def _registry() -> Registry:
    return Registry(
        PerfkitSettings(max_endpoints=4, max_users=1, slow_request_threshold=1.0),
        FakeClock(_START),
    )


def _view(registry: Registry) -> dict[str, object]:
    def duration_view(s: object) -> tuple[object, ...]:
        sketch = s.sketch  # type: ignore[attr-defined]
        return (
            sketch.count, sketch.zero_count, sketch.bins(), sketch.min, sketch.max,
            round(s.total, 9), s.errors, s.slow,  # type: ignore[attr-defined]
        )  # fmt: skip

    with registry.locked():
        return {
            "endpoints": {
                key: (
                    duration_view(s),
                    dict(s.statuses),
                    list(s.buckets),
                    s.client_errors,
                    s.bytes_sent,
                    round(s.ttfb_total, 9),
                    s.last_seen,
                )
                for key, s in registry.endpoints.items()
            },
            "minutes": {
                m: (duration_view(b), b.client_errors) for m, b in registry.request_minutes.items()
            },
            "users": {u: (t.count, t.errors) for u, t in registry.users.items()},
            "orgs": {o: (t.count, t.errors) for o, t in registry.organizations.items()},
            "errors": {e: c.n for e, c in registry.error_types.items()},
            "dropped": registry.dropped_endpoints,
            "slow": [(s["method"], s["endpoint"], s["path"]) for s in registry.slow_requests],
        }


@settings(max_examples=60, deadline=None)
@given(records)
def test_one_batch_equals_one_record_at_a_time(batch: list[RequestRecord]) -> None:
    together, alone = _registry(), _registry()
    for record in batch:
        together.record_request(_copy(record))
        alone.record_request(_copy(record))
        alone.drain()
    together.drain()
    assert _view(together) == _view(alone)


def _copy(record: RequestRecord) -> RequestRecord:
    return RequestRecord(**{f: getattr(record, f) for f in RequestRecord.__slots__})


def test_overflowing_paths_count_as_dropped_per_record_in_every_batch() -> None:
    registry = _registry()  # room for 4 endpoints
    for batch in range(2):
        for i in range(6):
            registry.record_request(RequestRecord("GET", f"/r{i}", 200, 0.01, timestamp=_START))
        registry.drain()
        assert registry.dropped_endpoints == 2 * (batch + 1)
    assert registry.endpoints[("GET", "__other__")].count == 4


def test_a_folded_series_is_not_fed_through_a_stale_cache() -> None:
    registry = _registry()
    registry.record_request(RequestRecord("GET", "/kept", 200, 0.01, timestamp=_START))
    registry.drain()
    registry.endpoints.fold({("GET", "/kept")})
    registry.record_request(RequestRecord("GET", "/kept", 200, 0.01, timestamp=_START))
    registry.drain()
    counts = {key: s.count for key, s in registry.endpoints.items()}
    assert counts == {("GET", "__other__"): 1, ("GET", "/kept"): 1}
    registry.take_delta()
    registry.record_request(RequestRecord("GET", "/kept", 200, 0.01, timestamp=_START))
    registry.drain()
    assert {key: s.count for key, s in registry.endpoints.items()} == {("GET", "/kept"): 1}
