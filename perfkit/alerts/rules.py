"""Alert rules: thresholds with hysteresis and condition callables (anomaly rules: anomaly.py).

A rule keeps no alert state (the manager keeps pending/firing state);
`check(metrics, firing)` answers "is the rule breached now?", where `firing`
tells the rule to apply its resolve threshold (hysteresis) instead of its
firing threshold.
"""

from __future__ import annotations

import math
import operator
import re
import string
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from .model import Severity, check_severity

__all__ = ["AlertRule", "Check", "Metrics", "Rule", "format_message", "number"]

Metrics = Mapping[str, "float | None"]
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_SEED_SEVERITY = {"low": "info", "medium": "warning", "high": "critical", "error": "critical"}


class Check(NamedTuple):
    """The outcome of evaluating a rule once."""

    breached: bool
    severity: Severity
    value: float | None
    threshold: float | None
    message: str


def number(name: str, what: str, value: Any, minimum: float | None = None) -> float:
    """`value` as a finite float (>= `minimum`), or a ValueError naming rule `name` and `what`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"rule {name!r}: {what} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"rule {name!r}: {what} must be >= {minimum:g}, got {value!r}")
    return float(value)


class _Fields(Mapping[str, Any]):
    """Template fields: the rule's own, then metrics by key, group (``{system.cpu_percent}``)
    or last segment (``{cpu_percent}``, as the seed templates wrote them)."""

    def __init__(self, own: Mapping[str, Any], metrics: Metrics) -> None:
        self._own, self._metrics = own, metrics

    def __getitem__(self, key: str) -> Any:
        if key in self._own:
            return self._own[key]
        if key in self._metrics:
            return self._metrics[key]
        prefix = key + "."
        group = {k[len(prefix) :]: v for k, v in self._metrics.items() if k.startswith(prefix)}
        if group:
            return type("MetricGroup", (), group)()
        for name, value in self._metrics.items():
            if name.rsplit(".", 1)[-1] == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Any:
        return iter(self._own)

    def __len__(self) -> int:
        return len(self._own)


_WIDTH = re.compile(r"\d+")


def check_template(name: str, template: str) -> None:
    """Refuse templates that could reach into objects or allocate without bound.

    Fields may name metrics with dots (``{system.cpu_percent}``) but not private
    attributes or indexes, and format widths and precisions stay below 100.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(
            f"rule {name!r}: message_template {template!r} is not valid: {exc}"
        ) from None
    for _, field, spec, _ in parsed:
        if field is None:
            continue
        if "[" in field or any(part.startswith("_") for part in field.split(".")):
            raise ValueError(
                f"rule {name!r}: template field {{{field}}} may name values and metrics only"
            )
        if spec and any(int(n) >= 100 for n in _WIDTH.findall(spec)):
            raise ValueError(f"rule {name!r}: message_template format {spec!r} is too wide (< 100)")


def format_message(template: str, fields: Mapping[str, Any], metrics: Metrics) -> str:
    """Fill `template`; a template naming something absent falls back to a plain message."""
    try:
        return template.format_map(_Fields(fields, metrics))
    except (KeyError, AttributeError, IndexError, ValueError, TypeError) as exc:
        return f"{fields.get('name')}: {fields.get('severity')} (template error: {exc!r})"


