"""AlertManager state machine, driven by a FakeClock: pending, firing, hysteresis, cooldown."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.alerts import (
    Alert,
    AlertEvent,
    AlertManager,
    AlertPayloadError,
    AlertRule,
    CallbackNotifier,
)
from perfkit.config import PerfkitSettings
from perfkit.testing import FakeClock


class Harness:
    """A manager over a mutable metrics dict, with a recording notifier."""

    def __init__(self, *rules: Any, **kwargs: Any) -> None:
        self.clock = FakeClock()
        self.metrics: dict[str, float | None] = {"system.cpu_percent": 10.0}
        self.events: list[AlertEvent] = []
        self.manager = AlertManager(
            lambda: self.metrics,
            clock=self.clock,
            rules=list(rules),
            notifiers=[CallbackNotifier(self.events.append)],
            **kwargs,
        )

    def step(self, value: float | None, advance: float = 10.0) -> list[AlertEvent]:
        self.clock.advance(advance)
        self.metrics["system.cpu_percent"] = value
        return self.manager.evaluate()

    def delivered(self) -> list[tuple[str, str]]:
        assert self.manager.dispatcher.flush(10)
        return [(e.transition, e.alert.severity) for e in self.events]

    def close(self) -> None:
        self.manager.stop()


@pytest.fixture
def cpu_rule() -> AlertRule:
    return AlertRule("cpu", "system.cpu_percent", warning=80, critical=90, for_seconds=30,
                     cooldown_seconds=600)  # fmt: skip


def test_pending_does_not_fire_before_for_seconds(cpu_rule: AlertRule) -> None:
    """A breach stays pending until it has lasted for_seconds, then fires once."""
    h = Harness(cpu_rule)
    assert h.step(85, advance=0) == []
    assert h.manager.status()["rules"][0]["state"] == "pending"
    assert h.step(85, advance=29) == []
    assert h.manager.get_active_alerts() == []
    fired = h.step(85, advance=1)
    assert [(e.transition, e.alert.severity, e.alert.value) for e in fired] == [
        ("firing", "warning", 85)
    ]
    assert [a.name for a in h.manager.get_active_alerts()] == ["cpu"]
    assert h.delivered() == [("firing", "warning")]
    h.close()


def test_pending_that_recovers_never_fires(cpu_rule: AlertRule) -> None:
    """A breach shorter than for_seconds goes back to inactive silently."""
    h = Harness(cpu_rule)
    h.step(95)
    h.step(50)
    h.step(95, advance=25)
    assert h.step(95, advance=25) == []  # the pending clock restarted at the second breach
    assert h.delivered() == [] and h.manager.get_alert_history() == []
    h.close()


def test_resolution_notifies_once(cpu_rule: AlertRule) -> None:
    """Below the resolve threshold the alert resolves, and that is notified exactly once."""
    h = Harness(cpu_rule)
    h.step(85, 0)
    h.step(85, 30)
    h.step(50)
    h.step(40)
    h.step(30)
    assert h.delivered() == [("firing", "warning"), ("resolved", "warning")]
    [alert] = h.manager.get_alert_history()
    assert alert.state == "resolved" and alert.resolved_at == h.clock.time() - 20
    h.close()


def test_flapping_inside_the_hysteresis_band_sends_nothing_more(cpu_rule: AlertRule) -> None:
    """Values between the resolve threshold (76) and the threshold (80) keep the alert firing."""
    h = Harness(cpu_rule)
    h.step(85, 0)
    h.step(85, 30)
    for value in [79, 81, 77, 82, 76.5, 80.5, 78] * 5:
        h.step(value)
    assert h.delivered() == [("firing", "warning")]
    assert h.manager.get_active_alerts()[0].state == "firing"
    h.step(75)  # past the resolve threshold: resolves
    assert h.delivered() == [("firing", "warning"), ("resolved", "warning")]
    h.close()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=76.01, max_value=100.0), min_size=1, max_size=30))
def test_any_sequence_above_the_resolve_threshold_never_resolves(values: list[float]) -> None:
    """Property: once firing, values above the resolve threshold give no resolution."""
    h = Harness(AlertRule("cpu", "system.cpu_percent", 80, 90))
    h.step(95)
    for value in values:
        events = h.step(value)
        assert all(e.transition == "firing" for e in events)
    assert len(h.manager.get_active_alerts()) == 1
    h.close()


def test_escalation_to_critical_is_notified(cpu_rule: AlertRule) -> None:
    """A firing warning that crosses the critical threshold is notified again as critical."""
    h = Harness(AlertRule("cpu", "system.cpu_percent", 80, 90))
    h.step(85)
    h.step(95)
    h.step(85)  # de-escalation is not news
    assert h.delivered() == [("firing", "warning"), ("firing", "critical")]
    h.close()


def test_cooldown_suppresses_repeats_but_records_them() -> None:
    """Firing again inside the cooldown is in the history but not notified."""
    h = Harness(AlertRule("cpu", "system.cpu_percent", 80, cooldown_seconds=600))
    h.step(85)
    h.step(50)
    h.step(85, advance=100)  # inside the cooldown
    h.step(50)
    assert h.delivered() == [("firing", "warning"), ("resolved", "warning")]
    assert len(h.manager.get_alert_history()) == 2
    assert h.manager.get_alert_summary()["notifications"]["suppressed"] == {"cooldown": 1}
    h.step(85, advance=600)  # after the cooldown
    assert h.delivered()[-1] == ("firing", "warning")
    h.close()


def test_resolve_for_seconds_delays_resolution() -> None:
    """A firing rule resolves only after resolve_for_seconds below the resolve threshold."""
    h = Harness(AlertRule("cpu", "system.cpu_percent", 80, resolve_for_seconds=60))
    h.step(85)
    h.step(10)
    h.step(10, advance=30)
    assert h.manager.get_active_alerts()
    h.step(10, advance=30)
    assert not h.manager.get_active_alerts()
    h.close()


def test_max_alerts_per_hour_caps_notifications() -> None:
    """The global hourly cap suppresses further firing notifications."""
    rules = [AlertRule(f"r{i}", "system.cpu_percent", 50) for i in range(5)]
    h = Harness(*rules, settings=PerfkitSettings(max_alerts_per_hour=2))
    h.step(60)
    assert len(h.delivered()) == 2
    assert h.manager.get_alert_summary()["notifications"]["suppressed"] == {"rate_limited": 3}
    assert len(h.manager.get_active_alerts()) == 5
    h.close()


def test_repeat_interval_renotifies_a_long_firing_alert() -> None:
    """A still-firing alert is re-notified after the repeat interval."""
    h = Harness(AlertRule("cpu", "system.cpu_percent", 80), repeat_interval=3600)
    h.step(85)
    h.step(85, advance=1800)
    h.step(85, advance=1800)
    assert h.delivered() == [("firing", "warning"), ("firing", "warning")]
    assert h.events[1].repeat
    h.close()


def test_silence_mutes_matching_alerts_until_it_expires() -> None:
    """A silence with who/why mutes matching rules; others and later alerts are notified."""
    h = Harness(AlertRule("cpu", "system.cpu_percent", 80, cooldown_seconds=0),
                AlertRule("cpu_too", "system.cpu_percent", 80, cooldown_seconds=0))  # fmt: skip
    silence = h.manager.silence({"name": "cpu"}, who="ops", why="maintenance", duration=600)
    h.step(85)
    h.delivered()
    assert [e.alert.name for e in h.events] == ["cpu_too"]
    assert h.manager.status()["silences"][0]["id"] == silence.id
    h.step(10)
    h.step(85, advance=600)  # the silence has expired
    h.delivered()
    assert [e.alert.name for e in h.events if e.transition == "firing"] == [
        "cpu_too",
        "cpu",
        "cpu_too",
    ]
    with pytest.raises(ValueError, match="why"):
        h.manager.silence({"name": "x"}, who="ops", why=" ", duration=5)
    h.close()


def test_errored_rule_is_visible_and_others_still_evaluate() -> None:
    """A condition that raises marks its rule errored; the other rules still fire."""

    def broken(metrics: Any) -> bool:
        raise KeyError("missing")

    h = Harness(AlertRule("broken", condition=broken), AlertRule("cpu", "system.cpu_percent", 80))
    fired = h.step(85)
    assert [e.alert.name for e in fired] == ["cpu"]
    status = h.manager.status()
    assert status["errored"] == ["broken"]
    assert "KeyError" in next(r for r in status["rules"] if r["name"] == "broken")["error"]
    h.close()


def test_condition_rule_and_seed_dict_form() -> None:
    """The seed dict (condition, severity, message_template, cooldown_minutes) works."""
    h = Harness()
    h.manager.add_alert_rule({
        "name": "hot", "condition": lambda m: m["system.cpu_percent"] > 70,
        "severity": "high", "message_template": "CPU at {cpu_percent}%", "cooldown_minutes": 5,
    })  # fmt: skip
    [event] = h.step(75)
    assert (event.alert.severity, event.alert.message) == ("critical", "CPU at 75%")
    assert h.manager.rules["hot"].cooldown_seconds == 300
    h.close()


def test_unknown_metric_and_duplicates_fail_at_add_time() -> None:
    """A rule naming an unknown metric fails naming it; declared and gauge.* names pass."""
    h = Harness()
    with pytest.raises(ValueError, match=r"system\.cpu_pct"):
        h.manager.add_alert_rule(AlertRule("typo", "system.cpu_pct", 80))
    h.manager.add_alert_rule(AlertRule("gauge", "gauge.queue_depth", 100))
    h.manager.declare_metrics("orders.backlog")
    h.manager.add_alert_rule(AlertRule("backlog", "orders.backlog", 10))
    h.metrics["provided.now"] = 1.0
    h.manager.add_alert_rule(AlertRule("provided", "provided.now", 10))
    with pytest.raises(ValueError, match="exists already"):
        h.manager.add_alert_rule(AlertRule("backlog", "orders.backlog", 10))
    assert h.manager.remove_alert_rule("backlog") and not h.manager.remove_alert_rule("backlog")
    h.close()


def test_test_rule_reports_without_changing_state_and_sends_only_when_asked() -> None:
    """test_rule evaluates now; nothing is sent or recorded unless send=True."""
    h = Harness(AlertRule("cpu", "system.cpu_percent", 80))
    h.metrics["system.cpu_percent"] = 95
    report = h.manager.test_rule("cpu")
    assert report["would_fire"] and report["severity"] == "warning" and not report["sent"]
    assert h.delivered() == [] and h.manager.get_alert_history() == []
    assert h.manager.test_rule("cpu", send=True)["sent"]
    assert h.delivered() == [("firing", "warning")] and h.events[0].test
    with pytest.raises(KeyError, match="nope"):
        h.manager.test_rule("nope")
    h.close()


def test_history_filters_summary_and_retention() -> None:
    """get_alert_history(hours, severity) filters; old resolved alerts drop out."""
    h = Harness(AlertRule("cpu", "system.cpu_percent", 80, 90, cooldown_seconds=0))
    h.step(95)
    h.step(10)
    h.step(85, advance=7200)
    assert [a.severity for a in h.manager.get_alert_history(hours=24)] == ["warning", "critical"]
    assert [a.severity for a in h.manager.get_alert_history(hours=1)] == ["warning"]
    assert len(h.manager.get_alert_history(severity="critical")) == 1
    summary = h.manager.get_alert_summary(hours=24)
    assert summary["by_severity"] == {"info": 0, "warning": 1, "critical": 1}
    assert (summary["total"], summary["firing"], summary["resolved"], summary["active"]) == (
        2,
        1,
        1,
        1,
    )
    with pytest.raises(ValueError, match="severity"):
        h.manager.get_alert_history(severity="fatal")
    with pytest.raises(ValueError, match="hours"):
        h.manager.get_alert_history(hours=0)
    h.clock.advance(25 * 3600)
    assert [a.state for a in h.manager.get_alert_history(hours=8000)] == ["firing"]
    h.close()


def test_collect_reports_firing_by_every_severity() -> None:
    """app_alerts_firing{severity} has a sample for each severity, zeros included."""
    h = Harness(AlertRule("cpu", "system.cpu_percent", 80, 90))
    h.step(95)
    [family] = h.manager.collect()
    assert family.name == "app_alerts_firing"
    assert {s.labels["severity"]: s.value for s in family.samples} == {
        "info": 0, "warning": 0, "critical": 1
    }  # fmt: skip
    assert json.dumps(h.manager.snapshot())
    h.close()


def test_external_alerts_are_validated_recorded_and_notified() -> None:
    """ingest_external records source='external', notifies, and rejects bad payloads."""
    h = Harness()
    alert = h.manager.ingest_external(
        {
            "name": "disk_full",
            "severity": "critical",
            "message": "db1 full",
            "labels": {"host": "db1"},
        }
    )
    assert isinstance(alert, Alert) and alert.source == "external"
    assert h.manager.get_active_alerts() == [alert]
    assert h.delivered() == [("firing", "critical")]
    h.manager.ingest_external(
        b'{"name": "disk_full", "severity": "critical", "labels": {"host": "db1"}, '
        b'"state": "resolved"}'
    )
    assert h.manager.get_active_alerts() == []
    assert h.manager.get_alert_history()[0].source == "external"
    for bad, needle in [
        ({"name": "x", "severity": "fatal"}, "severity"),
        ({"severity": "info"}, "name"),
        ({"name": "x", "severity": "info", "extra": 1}, "extra"),
        ({"name": "x", "severity": "info", "labels": {"a": [1]}}, "label"),
        ({"name": "x", "severity": "info", "metrics": {"cpu": None}}, "metric"),
        ({"name": "x", "severity": "info", "metrics": {"cpu": "9" * 201}}, "metric"),
        ({"name": "x", "severity": "info", "message": "m" * 20000}, "larger"),
        (b"not json", "JSON"),
        ([1, 2], "object"),
    ]:
        with pytest.raises(AlertPayloadError, match=needle):
            h.manager.ingest_external(bad)
    h.close()


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(["name", "severity", "message", "labels", "metrics", "x"])
                | st.text(max_size=5),
                children,
                max_size=5,
            )
        ),
        max_leaves=12,
    )
)
def test_ingest_external_only_ever_raises_payload_errors(payload: object) -> None:
    """Property: arbitrary JSON-ish input is accepted or rejected with AlertPayloadError."""
    manager = AlertManager(clock=FakeClock(), rules=[])
    try:
        alert = manager.ingest_external(payload)
    except AlertPayloadError:
        return
    finally:
        manager.stop()
    assert alert.source == "external" and alert.severity in ("info", "warning", "critical")


def test_firing_external_alerts_are_bounded() -> None:
    """Anyone able to post external alerts cannot grow memory without limit."""
    from perfkit.alerts.manager import MAX_EXTERNAL

    manager = AlertManager(dict, clock=FakeClock(), rules=[])
    for i in range(MAX_EXTERNAL):
        manager.ingest_external({"name": f"ext-{i}", "severity": "info", "message": "m"})
    with pytest.raises(AlertPayloadError, match="resolve some first"):
        manager.ingest_external({"name": "one-too-many", "severity": "info", "message": "m"})
    manager.ingest_external(
        {"name": "ext-0", "severity": "info", "message": "m", "state": "resolved"}
    )
    manager.ingest_external({"name": "now-it-fits", "severity": "info", "message": "m"})
    manager.stop()
