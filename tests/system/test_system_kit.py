"""The kit's wiring: system sampler started by kit.start(), alerts after each sample, health."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from perfkit import Perfkit, PerfkitSettings
from perfkit.alerts import AlertEvent, AlertRule, CallbackNotifier
from tests.conftest import CALM_SYSTEM_LEVELS


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        threading.Event().wait(0.02)  # polling interval, bounded by the deadline


def test_start_runs_the_sampler_and_evaluates_alerts_after_each_sample() -> None:
    """kit.start() samples at monitoring_interval; a gauge rule fires; stop() ends it."""
    kit = Perfkit(PerfkitSettings(monitoring_interval=0.1))
    events: list[AlertEvent] = []
    kit.alerts.add_notifier(CallbackNotifier(events.append))
    kit.alerts.add_alert_rule(AlertRule("queue", "gauge.queue_depth", warning=10))
    kit.set_gauge("gauge.queue_depth", 50)
    kit.start()
    try:
        wait_until(lambda: bool(kit.alerts.get_active_alerts()))
        assert kit.system.monitoring and len(kit.system.history) >= 1
        assert kit.alerts.dispatcher.flush(10)
        assert [(e.alert.name, e.transition) for e in events] == [("queue", "firing")]
    finally:
        kit.stop()
    assert not kit.system.monitoring


def test_kit_exposes_system_and_alert_families_health_and_recommendations() -> None:
    """/metrics gets system_* and app_alerts_firing; /health includes the system check."""
    kit = Perfkit(PerfkitSettings(**CALM_SYSTEM_LEVELS))
    _ = kit.system, kit.alerts
    names = {f.name for f in kit.collect()}
    assert {"system_cpu_usage_percent", "system_disk_usage_percent", "app_alerts_firing"} <= names
    assert "system.cpu_percent" in kit.alert_metrics()
    kit.add_health_check("always", lambda: True)
    report = kit.health()
    assert set(report["checks"]) >= {"system", "always"}
    assert report["checks"]["always"]["status"] == "healthy"  # the machine may be critical itself
    assert isinstance(kit.get_recommendations(), list)
    kit.stop()
