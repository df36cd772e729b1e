"""`AnomalyRule`: alert when a metric leaves its own learned baseline (EWMA mean and deviation)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

from .rules import _SEED_SEVERITY, AlertRule, Check, Metrics, Rule, number

__all__ = ["AnomalyRule", "anomaly_rule_from_dict", "rule_from_dict"]


class AnomalyRule(Rule):
    """Fires when a metric departs from its own EWMA baseline by more than `k` deviations.

    The baseline (exponentially weighted mean and deviation, weight `alpha`)
    is learned from every sample; the rule may not fire during the first
    `warmup` samples. While the value is anomalous the baseline learns ten
    times slower, so a sustained anomaly keeps firing for a while but a lasting
    level shift is eventually accepted as the new normal. Deviation has a floor
    (`min_deviation`, or 1 % of the mean) so a flat metric does not alert on noise.

    Args:
        direction: ``up`` (only rises alert), ``down``, or ``both``.
        resolve_k: deviations under which a firing anomaly resolves (default 0.8·k).
    """

    def __init__(
        self,
        name: str,
        metric: str,
        k: float = 3.0,
        *,
        alpha: float = 0.1,
        warmup: int = 30,
        for_seconds: float = 60.0,
        direction: str = "up",
        severity: str = "warning",
        cooldown_seconds: float = 900.0,
        resolve_for_seconds: float = 0.0,
        resolve_k: float | None = None,
        min_deviation: float = 0.0,
        message_template: str | None = None,
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
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"rule {name!r}: metric must be a non-empty string, got {metric!r}")
        if direction not in ("up", "down", "both"):
            raise ValueError(
                f"rule {name!r}: direction must be up, down or both, got {direction!r}"
            )
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
            raise ValueError(f"rule {name!r}: warmup must be a positive integer, got {warmup!r}")
        self.metric, self.direction, self.warmup = metric, direction, warmup
        self._metric = metric
        self.comparison = {"up": ">", "down": "<", "both": "!="}[direction]
        self.k = number(name, "k", k, 0.1)
        self.alpha = number(name, "alpha", alpha, 1e-6)
        if self.alpha > 1:
            raise ValueError(f"rule {name!r}: alpha must be in (0, 1], got {alpha!r}")
        self.resolve_k = (
            self.k * 0.8 if resolve_k is None else number(name, "resolve_k", resolve_k, 0)
        )
        self.min_deviation = number(name, "min_deviation", min_deviation, 0)
        self.mean = 0.0
        self.var = 0.0
        self.samples = 0

    def _score(self, value: float) -> tuple[float, float]:
        """(signed deviations from the mean, the deviation used)."""
        dev = max(math.sqrt(self.var), self.min_deviation, 0.01 * abs(self.mean), 1e-12)
        return (value - self.mean) / dev, dev

    def _learn(self, value: float, anomalous: bool) -> None:
        if self.samples == 0:
            self.mean = value
        else:
            alpha = self.alpha / 10 if anomalous else self.alpha
            diff = value - self.mean
            self.mean += alpha * diff
            self.var = (1 - alpha) * (self.var + alpha * diff * diff)
        self.samples += 1

    def check(self, metrics: Metrics, firing: bool, learn: bool = True) -> Check:
        value = metrics.get(self._metric)
        if value is None:
            return Check(
                firing, self.severity, None, None, f"{self.name}: no data for {self.metric}"
            )
        score, dev = self._score(value)
        directed = {"up": score, "down": -score, "both": abs(score)}[self.direction]
        limit = self.resolve_k if firing else self.k
        breached = self.samples >= self.warmup and directed > limit
        mean = self.mean
        threshold = mean + (-1.0 if self.direction == "down" else 1.0) * self.k * dev
        if learn:
            self._learn(value, breached)
        if not breached:
            return Check(False, self.severity, value, threshold, f"{self.name}: {value:.4g} is ok")
        default = (
            "{name}: {metric} is {value:.4g}, {score:.1f} deviations from its baseline {mean:.4g}"
        )
        message = self._message(
            metrics, default, value=value, threshold=threshold, severity=self.severity,
            score=score, mean=mean,
        )  # fmt: skip
        return Check(True, self.severity, value, threshold, message)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            k=self.k, alpha=self.alpha, warmup=self.warmup, direction=self.direction,
            resolve_k=self.resolve_k, min_deviation=self.min_deviation,
            baseline_mean=self.mean, baseline_deviation=math.sqrt(self.var), samples=self.samples,
        )  # fmt: skip
        return out


# what `AnomalyRule.to_dict` adds that describes the learned state, not the settings
_STATE_FIELDS = ("comparison", "baseline_mean", "baseline_deviation", "samples")


def anomaly_rule_from_dict(spec: Mapping[str, Any]) -> AnomalyRule:
    """An `AnomalyRule` from its `to_dict` form (the learned state is not restored)."""
    data = {k: v for k, v in spec.items() if k not in _STATE_FIELDS}
    kind = data.pop("type", "AnomalyRule")
    if kind != "AnomalyRule":
        raise ValueError(f"anomaly rule dict has type {kind!r}; expected 'AnomalyRule'")
    if "cooldown_minutes" in data:
        minutes = number(str(data.get("name")), "cooldown_minutes", data.pop("cooldown_minutes"), 0)
        data["cooldown_seconds"] = minutes * 60.0
    if "severity" in data:
        data["severity"] = _SEED_SEVERITY.get(data["severity"], data["severity"])
    allowed = set(inspect.signature(AnomalyRule.__init__).parameters) - {"self"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(
            f"anomaly rule dict has unknown key(s) {unknown}; expected {sorted(allowed)}"
        )
    if "name" not in data or "metric" not in data:
        raise ValueError("an anomaly rule dict needs a 'name' and a 'metric'")
    return AnomalyRule(**data)


def rule_from_dict(spec: Mapping[str, Any]) -> Rule:
    """A rule from a dict as `Rule.to_dict` writes it (``type`` picks it; default AlertRule)."""
    if spec.get("type", "AlertRule") == "AnomalyRule":
        return anomaly_rule_from_dict(spec)
    return AlertRule.from_dict(spec)