class Rule:
    """What every rule has: name, severity, timings, labels, and the metrics it reads."""

    metric: str | None = None
    comparison: str = ">"

    def __init__(
        self,
        name: str,
        *,
        severity: str = "warning",
        for_seconds: float = 0.0,
        cooldown_seconds: float = 900.0,
        resolve_for_seconds: float = 0.0,
        message_template: str | None = None,
        labels: Mapping[str, str] | None = None,
        description: str = "",
    ) -> None:
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValueError(f"rule name must be a non-empty string (<= 200 chars), got {name!r}")
        self.name = name
        self.severity: Severity = check_severity(severity, f"rule {name!r}: severity")
        self.for_seconds = number(name, "for_seconds", for_seconds, 0)
        self.cooldown_seconds = number(name, "cooldown_seconds", cooldown_seconds, 0)
        self.resolve_for_seconds = number(name, "resolve_for_seconds", resolve_for_seconds, 0)
        if message_template is not None and not isinstance(message_template, str):
            raise ValueError(f"rule {name!r}: message_template must be a string")
        if message_template is not None:
            check_template(name, message_template)
        self.message_template = message_template
        self.labels = {str(k): str(v) for k, v in (labels or {}).items()}
        self.description = description

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric keys this rule reads (checked against the known ones at add time)."""
        return (self.metric,) if self.metric else ()

    def check(self, metrics: Metrics, firing: bool, learn: bool = True) -> Check:
        """Evaluate against `metrics`; `firing` selects the resolve threshold."""
        raise NotImplementedError

    def _message(self, metrics: Metrics, default: str, **fields: Any) -> str:
        own = {"name": self.name, "metric": self.metric, "comparison": self.comparison, **fields}
        return format_message(self.message_template or default, own, metrics)

    def to_dict(self) -> dict[str, Any]:
        """The rule's settings as JSON-serialisable values."""
        return {
            "name": self.name,
            "type": type(self).__name__,
            "metric": self.metric,
            "severity": self.severity,
            "for_seconds": self.for_seconds,
            "cooldown_seconds": self.cooldown_seconds,
            "resolve_for_seconds": self.resolve_for_seconds,
            "message_template": self.message_template,
            "labels": dict(self.labels),
            "description": self.description,
        }


