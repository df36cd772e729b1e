"""/metrics with cached series text: the plain rendering byte for byte, changed series only."""

from __future__ import annotations

from perfkit import Perfkit, PerfkitSettings
from perfkit.metrics.exposition import render
from perfkit.testing import FakeClock


def _plain(kit: Perfkit, openmetrics: bool) -> bytes:
    return render(kit.collect(), openmetrics=openmetrics)


def _kit() -> Perfkit:
    kit = Perfkit(PerfkitSettings(max_endpoints=50), clock=FakeClock())
    for i in range(30):
        kit.record_request("GET", f"/items/{i % 10}/x{i % 3}", 200 + (i % 4) * 100, 0.002 * i)
    kit.record_request("POST", '/we"ird\\path\nend', 201, 0.5)
    kit.registry.record_query("SELECT 1", 0.01)
    kit.set_gauge("queue", 3)
    return kit


def test_cached_text_equals_the_plain_rendering_in_both_formats() -> None:
    kit = _kit()
    for _ in range(2):  # the second scrape comes from the cache
        for openmetrics in (False, True):
            accept = "application/openmetrics-text" if openmetrics else None
            assert kit.render_metrics(accept)[1] == _plain(kit, openmetrics)
    kit.record_request("GET", "/items/3/x0", 503, 0.25)
    kit.record_request("DELETE", "/new", 204, 0.001)
    assert kit.render_metrics()[1] == _plain(kit, False)
    kit.registry.reset()
    kit.record_request("GET", "/items/3/x0", 200, 0.25)
    assert kit.render_metrics()[1] == _plain(kit, False)


def test_only_changed_series_are_rendered_again() -> None:
    kit = _kit()
    cache = kit._series_text
    kit.render_metrics()
    first = cache.rendered
    assert first == len(kit.registry.endpoints)
    kit.render_metrics("application/openmetrics-text")
    assert cache.rendered == first  # nothing changed; the other format shares the text
    kit.record_request("GET", "/items/1/x1", 200, 0.01)
    kit.render_metrics()
    assert cache.rendered == first + 1
