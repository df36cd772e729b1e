"""Alert rules: validation at construction, hysteresis defaults, templates, anomaly rules."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfkit.alerts import AlertManager, AlertRule, AnomalyRule, CallbackNotifier, default_rules
from perfkit.alerts.rules import format_message
from perfkit.config import PerfkitSettings
from perfkit.testing import FakeClock


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"metric": "m"}, "warning or critical"),
        ({"metric": "m", "warning": math.nan}, "warning must be a finite number"),
        ({"metric": "m", "warning": "80"}, "'80'"),
        ({"metric": "m", "warning": 90, "critical": 80}, "must not be past critical"),
        ({"metric": "m", "warning": 10, "critical": 20, "comparison": "<"}, "past critical"),
        ({"metric": "m", "warning": 80, "comparison": "=>"}, "'=>'"),
        ({"metric": "m", "warning": 80, "resolve_threshold": 85}, "healthy side"),
        ({"metric": "m", "warning": 80, "for_seconds": -1}, "for_seconds"),
        ({"metric": "m", "warning": 80, "severity": "fatal"}, "fatal"),
        ({}, "needs a metric"),
        ({"condition": 42}, "callable"),
    ],
)
def test_invalid_rules_fail_with_a_message_naming_the_problem(
    kwargs: dict[str, Any], needle: str
) -> None:
    """Every bad threshold/argument raises ValueError naming the rule and the value."""
    with pytest.raises(ValueError, match="'r'") as info:
        AlertRule("r", **kwargs)
    assert needle in str(info.value)


def test_default_resolve_thresholds_mirror_for_less_than() -> None:
    """'>' rules resolve at 95 % of the threshold, '<' rules at 105 %."""
    assert AlertRule("a", "m", 80, 90).resolve_threshold == pytest.approx(76.0)
    assert AlertRule("b", "m", 70, comparison="<").resolve_threshold == pytest.approx(73.5)
    below = AlertRule("b", "m", 70, comparison="<")
    assert below.check({"m": 72.0}, firing=True).breached  # inside the band: holds
    assert not below.check({"m": 74.0}, firing=True).breached
    assert below.check({"m": 69.0}, firing=False).breached


def test_missing_value_keeps_the_current_state() -> None:
    """No data neither fires nor resolves."""
    rule = AlertRule("a", "m", 80)
    assert not rule.check({}, firing=False).breached
    assert rule.check({"m": None}, firing=True).breached


def test_message_templates_reach_metric_values() -> None:
    """Templates see the rule's fields, dotted metrics (two ways) and short names."""
    metrics = {"system.cpu_percent": 91.25, "requests.p95": 0.5}
    fields = {"name": "cpu", "value": 91.25, "severity": "critical"}
    assert format_message("{name} {value:.1f}", fields, metrics) == "cpu 91.2"
    assert format_message("{system.cpu_percent}", fields, metrics) == "91.25"
    assert format_message("{cpu_percent} {p95}", fields, metrics) == "91.25 0.5"
    assert "template error" in format_message("{nothing}", fields, metrics)


def test_default_rules_cover_the_documented_set_and_follow_settings() -> None:
    """The ten default rules exist, use documented metrics and the settings' thresholds."""
    rules = {r.name: r for r in default_rules(PerfkitSettings(alert_cpu_threshold=85))}
    assert {r.metric for r in rules.values()} == {
        "system.cpu_percent", "system.memory_percent", "system.disk_percent", "queries.slow_rate",
        "requests.error_rate", "db.connections", "requests.p95", "cache.hit_rate",
        "guards.rejection_rate", "backup.hours_since_success",
    }  # fmt: skip
    assert (rules["high_cpu"].warning, rules["high_cpu"].critical) == (85, 95)
    assert "slow_request" not in rules  # off until alert_request_seconds is set
    crit = default_rules(PerfkitSettings(alert_memory_critical=88, alert_request_seconds=3))
    by_name = {r.name: r for r in crit}
    assert by_name["high_memory"].critical == 88
    assert (by_name["slow_request"].metric, by_name["slow_request"].warning) == ("requests.max", 3)
    assert rules["db_connections"].critical == 50 and rules["db_connections"].severity == "critical"
    assert rules["low_cache_hit_rate"].comparison == "<"
    manager = AlertManager(
        lambda: {"db.connections": 51.0, "cache.hit_rate": 95.0}, clock=FakeClock()
    )
    fired = [e.alert.name for e in manager.evaluate()]
    assert fired == ["db_connections"]
    manager.stop()


def feed(rule: AnomalyRule, values: list[float]) -> list[bool]:
    return [rule.check({"p95": v}, firing=False).breached for v in values]


def test_anomaly_rule_learns_a_baseline_and_flags_departures() -> None:
    """After warm-up a value k deviations above the EWMA baseline is anomalous."""
    rng = random.Random(7)
    rule = AnomalyRule("lat", "p95", k=4, warmup=50, for_seconds=0)
    normal = [0.2 + rng.gauss(0, 0.01) for _ in range(200)]
    assert not any(feed(rule, normal))
    assert rule.mean == pytest.approx(0.2, abs=0.01)
    assert feed(rule, [0.5]) == [True]
    assert feed(rule, [0.2]) == [False]


