"""The embedded store's JSON file: saved atomically, reloaded at start, bad files set aside."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.metrics.state import from_state, to_state


def test_figures_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    settings = PerfkitSettings(metrics_file=str(path), flush_interval=60)
    first = Perfkit(settings).start()
    for i in range(30):
        first.record_api_performance(
            "/users/{id}", "GET", 0.01 * (i + 1), 200 if i % 10 else 500, user_id="u1"
        )
    first.record_query_performance("SELECT * FROM t WHERE id = 3", 0.2)
    first.stop()
    assert json.loads(path.read_text())["version"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file left
    second = Perfkit(settings).start()
    try:
        snap = second.snapshot()
        row = snap["requests"]["endpoints"][0]
        assert (row["count"], row["errors"]) == (30, 3)
        assert row["p95"] == pytest.approx(first.snapshot()["requests"]["endpoints"][0]["p95"])
        assert snap["requests"]["users"][0]["count"] == 30
        assert snap["queries"]["fingerprints"][0]["fingerprint"] == "SELECT * FROM t WHERE id = ?"
    finally:
        second.stop()


@pytest.mark.parametrize("content", [b"{not json", b'{"version": 99}', b"[]", b'{"version": 1}'])
def test_an_unreadable_file_is_set_aside_not_fatal(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "metrics.json"
    path.write_bytes(content)
    kit = Perfkit(PerfkitSettings(metrics_file=str(path), flush_interval=60))
    with caplog.at_level(logging.WARNING, logger="perfkit.store"):
        kit.start()
    kit.record_api_performance("/a", "GET", 0.1, 200)
    kit.stop()
    aside = [p for p in tmp_path.iterdir() if ".unreadable-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert "could not read its saved metrics" in caplog.text
    assert json.loads(path.read_text())["endpoints"]["GET /a"]["sketch"]["count"] == 1


def test_state_round_trip_is_exact() -> None:
    kit = Perfkit()
    for i in range(200):
        kit.record_request("GET", None, 200, 0.001 * i, size=i, path=f"/p/{i}", user=f"u{i % 3}")
    kit.registry.drain()
    again = from_state(json.loads(json.dumps(to_state(kit.registry))))
    assert to_state(again) == to_state(kit.registry)
