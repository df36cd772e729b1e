"""POST /api/config: every run-time setting really takes effect."""

from __future__ import annotations

import json

from perfkit import Perfkit, PerfkitSettings
from perfkit.web.api import handle
from perfkit.web.context import ApiRequest
from perfkit.web.handlers import RUNTIME_SETTINGS


def post_config(kit: Perfkit, **changes: object) -> int:
    request = ApiRequest(
        "POST",
        "/api/config",
        "",
        {"authorization": "Bearer t"},
        json.dumps(changes).encode(),
        "10.0.0.1",
    )
    return handle(kit, request).status


def test_each_runtime_setting_takes_effect() -> None:
    kit = Perfkit(PerfkitSettings(token="t"))
    alerts, system = kit.alerts, kit.system
    changes = {
        "slow_request_threshold": 0.25,
        "slow_query_threshold": 0.05,
        "alert_cpu_threshold": 55.0,
        "alert_memory_threshold": 66.0,
        "alert_disk_threshold": 77.0,
        "alert_cpu_critical": 85.0,
        "alert_memory_critical": 86.0,
        "alert_disk_critical": 87.0,
        "alert_request_seconds": 4.0,
        "max_alerts_per_hour": 3,
        "monitoring_interval": 2.5,
        "metrics_public": False,
        "api_rate_limit": 1000,
        "log_requests": True,
        "log_request_sample_rate": 0.5,
    }
    assert set(changes) == set(RUNTIME_SETTINGS), "a new run-time setting needs a check here"
    assert post_config(kit, **changes) == 200
    kit.record_api_performance("/r", "GET", 0.3, 200)
    kit.record_query_performance("SELECT 1", 0.1)
    snap = kit.snapshot()
    assert snap["requests"]["summary"]["slow"] == 1
    assert snap["queries"]["summary"]["slow"] == 1
    assert (alerts.rules["high_cpu"].warning, alerts.rules["high_memory"].warning) == (55.0, 66.0)
    assert alerts.rules["high_disk"].warning == 77.0
    assert [alerts.rules[n].critical for n in ("high_cpu", "high_memory", "high_disk")] == [
        85.0, 86.0, 87.0,
    ]  # fmt: skip
    assert system.warning_threshold == {"cpu": 55.0, "ram": 66.0, "disk": 77.0}
    assert system.critical_threshold == {"cpu": 85.0, "ram": 86.0, "disk": 87.0}
    assert alerts.rules["slow_request"].warning == 4.0  # switched on at run time
    assert alerts.thresholds()["system.cpu_percent"]["critical"] == 85.0
    assert alerts.max_alerts_per_hour == 3
    assert system.interval == 2.5
    metrics = handle(kit, ApiRequest("GET", "/metrics", "", {}, b"", "10.0.0.1"))
    assert metrics.status == 401
    assert kit.api_limiter.per_minute == 1000
    assert kit._request_log is not None and kit._request_log in kit.request_hooks
    assert post_config(kit, log_requests=False) == 200
    assert kit._request_log is None and kit.request_hooks == []
    assert post_config(kit, alert_request_seconds=0) == 200
    assert "slow_request" not in alerts.rules  # and off again


def test_rules_the_user_replaced_keep_their_thresholds() -> None:
    from perfkit.alerts import AlertRule

    kit = Perfkit(PerfkitSettings(token="t"))
    kit.alerts.add_alert_rule(AlertRule("high_cpu", "system.cpu_percent", 30.0, 40.0), replace=True)
    assert post_config(kit, alert_cpu_threshold=70.0) == 200
    assert kit.alerts.rules["high_cpu"].warning == 30.0
