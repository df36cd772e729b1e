"""The default alert rules, with thresholds taken from `PerfkitSettings` where it has them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..config import PerfkitSettings
from .rules import AlertRule, Rule

__all__ = ["default_rules", "guard_alert_rules", "thresholds_of"]


def default_rules(settings: PerfkitSettings | None = None) -> list[AlertRule]:
    """CPU, memory, disk, slow queries, error rate, DB connections, p95 latency, cache hits,
    backups, guard rejections; with ``alert_request_seconds`` set, one slow request.

    CPU must stay high for a minute before it fires (it is spiky); the others
    fire on the first evaluation past the threshold. The dashboard colours its
    tiles by these same rules (`tile_thresholds`).
    """
    s = settings or PerfkitSettings()
    slow = s.slow_request_threshold
    rules = [
        # the system rules use >=, as /health counts a figure at its level as past it
        AlertRule(
            "high_cpu",
            "system.cpu_percent",
            s.alert_cpu_threshold,
            s.alert_cpu_critical,
            comparison=">=",
            for_seconds=60,
            message_template="CPU usage is {value:.1f}% (threshold {threshold:g}%)",
        ),
        AlertRule(
            "high_memory",
            "system.memory_percent",
            s.alert_memory_threshold,
            s.alert_memory_critical,
            comparison=">=",
            message_template="Memory usage is {value:.1f}% (threshold {threshold:g}%)",
        ),
        AlertRule(
            "high_disk",
            "system.disk_percent",
            s.alert_disk_threshold,
            s.alert_disk_critical,
            comparison=">=",
            message_template="Disk usage is {value:.1f}% (threshold {threshold:g}%)",
        ),
        AlertRule(
            "slow_queries",
            "queries.slow_rate",
            15.0,
            30.0,
            message_template="{value:.1f}% of queries are slow (threshold {threshold:g}%)",
        ),
        AlertRule(
            "high_error_rate",
            "requests.error_rate",
            10.0,
            20.0,
            message_template="API error rate is {value:.1f}% (threshold {threshold:g}%)",
        ),
        AlertRule(
            "db_connections",
            "db.connections",
            critical=50.0,
            message_template="{value:.0f} database connections (threshold {threshold:g})",
        ),
        AlertRule(
            "slow_responses",
            "requests.p95",
            slow / 2,
            slow,
            message_template="p95 response time is {value:.3f} s (limit {threshold:g} s)",
        ),
        AlertRule(
            "low_cache_hit_rate",
            "cache.hit_rate",
            70.0,
            50.0,
            comparison="<",
            message_template="Cache hit rate is {value:.1f}% (below {threshold:g}%)",
        ),
        AlertRule(
            "backup_stale",
            "backup.hours_since_success",
            26.0,
            48.0,
            message_template="No good backup for {value:.0f} h (limit {threshold:g} h)",
        ),
        *guard_alert_rules(),
    ]
    if s.alert_request_seconds > 0:  # off by default: one slow request is often no news
        rules.append(
            AlertRule(
                "slow_request",
                "requests.max",
                s.alert_request_seconds,
                resolve_threshold=s.alert_request_seconds,
                message_template="A request took {value:.3f} s in the last 5 minutes "
                "(limit {threshold:g} s)",
            )
        )
    return rules  # fmt: skip


def thresholds_of(rules: Iterable[Rule]) -> dict[str, dict[str, Any]]:
    """Warning and critical levels by metric, from the first threshold rule on each:
    what the dashboard colours its tiles by, so a tile and its alert agree."""
    out: dict[str, dict[str, Any]] = {}
    for rule in rules:
        warning, critical = getattr(rule, "warning", None), getattr(rule, "critical", None)
        if rule.metric is None or rule.metric in out or (warning is None and critical is None):
            continue
        out[rule.metric] = {"rule": rule.name, "comparison": rule.comparison,
                            "warning": warning, "critical": critical}  # fmt: skip
    return out


def guard_alert_rules() -> list[AlertRule]:
    """The default rule on ``guards.rejection_rate`` (the guards' alert metric): warning at
    10 %, critical at 25 % of guarded requests refused (429 or 413) over five minutes."""
    return [
        AlertRule(
            "high_rejection_rate", "guards.rejection_rate", 10.0, 25.0,
            message_template="{value:.1f}% of requests refused by rate or size limits "
            "(threshold {threshold:g}%)",
        )
    ]  # fmt: skip