def test_anomaly_rule_cannot_fire_during_warmup() -> None:
    """Nothing fires before `warmup` samples, however odd the values."""
    rule = AnomalyRule("lat", "p95", k=2, warmup=10)
    assert not any(feed(rule, [0.1, 5.0, 0.1, 9.0, 0.1, 7.0, 0.1, 8.0, 0.1, 6.0]))


def test_anomaly_rule_fires_only_after_min_duration_and_resolves() -> None:
    """Through the manager: an anomaly must last for_seconds; it resolves when back to normal."""
    clock = FakeClock()
    metrics = {"requests.p95": 0.2}
    events: list[Any] = []
    rule = AnomalyRule("lat", "requests.p95", k=3, warmup=20, for_seconds=60, cooldown_seconds=0)
    manager = AlertManager(lambda: metrics, clock=clock, rules=[rule],
                           notifiers=[CallbackNotifier(events.append)])  # fmt: skip
    rng = random.Random(1)
    for _ in range(60):
        metrics["requests.p95"] = 0.2 + rng.gauss(0, 0.01)
        clock.advance(10)
        assert manager.evaluate() == []
    metrics["requests.p95"] = 1.0
    assert manager.evaluate() == []  # pending: not yet for 60 s
    clock.advance(30)
    assert manager.evaluate() == []
    clock.advance(30)
    [fired] = manager.evaluate()
    assert fired.transition == "firing" and fired.alert.threshold is not None
    assert fired.alert.threshold < 1.0
    metrics["requests.p95"] = 0.2
    clock.advance(10)
    [resolved] = manager.evaluate()
    assert resolved.transition == "resolved"
    manager.stop()


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=100))
def test_anomaly_baseline_stays_finite(values: list[float]) -> None:
    """Property: any finite input keeps the baseline finite and the check total."""
    rule = AnomalyRule("x", "m", warmup=3)
    for v in values:
        rule.check({"m": v}, firing=False)
    assert math.isfinite(rule.mean) and math.isfinite(rule.var) and rule.var >= 0


def test_anomaly_rule_validation() -> None:
    """Bad k, alpha, warmup or direction fail naming the value."""
    for kwargs, needle in [({"k": 0}, "k"), ({"alpha": 2}, "alpha"), ({"warmup": 0}, "warmup"),
                           ({"direction": "sideways"}, "sideways")]:  # fmt: skip
        with pytest.raises(ValueError, match=needle):
            AnomalyRule("a", "m", **kwargs)


@pytest.mark.parametrize(
    "template",
    ["{name.__class__}", "{value:>1000000000}", "{labels[0]}", "{value:.500f}", "{unclosed"],
)
def test_templates_that_could_reach_into_objects_or_blow_up_are_refused(template: str) -> None:
    with pytest.raises(ValueError, match="template"):
        AlertRule("t", "system.cpu_percent", 50.0, message_template=template)


def test_ordinary_templates_with_metric_groups_are_accepted() -> None:
    rule = AlertRule(
        "t", "system.cpu_percent", 50.0, message_template="{value:.1f}% {system.cpu_percent:>8.2f}"
    )
    assert rule.message_template is not None


@pytest.mark.parametrize("comparison", [">", ">=", "<", "<="])
def test_warning_and_critical_may_share_one_level(comparison: str) -> None:
    """As the settings allow (alert_cpu_threshold == alert_cpu_critical): not 'past' it."""
    rule = AlertRule("same", "system.cpu_percent", 100.0, 100.0, comparison)
    assert rule.warning == rule.critical == 100.0
    with pytest.raises(ValueError, match="must not be past"):
        AlertRule(
            "past", "system.cpu_percent", 101.0 if ">" in comparison else 99.0, 100.0, comparison
        )


def test_slow_request_rule_fires_on_one_slow_request_when_switched_on() -> None:
    """Off by default; with alert_request_seconds one request past it fires, within 5 min."""
    from perfkit import Perfkit

    clock = FakeClock()
    assert "slow_request" not in Perfkit(clock=clock).alerts.rules
    kit = Perfkit(PerfkitSettings(alert_request_seconds=1.0), clock=clock)
    kit.record_api_performance("/fast", "GET", 0.2, 200)
    assert "slow_request" not in [e.alert.name for e in kit.alerts.evaluate()]
    kit.record_api_performance("/report", "GET", 1.5, 200)
    (event,) = [e for e in kit.alerts.evaluate() if e.alert.name == "slow_request"]
    assert event.alert.value == 1.5 and "1.500 s" in event.alert.message
    clock.advance(6 * 60)  # out of the 5-minute window: resolved
    assert [e.transition for e in kit.alerts.evaluate() if e.alert.name == "slow_request"] == [
        "resolved"
    ]
    kit.alerts.stop()
