"""perfkit.testing: what users get for their own tests."""

from __future__ import annotations

import pytest

from perfkit import get_kit, monitor_query_performance
from perfkit.testing import FakeClock, InMemorySink, capture_metrics
from perfkit.wsgi import PerfkitMiddleware


def test_capture_metrics_swaps_the_default_kit() -> None:
    @monitor_query_performance
    def load(user_id: int) -> int:
        return user_id

    outer = get_kit()
    with capture_metrics() as kit:
        assert get_kit() is kit
        load(1)
        load(2)
        assert kit.snapshot()["queries"]["summary"]["count"] == 2
    assert get_kit() is outer


def test_in_memory_sink_sees_each_request() -> None:
    sink = InMemorySink()
    with capture_metrics() as kit:
        kit.request_hooks.append(sink)

        def app(environ: dict[str, object], start_response: object) -> list[bytes]:
            start_response("201 Created", [])  # type: ignore[operator]
            return [b"x"]

        body = PerfkitMiddleware(app)(
            {"PATH_INFO": "/a", "REQUEST_METHOD": "POST"}, lambda *a: None
        )
        list(body)
        body.close()  # type: ignore[attr-defined]
    (request,) = sink.requests
    assert (request.method, request.path, request.status) == ("POST", "/a", 201)
    assert request.request_id


def test_fake_clock_moves_only_forward() -> None:
    clock = FakeClock(100.0)
    clock.advance(5)
    assert clock.time() == clock.monotonic() == 105.0
    with pytest.raises(ValueError, match="does not go backwards"):
        clock.advance(-1)
