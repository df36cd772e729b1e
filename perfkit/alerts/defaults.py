"""The default alert rules, with thresholds taken from `PerfkitSettings` where it has them."""

from __future__ import annotations

from ..config import PerfkitSettings
from .rules import AlertRule

__all__ = ["default_rules"]


def default_rules(settings: PerfkitSettings | None = None) -> list[AlertRule]:
    """CPU, memory, disk, slow queries, error rate, DB connections, p95 latency, cache hits.

    CPU must stay high for a minute before it fires (it is spiky); the others
    fire on the first evaluation past the threshold.
    """
    s = settings or PerfkitSettings()
    from ..guards import guard_alert_rules  # lazy: the guards package imports alerts

    cpu, mem, disk = s.alert_cpu_threshold, s.alert_memory_threshold, s.alert_disk_threshold
    slow = s.slow_request_threshold
    return [
        AlertRule("high_cpu", "system.cpu_percent", cpu, max(90.0, cpu), for_seconds=60,
                  message_template="CPU usage is {value:.1f}% (threshold {threshold:g}%)"),
        AlertRule("high_memory", "system.memory_percent", mem, max(90.0, mem),
                  message_template="Memory usage is {value:.1f}% (threshold {threshold:g}%)"),
        AlertRule("high_disk", "system.disk_percent", disk, max(95.0, disk),
                  message_template="Disk usage is {value:.1f}% (threshold {threshold:g}%)"),
        AlertRule("slow_queries", "queries.slow_rate", 15.0, 30.0,
                  message_template="{value:.1f}% of queries are slow (threshold {threshold:g}%)"),
        AlertRule("high_error_rate", "requests.error_rate", 10.0, 20.0,
                  message_template="API error rate is {value:.1f}% (threshold {threshold:g}%)"),
        AlertRule("db_connections", "db.connections", critical=50.0,
                  message_template="{value:.0f} database connections (threshold {threshold:g})"),
        AlertRule("slow_responses", "requests.p95", slow / 2, slow,
                  message_template="p95 response time is {value:.3f} s (limit {threshold:g} s)"),
        AlertRule("low_cache_hit_rate", "cache.hit_rate", 70.0, comparison="<",
                  message_template="Cache hit rate is {value:.1f}% (below {threshold:g}%)"),
        AlertRule("backup_stale", "backup.hours_since_success", 26.0, 48.0,
                  message_template="No good backup for {value:.0f} h (limit {threshold:g} h)"),
        *guard_alert_rules(),
    ]  # fmt: skip
