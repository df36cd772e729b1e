"""AlertManager: evaluates rules, runs each rule's state machine, and decides what to notify.

States per rule: inactive -> pending (for `for_seconds`) -> firing -> resolved.
A firing rule resolves once its value is back past the resolve threshold for
`resolve_for_seconds` (hysteresis). Notifications are suppressed by silences,
by the rule's cooldown (measured from its last notified firing) and by the
global `max_alerts_per_hour` (0 mutes all); a resolution is notified only when
its firing was. Known metrics (checked when a rule is added): the documented
keys, whatever the provider returns now, names declared with
`declare_metrics()`, and any name starting with ``gauge.``.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..clock import Clock, SystemClock
from ..component import Component
from ..config import PerfkitSettings
from ..metrics.families import MetricFamily
from .defaults import default_rules, thresholds_of
from .dispatcher import Dispatcher
from .external import AlertPayloadError, first_number, parse_external
from .history import AlertHistory
from .model import SEVERITIES, SEVERITY_RANK, Alert, AlertEvent
from .notifiers.base import Notifier
from .notifiers.simple import LogNotifier
from .rules import Check, Rule
from .silences import Silence, Silences

__all__ = ["DOCUMENTED_METRICS", "MAX_EXTERNAL", "AlertManager"]

MAX_EXTERNAL = 1000  # firing external alerts kept at once (bounded memory)

_log = logging.getLogger("perfkit.alerts")

DOCUMENTED_METRICS = frozenset(
    {
        "system.cpu_percent", "system.memory_percent", "system.disk_percent", "system.load_avg",
        "requests.rate", "requests.error_rate", "requests.p95", "requests.max", "queries.slow_rate",
        "db.connections", "cache.hit_rate", "guards.rejection_rate", "backup.hours_since_success",
    }
)  # fmt: skip
MetricsProvider = Callable[[], Mapping[str, "float | None"]]


@dataclass
class _RuleState:
    state: str = "inactive"
    pending_since: float | None = None
    resolve_since: float | None = None
    alert: Alert | None = None
    notified: bool = False
    last_notified_fire: float | None = None
    last_notified_at: float | None = None
    last_value: float | None = None
    last_evaluated: float | None = None
    error: str | None = None
    errors: int = 0


class AlertManager(Component):
    """Rules, their states, the history and the notification policy.

    Args:
        metrics_provider: returns the flat dotted-key dict rules read (the kit's `alert_metrics`).
        rules: the initial rules; the default rules when None.
        repeat_interval: seconds after which a still-firing alert is notified again (None: never).
        group_wait: seconds notifications are grouped per notifier before delivery.
        notifier_timeout: seconds a notifier may take before it is abandoned.
        external_ttl: seconds an external alert stays firing without being re-sent.
        log_notifier: log every notification (``perfkit.alerts``), besides the
            `notifiers` and those the settings configure (``notify_*``).
    """

    def __init__(
        self,
        metrics_provider: MetricsProvider | None = None,
        *,
        clock: Clock | None = None,
        settings: PerfkitSettings | None = None,
        rules: Iterable[Rule | Mapping[str, Any]] | None = None,
        notifiers: Iterable[Notifier] = (),
        repeat_interval: float | None = 4 * 3600.0,
        group_wait: float = 0.0,
        notifier_timeout: float = 10.0,
        history_size: int = 1000,
        external_ttl: float = 3600.0,
        known_metrics: Iterable[str] = (),
        log_notifier: bool = True,
    ) -> None:
        self.settings = settings or PerfkitSettings()
        self.clock: Clock = clock or SystemClock()
        self.provider: MetricsProvider = metrics_provider or dict
        self.max_alerts_per_hour = self.settings.max_alerts_per_hour
        self.repeat_interval = repeat_interval
        self.external_ttl = external_ttl
        self.history = AlertHistory(history_size, self.settings.retention_hours)
        self.dispatcher = Dispatcher(group_wait, notifier_timeout)
        self.silences = Silences()
        self.rules: dict[str, Rule] = {}
        self.provider_error: str | None = None
        self.evaluations = 0
        self._states: dict[str, _RuleState] = {}
        self._external: dict[tuple[str, tuple[tuple[str, str], ...]], Alert] = {}
        self._sent: deque[float] = deque()
        self._declared: set[str] = set(known_metrics)
        self._lock = threading.RLock()
        # fleet mode: fleet_gate(key, seconds) -> bool lets one process of many notify
        self.fleet_gate: Callable[[str, float], bool] | None = None
        from .channels import notifiers_from_settings

        for notifier in [
            *([LogNotifier()] if log_notifier else []),
            *notifiers_from_settings(self.settings),
            *notifiers,
        ]:
            self.add_notifier(notifier)
        # the default rules as built (their thresholds follow the settings at run time)
        self._defaults: dict[str, Rule] = {}
        for rule in default_rules(self.settings) if rules is None else rules:
            added = self.add_alert_rule(rule, check_metric=False)
            if rules is None:
                self._defaults[added.name] = added

    # ------------------------------------------------------------ configuration
    def declare_metrics(self, *names: str) -> None:
        """Make `names` known to rules before their producer first reports them."""
        self._declared.update(names)

    def known_metrics(self) -> set[str]:
        """The metric names a rule may use now (see the module docstring)."""
        try:
            provided = set(self.provider())
        except Exception:
            provided = set()
        return set(DOCUMENTED_METRICS) | provided | self._declared

    def add_alert_rule(
        self, rule: Rule | Mapping[str, Any], *, replace: bool = False, check_metric: bool = True
    ) -> Rule:
        """Add a rule (an `AlertRule`, `AnomalyRule` or the seed-style dict).

        Raises ValueError for a duplicate name (unless `replace`) or an unknown metric.
        """
        if isinstance(rule, Mapping):
            from .anomaly import rule_from_dict

            rule = rule_from_dict(rule)
        if not isinstance(rule, Rule):
            raise ValueError(f"expected an AlertRule, AnomalyRule or dict, got {rule!r}")
        if check_metric:
            known = self.known_metrics()
            for metric in rule.metrics:
                if metric not in known and not metric.startswith("gauge."):
                    raise ValueError(
                        f"rule {rule.name!r} names unknown metric {metric!r}; known: "
                        f"{', '.join(sorted(known))} (declare others with declare_metrics())"
                    )
        with self._lock:
            if rule.name in self.rules and not replace:
                raise ValueError(f"an alert rule named {rule.name!r} exists already")
            self.rules[rule.name] = rule
            self._states[rule.name] = _RuleState()
        return rule

    def settings_changed(self, settings: PerfkitSettings) -> None:
        """Apply run-time settings (POST /api/config): the hourly cap and the default
        rules' thresholds; rules the user replaced or added keep theirs."""
        with self._lock:
            self.settings = settings
            self.max_alerts_per_hour = settings.max_alerts_per_hour
            fresh = {rule.name: rule for rule in default_rules(settings)}
            for name, rule in fresh.items():
                current = self.rules.get(name)
                if current is not None and current is self._defaults.get(name):
                    self.rules[name] = self._defaults[name] = rule  # state kept
                elif current is None and name not in self._defaults:  # switched on
                    self.rules[name] = self._defaults[name] = rule
                    self._states[name] = _RuleState()
            for name in [n for n in self._defaults if n not in fresh]:  # switched off
                if self.rules.get(name) is self._defaults.pop(name):
                    self.remove_alert_rule(name)

    def remove_alert_rule(self, name: str) -> bool:
        """Remove a rule; a firing alert of it is closed without notification."""
        with self._lock:
            rule = self.rules.pop(name, None)
            state = self._states.pop(name, None)
        if state is not None and state.alert is not None:
            state.alert.state, state.alert.resolved_at = "resolved", self.clock.time()
        return rule is not None

    def add_notifier(self, notifier: Notifier) -> None:
        """Send future notifications to `notifier` as well."""
        self.dispatcher.add_notifier(notifier)

    def remove_notifier(self, notifier: Notifier) -> bool:
        return self.dispatcher.remove_notifier(notifier)

    def silence(
        self,
        matchers: Mapping[str, str],
        *,
        who: str,
        why: str,
        until: float | None = None,
        duration: float | None = None,
    ) -> Silence:
        """Mute alerts matching `matchers` until `until` (epoch) or for `duration` seconds."""
        now = self.clock.time()
        if (until is None) == (duration is None):
            raise ValueError(
                "give a silence either 'until' (epoch seconds) or 'duration' (seconds)"
            )
        end = until if until is not None else now + float(duration or 0.0)
        return self.silences.add(matchers, end, who, why, now)

    # --------------------------------------------------------------- evaluation
    def evaluate(self) -> list[AlertEvent]:
        """Evaluate every rule now; returns the notifications queued for delivery."""
        now = self.clock.time()
        try:
            metrics = dict(self.provider())
            self.provider_error = None
        except Exception as exc:
            self.provider_error = f"{type(exc).__name__}: {exc}"
            _log.warning("perfkit alert metrics unavailable: %s", self.provider_error)
            return []
        events: list[AlertEvent] = []
        with self._lock:
            self.evaluations += 1
            for name, rule in list(self.rules.items()):
                st = self._states[name]
                try:
                    check = rule.check(metrics, st.state == "firing")
                except Exception as exc:  # a broken rule must not stop the others
                    st.error, st.errors = f"{type(exc).__name__}: {exc}", st.errors + 1
                    continue
                st.error, st.last_value, st.last_evaluated = None, check.value, now
                events.extend(self._step(rule, st, check, now))
            self._expire_external(now)
        self.dispatcher.submit(events)
        return events

    def _step(self, rule: Rule, st: _RuleState, check: Check, now: float) -> list[AlertEvent]:
        if st.state != "firing":
            if not check.breached:
                if st.state == "pending":
                    st.state, st.pending_since = "inactive", None
                return []
            if st.pending_since is None:
                st.pending_since = now
            if now - st.pending_since < rule.for_seconds:
                st.state = "pending"
                return []
            return self._fire(rule, st, check, now)
        alert = st.alert
        assert alert is not None  # firing always carries its alert
        if check.breached:
            st.resolve_since = None
            alert.value = check.value
            if SEVERITY_RANK[check.severity] > SEVERITY_RANK[alert.severity]:
                alert.severity, alert.threshold = check.severity, check.threshold
                alert.message = check.message
                if st.notified:  # escalation is news: notify it (within the hourly cap)
                    return self._notify(alert, st, now, "firing")
            elif (
                self.repeat_interval is not None
                and st.notified
                and st.last_notified_at is not None
                and now - st.last_notified_at >= self.repeat_interval
            ):
                return self._notify(alert, st, now, "firing", repeat=True)
            return []
        if st.resolve_since is None:
            st.resolve_since = now
        if now - st.resolve_since < rule.resolve_for_seconds:
            return []
        alert.state, alert.resolved_at, alert.value = "resolved", now, check.value
        st.state, st.alert, st.pending_since, st.resolve_since = "resolved", None, None, None
        if st.notified and self.silences.match(alert, now) is None:
            st.notified = False
            return [AlertEvent(alert.copy(), "resolved", now)]
        return []

    def _fire(self, rule: Rule, st: _RuleState, check: Check, now: float) -> list[AlertEvent]:
        alert = Alert(
            rule.name, check.severity, "firing", check.value, check.threshold, check.message,
            started_at=now, labels=dict(rule.labels), source="rule",
        )  # fmt: skip
        st.state, st.alert, st.pending_since, st.resolve_since = "firing", alert, None, None
        st.notified = False
        self.history.add(alert, now)
        in_cooldown = (
            st.last_notified_fire is not None
            and now - st.last_notified_fire < rule.cooldown_seconds
        )
        if in_cooldown:
            self.history.count("cooldown")
            return []
        events = self._notify(alert, st, now, "firing")
        if st.notified:
            st.last_notified_fire = now
        return events

    def _notify(
        self, alert: Alert, st: _RuleState | None, now: float, transition: str, repeat: bool = False
    ) -> list[AlertEvent]:
        """Apply silences and the hourly cap; returns the event to send, if any."""
        if self.silences.match(alert, now) is not None:
            self.history.count("silenced")
            return []
        while self._sent and self._sent[0] <= now - 3600.0:
            self._sent.popleft()
        if len(self._sent) >= self.max_alerts_per_hour:
            self.history.count("rate_limited")
            return []
        if self.fleet_gate is not None:
            rule = self.rules.get(alert.name)
            window = float(getattr(rule, "cooldown_seconds", 0) or 60.0)
            key = f"{alert.name}:{alert.severity}:{transition}:{int(repeat)}"
            if not self.fleet_gate(key, window):
                self.history.count("deduplicated")  # another worker of the fleet sent it
                return []
        self._sent.append(now)
        self.history.count(None)
        if st is not None:
            st.notified, st.last_notified_at = True, now
        return [AlertEvent(alert.copy(), transition, now, repeat=repeat)]

    # ------------------------------------------------------------ external alerts
    def ingest_external(self, payload: object) -> Alert:
        """Record (and notify) an external alert ``{name, severity, message, labels?, metrics?}``.

        Raises `AlertPayloadError` (a ValueError) when the payload breaks the schema.
        """
        ext = parse_external(payload)
        now = self.clock.time()
        key = (ext.name, tuple(sorted(ext.labels.items())))
        events: list[AlertEvent] = []
        with self._lock:
            self._expire_external(now)
            current = self._external.get(key)
            if current is None and ext.state != "resolved" and len(self._external) >= MAX_EXTERNAL:
                raise AlertPayloadError(
                    f"{MAX_EXTERNAL} external alerts are firing already; resolve some first"
                )
            if ext.state == "resolved":
                if current is None:
                    raise AlertPayloadError(
                        f"no firing external alert {ext.name!r} with those labels"
                    )
                del self._external[key]
                current.state, current.resolved_at = "resolved", now
                events.append(AlertEvent(current.copy(), "resolved", now))
                alert = current
            elif current is not None:  # a re-send refreshes the alert; no new notification
                current.severity, current.message, current.started_at = (
                    ext.severity,
                    ext.message,
                    now,
                )
                current.metrics, current.value = ext.metrics, first_number(ext.metrics)
                alert = current
            else:
                alert = Alert(
                    ext.name, ext.severity, "firing", first_number(ext.metrics), None,
                    ext.message, started_at=now, labels=ext.labels, source="external",
                    metrics=ext.metrics,
                )  # fmt: skip
                self._external[key] = alert
                self.history.add(alert, now)
                events.extend(self._notify(alert, None, now, "firing"))
        self.dispatcher.submit(events)
        return alert

    def _expire_external(self, now: float) -> None:
        """Close external alerts not re-sent within `external_ttl` (silently: no source said so)."""
        expired = [k for k, a in self._external.items() if now - a.started_at >= self.external_ttl]
        for key in expired:
            alert = self._external.pop(key)
            alert.state, alert.resolved_at = "resolved", now

    # ------------------------------------------------------------------ reading
    def get_active_alerts(self) -> list[Alert]:
        """Firing alerts (rules and external), most severe first."""
        with self._lock:
            alerts = [s.alert for s in self._states.values() if s.alert is not None]
            alerts += list(self._external.values())
        return sorted(alerts, key=lambda a: (-SEVERITY_RANK[a.severity], a.started_at))

    def get_alert_history(self, hours: float = 24, severity: str | None = None) -> list[Alert]:
        """Alerts started in the last `hours`, newest first; ValueError on bad arguments."""
        return self.history.query(self.clock.time(), hours, severity)

    def get_alert_summary(self, hours: float = 24) -> dict[str, Any]:
        """Counts by state, severity, rule and source, notifications sent and suppressed."""
        summary = self.history.summary(self.clock.time(), hours)
        summary["active"] = len(self.get_active_alerts())
        return summary

    def test_rule(self, name: str, send: bool = False) -> dict[str, Any]:
        """Evaluate rule `name` now without changing its state; deliver a test alert if `send`."""
        with self._lock:
            rule = self.rules.get(name)
        if rule is None:
            raise KeyError(f"no alert rule named {name!r}; rules: {', '.join(sorted(self.rules))}")
        result: dict[str, Any] = {"rule": name, "sent": False, "error": None}
        try:
            check = rule.check(dict(self.provider()), firing=False, learn=False)
        except Exception as exc:
            result.update(would_fire=False, error=f"{type(exc).__name__}: {exc}")
            return result
        result.update(
            would_fire=check.breached, severity=check.severity, value=check.value,
            threshold=check.threshold, message=check.message,
        )  # fmt: skip
        if send:
            now = self.clock.time()
            alert = Alert(
                name, check.severity, "firing", check.value, check.threshold, check.message,
                started_at=now, labels={**rule.labels, "test": "true"}, source="rule",
            )  # fmt: skip
            self.dispatcher.submit([AlertEvent(alert.copy(), "firing", now, test=True)])
            result.update(sent=True, notifiers=self.dispatcher.status()["notifiers"])
        return result

    def send_test(self, origin: str = "api", timeout: float = 30.0) -> dict[str, Any]:
        """Send one test notification through every notifier now and report each outcome
        (``{ok, results: [{notifier, sent, error, seconds}]}``); silences and the hourly
        cap do not apply: someone asked for it."""
        from .testsend import send_test

        return send_test(list(self.dispatcher.notifiers), self.clock.time(), origin, timeout)

    def status(self) -> dict[str, Any]:
        """Every rule's state and error, the dispatcher, silences and provider health."""
        with self._lock:
            rules = [
                {**rule.to_dict(), "state": st.state, "last_value": st.last_value,
                 "last_evaluated": st.last_evaluated, "error": st.error, "errors": st.errors}
                for rule, st in ((r, self._states[n]) for n, r in self.rules.items())
            ]  # fmt: skip
        return {
            "rules": rules,
            "errored": [r["name"] for r in rules if r["error"]],
            "active": len(self.get_active_alerts()),
            "evaluations": self.evaluations,
            "provider_error": self.provider_error,
            "silences": [s.to_dict() for s in self.silences.active(self.clock.time())],
            "dispatcher": self.dispatcher.status(),
        }

    # --------------------------------------------------------------- component
    def collect(self) -> Iterable[MetricFamily]:
        family = MetricFamily("app_alerts_firing", "gauge", "Firing alerts, by severity.")
        active = self.get_active_alerts()
        for severity in SEVERITIES:
            family.add(sum(1 for a in active if a.severity == severity), severity=severity)
        return [family]

    def thresholds(self) -> dict[str, dict[str, Any]]:
        """Warning and critical levels by metric, from the rules in force (the default
        ones first); the dashboard colours its tiles with these."""
        with self._lock:
            live = {id(r) for r in self.rules.values()}
            rules = [r for r in [*self._defaults.values(), *self.rules.values()] if id(r) in live]
        return thresholds_of(rules)

    def snapshot(self) -> dict[str, Any]:
        return {
            "active": [a.to_dict() for a in self.get_active_alerts()],
            "summary": self.get_alert_summary(),
            "errored_rules": [n for n, s in self._states.items() if s.error],
        }

    def stop(self) -> None:
        self.dispatcher.stop()