class AlertRule(Rule):
    """A threshold rule on one metric (warning and/or critical), or a condition callable.

    For ``>``/``>=`` rules a firing alert resolves once the value is at or below
    `resolve_threshold` (default 95 % of the lowest threshold); ``<``/``<=`` rules
    mirror that (default 105 %). A condition rule fires while ``condition(metrics)``
    is true.
    """

    def __init__(
        self,
        name: str,
        metric: str | None = None,
        warning: float | None = None,
        critical: float | None = None,
        comparison: str = ">",
        for_seconds: float = 0.0,
        cooldown_seconds: float = 900.0,
        message_template: str | None = None,
        *,
        condition: Callable[[Metrics], object] | None = None,
        severity: str = "warning",
        resolve_threshold: float | None = None,
        resolve_for_seconds: float = 0.0,
        labels: Mapping[str, str] | None = None,
        description: str = "",
    ) -> None:
        super().__init__(
            name,
            severity=severity,
            for_seconds=for_seconds,
            cooldown_seconds=cooldown_seconds,
            resolve_for_seconds=resolve_for_seconds,
            message_template=message_template,
            labels=labels,
            description=description,
        )
        if comparison not in _COMPARE:
            raise ValueError(
                f"rule {name!r}: comparison must be one of > >= < <=, got {comparison!r}"
            )
        if metric is not None and (not isinstance(metric, str) or not metric):
            raise ValueError(f"rule {name!r}: metric must be a non-empty string, got {metric!r}")
        self.metric, self.comparison, self.condition = metric, comparison, condition
        self._cmp = _COMPARE[comparison]
        if condition is not None:
            if not callable(condition):
                raise ValueError(f"rule {name!r}: condition must be callable, got {condition!r}")
            self.warning = self.critical = self.resolve_threshold = None
            return
        if metric is None:
            raise ValueError(f"rule {name!r} needs a metric with thresholds, or a condition")
        if warning is None and critical is None:
            raise ValueError(f"rule {name!r} on {metric!r} needs a warning or critical threshold")
        self.warning = None if warning is None else number(name, "warning", warning)
        self.critical = None if critical is None else number(name, "critical", critical)
        past = operator.gt if comparison.startswith(">") else operator.lt  # equal levels are fine
        if (
            self.warning is not None
            and self.critical is not None
            and past(self.warning, self.critical)
        ):
            raise ValueError(
                f"rule {name!r}: warning {self.warning:g} must not be past critical "
                f"{self.critical:g} for comparison {comparison!r}"
            )
        lowest = self.warning if self.warning is not None else self.critical
        if lowest is None:  # unreachable (checked above); keeps the type exact
            raise ValueError(f"rule {name!r} needs a threshold")
        self._lowest = lowest
        self.severity = "warning" if self.warning is not None else "critical"
        above = comparison.startswith(">")
        if resolve_threshold is None:
            margin = 0.05 * abs(lowest)
            resolve_threshold = lowest - margin if above else lowest + margin
        self.resolve_threshold = number(name, "resolve_threshold", resolve_threshold)
        if (above and self.resolve_threshold > lowest) or (
            not above and self.resolve_threshold < lowest
        ):
            raise ValueError(
                f"rule {name!r}: resolve_threshold {self.resolve_threshold:g} must be on the "
                f"healthy side of the threshold {lowest:g}"
            )

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> AlertRule:
        """Build a rule from the seed-style dict (``cooldown_minutes``, ``high``...) or kwargs.

        `to_dict`'s output is accepted as it is (``type``, ``condition: None``).
        """
        data = dict(spec)
        kind = data.pop("type", cls.__name__)
        if kind != cls.__name__:
            raise ValueError(f"alert rule dict has type {kind!r}; expected {cls.__name__!r}")
        if "condition" in data and data["condition"] is None:
            del data["condition"]  # as listed: a threshold rule has no condition
        if "cooldown_minutes" in data:
            minutes = number(
                str(data.get("name")), "cooldown_minutes", data.pop("cooldown_minutes"), 0
            )
            data["cooldown_seconds"] = minutes * 60.0
        if "severity" in data:
            data["severity"] = _SEED_SEVERITY.get(data["severity"], data["severity"])
        allowed = {
            "name", "metric", "warning", "critical", "comparison", "for_seconds",
            "cooldown_seconds", "message_template", "condition", "severity",
            "resolve_threshold", "resolve_for_seconds", "labels", "description",
        }  # fmt: skip
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(
                f"alert rule dict has unknown key(s) {unknown}; expected {sorted(allowed)}"
            )
        if "name" not in data:
            raise ValueError("alert rule dict needs a 'name'")
        return cls(**data)

    def check(self, metrics: Metrics, firing: bool, learn: bool = True) -> Check:
        if self.condition is not None:
            breached = bool(self.condition(metrics))
            value = metrics.get(self.metric) if self.metric else None
            message = (
                self._message(
                    metrics, "{name}: condition is true", value=value, severity=self.severity
                )
                if breached
                else f"{self.name}: condition is false"
            )
            return Check(breached, self.severity, value, None, message)
        value = metrics.get(self.metric) if self.metric else None
        if value is None:  # no data: keep whatever state the rule is in
            return Check(
                firing, self.severity, None, None, f"{self.name}: no data for {self.metric}"
            )
        severity: Severity | None = None
        if self.critical is not None and self._cmp(value, self.critical):
            severity, threshold = "critical", self.critical
        elif self.warning is not None and self._cmp(value, self.warning):
            severity, threshold = "warning", self.warning
        else:
            threshold = self._lowest
        # hysteresis: inside the band between resolve and firing thresholds the alert holds
        hold = self.resolve_threshold is not None and self._cmp(value, self.resolve_threshold)
        if severity is None and firing and hold:
            severity = self.severity
        if severity is None:  # formatting costs more than the check: only for alerts
            return Check(False, self.severity, value, threshold, f"{self.name}: {value:.4g} is ok")
        default = "{name}: {metric} is {value:.4g} ({comparison} {threshold:g}, {severity})"
        message = self._message(
            metrics, default, value=value, threshold=threshold, severity=severity
        )
        return Check(True, severity, value, threshold, message)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            comparison=self.comparison,
            warning=self.warning,
            critical=self.critical,
            resolve_threshold=self.resolve_threshold,
            condition=None if self.condition is None else getattr(self.condition, "__name__", "?"),
        )
        return out
