"""The shipped Grafana dashboard only queries metrics perfkit really exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from perfkit import Perfkit

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "perfkit-dashboard.json"


def test_every_panel_query_names_an_exposed_metric() -> None:
    kit = Perfkit()
    kit.record_api_performance("/a", "GET", 0.1, 500)
    kit.record_query_performance("SELECT 1", 0.01)
    kit.record_request("GET", "/a", 500, 0.1, error_type="ValueError")
    kit.cache.set("k", 1)
    kit.cache.get("k")
    kit.system.get_current_metrics()
    kit.alerts  # noqa: B018 - creates the component
    exposed = {
        line.split("{")[0].split(" ")[0]
        for line in kit.render_metrics()[1].decode().splitlines()
        if line and not line.startswith("#")
    }
    dashboard = json.loads(DASHBOARD.read_text())
    names = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(?:app|system)_[a-z_]+\b", target["expr"])
    }
    assert names, "the dashboard has no queries"
    missing = sorted(names - exposed)
    assert not missing, f"dashboard queries metrics perfkit does not expose: {missing}"
