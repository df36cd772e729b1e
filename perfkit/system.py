"""SystemMonitor: CPU, memory, disk, network and process figures from psutil, never blocking."""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

from .clock import Clock, SystemClock
from .component import Component
from .metrics.families import MetricFamily
from .system_history import SampleHistory
from .system_sample import SystemMetrics

__all__ = ["SystemMetrics", "SystemMonitor", "history_length", "thresholds_from_settings"]

_log = logging.getLogger("perfkit.system")

DEFAULT_WARNING = {"cpu": 80.0, "ram": 85.0, "disk": 90.0}
DEFAULT_CRITICAL = {"cpu": 95.0, "ram": 95.0, "disk": 95.0}
_LABELS = {"cpu": "CPU usage", "ram": "memory usage", "disk": "disk usage"}


class SystemMonitor(Component):
    """Samples the machine with psutil; optionally in the background with a bounded history.

    Args:
        warning_threshold: percent thresholds by ``cpu``/``ram``/``disk`` for `warning`.
        critical_threshold: the same for `critical`.
        disk_paths: the mount points to measure (default: the root of the current drive).
        interval: seconds between background samples when started by the kit.
        max_history: how many samples the background sampler keeps (the kit: the
            ``system_history_hours`` at ``monitoring_interval``).
        psutil_module: the psutil module (tests inject a fake).
        clock: where timestamps come from.
    """

    def __init__(
        self,
        warning_threshold: Mapping[str, float] | None = None,
        critical_threshold: Mapping[str, float] | None = None,
        *,
        disk_paths: Sequence[str] | None = None,
        interval: float = 60.0,
        max_history: int = 1440,
        psutil_module: ModuleType | Any | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.warning_threshold = _thresholds(
            "warning_threshold", DEFAULT_WARNING, warning_threshold
        )
        self.critical_threshold = _thresholds(
            "critical_threshold", DEFAULT_CRITICAL, critical_threshold
        )
        _check_interval(interval)
        ps: Any = psutil_module
        if ps is None:
            import psutil as ps
        self._ps = ps
        self.clock: Clock = clock or SystemClock()
        self.disk_paths = list(disk_paths) if disk_paths else [os.path.abspath(os.sep)]
        self.interval = interval

        self.history = SampleHistory(max_history)  # packed: about 250 bytes a sample
        self.disks: dict[str, dict[str, float]] = {}
        self.on_sample: list[Callable[[SystemMetrics], None]] = []
        # fleet mode: claim(interval) -> bool, publish(dict), fetch() -> dict | None
        self.shared: Any = None
        self.sampled = 0
        self.adopted = 0
        self.errors = 0
        self._latest: SystemMetrics | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cpu_count = int(self._ps.cpu_count() or 1)
        self._proc = self._ps.Process()
        # prime CPU %: until a measurable window has passed, report the since-boot average
        self._cpu_prev = self._ps.cpu_times()
        self._cpu_percent = _busy_percent(self._cpu_prev, None)
        self._cpu_measured = False  # the since-boot average says nothing about health
        self._proc_prev: dict[int, tuple[float, float]] = {}
        self._proc_prev_at = self.clock.monotonic()

    # --------------------------------------------------------------- sampling
    def _cpu(self) -> float:
        """CPU busy percent since the previous call, from cpu_times deltas (no sleep)."""
        now = self._ps.cpu_times()
        if sum(now) - sum(self._cpu_prev) < 0.05 * self._cpu_count:
            return self._cpu_percent  # under ~50 ms: too short to measure, keep the last value
        self._cpu_percent = _busy_percent(now, self._cpu_prev)
        self._cpu_prev = now
        self._cpu_measured = True
        return self._cpu_percent

    def _disk(self) -> dict[str, dict[str, float]]:
        disks = {}
        for path in self.disk_paths:
            try:
                du = self._ps.disk_usage(path)
            except OSError as exc:
                _log.debug("disk_usage(%r) failed: %s", path, exc)
                continue
            disks[path] = {
                "total": du.total,
                "used": du.used,
                "free": du.free,
                "percent": du.percent,
            }
        return disks

    def get_current_metrics(self) -> SystemMetrics:
        """Take one sample now (no blocking sleeps); also becomes the latest sample."""
        ps = self._ps
        with self._lock:
            cpu = self._cpu()
        vm = ps.virtual_memory()
        sw = ps.swap_memory()
        disks = self._disk()
        first = disks.get(self.disk_paths[0], {"total": 0, "used": 0, "free": 0, "percent": 0.0})
        net = ps.net_io_counters()
        try:
            load = tuple(float(x) for x in ps.getloadavg())
        except (AttributeError, OSError):
            load = (0.0, 0.0, 0.0)
        metrics = SystemMetrics(
            timestamp=self.clock.time(),
            cpu_percent=cpu,
            cpu_count=self._cpu_count,
            load_avg=(load[0], load[1], load[2]),
            ram_total=vm.total,
            ram_used=vm.used,
            ram_available=vm.available,
            ram_percent=float(vm.percent),
            swap_total=sw.total,
            swap_used=sw.used,
            swap_percent=float(sw.percent),
            disk_total=int(first["total"]),
            disk_used=int(first["used"]),
            disk_free=int(first["free"]),
            disk_percent=float(first["percent"]),
            net_bytes_sent=net.bytes_sent if net else 0,
            net_bytes_recv=net.bytes_recv if net else 0,
            net_packets_sent=net.packets_sent if net else 0,
            net_packets_recv=net.packets_recv if net else 0,
            process_count=len(ps.pids()),
            thread_count=self._proc.num_threads(),
        )
        self.disks = disks
        self._latest = metrics
        return metrics

    def latest(self) -> SystemMetrics:
        """The most recent sample, taking one if there is none yet."""
        return self._latest if self._latest is not None else self.get_current_metrics()

    def get_process_metrics(self, top_n: int = 10) -> list[dict[str, Any]]:
        """The `top_n` processes by CPU %, then memory; CPU % since the previous call.

        A process seen for the first time gets its lifetime average, so no
        call ever sleeps to measure.
        """
        if not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1:
            raise ValueError(f"top_n must be a positive integer, got {top_n!r}")
        attrs = [
            "pid",
            "name",
            "cpu_times",
            "memory_info",
            "memory_percent",
            "status",
            "create_time",
        ]
        now_mono = self.clock.monotonic()
        now_wall = self.clock.time()
        with self._lock:
            prev, elapsed = self._proc_prev, now_mono - self._proc_prev_at
            seen: dict[int, tuple[float, float]] = {}
            rows = []
            for proc in self._ps.process_iter(attrs):
                info = proc.info
                times = info.get("cpu_times")
                if times is None:
                    continue  # access denied: nothing to rank it by
                used = float(times.user + times.system)
                created = float(info.get("create_time") or 0.0)
                seen[info["pid"]] = (created, used)
                before = prev.get(info["pid"])
                if before is not None and before[0] == created and elapsed > 0:
                    cpu = (used - before[1]) / elapsed * 100.0
                else:
                    cpu = used / max(now_wall - created, 1.0) * 100.0
                mem = info.get("memory_info")
                rows.append(
                    {
                        "pid": info["pid"],
                        "name": info.get("name") or "",
                        "cpu_percent": round(max(cpu, 0.0), 2),
                        "memory_mb": round(mem.rss / 1048576, 2) if mem is not None else 0.0,
                        "memory_percent": round(float(info.get("memory_percent") or 0.0), 2),
                        "status": info.get("status") or "unknown",
                    }
                )
            self._proc_prev, self._proc_prev_at = seen, now_mono
        rows.sort(key=lambda r: (r["cpu_percent"], r["memory_percent"]), reverse=True)
        return rows[:top_n]

    # ------------------------------------------------------------------ views
    def get_health_status(self, metrics: SystemMetrics | None = None) -> dict[str, Any]:
        """``{status, timestamp, metrics: {cpu_percent, ram_percent, disk_percent}, warnings}``."""
        try:
            m = metrics if metrics is not None else self.get_current_metrics()
        except Exception as exc:  # psutil failed: say we do not know, do not raise
            self.errors += 1
            _log.debug("system sample failed: %s", exc, exc_info=True)
            return {
                "status": "unknown",
                "timestamp": self.clock.time(),
                "metrics": {"cpu_percent": None, "ram_percent": None, "disk_percent": None},
                "warnings": [f"system metrics unavailable: {type(exc).__name__}: {exc}"],
            }
        values = {"ram": m.ram_percent}
        cpu = self._sustained_cpu(m)
        if cpu is not None:
            values = {"cpu": cpu, **values}
        for path, disk in (self.disks or {self.disk_paths[0]: {"percent": m.disk_percent}}).items():
            values[f"disk {path}"] = disk["percent"]
        status, warnings = "healthy", []
        for key, value in values.items():
            kind = key.split(" ")[0]
            what = _LABELS[kind] + key[len(kind) :]
            if value >= self.critical_threshold[kind]:
                status = "critical"
                limit, level = self.critical_threshold[kind], "critical"
            elif value >= self.warning_threshold[kind]:
                status = "warning" if status != "critical" else status
                limit, level = self.warning_threshold[kind], "warning"
            else:
                continue
            warnings.append(f"{what} is {value:.1f}% (>= {level} threshold {limit:g}%)")
        return {
            "status": status,
            "timestamp": m.timestamp,
            "metrics": {
                "cpu_percent": m.cpu_percent,
                "ram_percent": m.ram_percent,
                "disk_percent": m.disk_percent,
            },
            "warnings": warnings,
        }

    def _sustained_cpu(self, m: SystemMetrics) -> float | None:
        """CPU as health judges it: the lowest reading of the last minute (as the default
        CPU rule must hold for 60 s), so one busy interval is no outage; None before any
        interval was measured (the since-boot average is no reading of now)."""
        if not self._cpu_measured:
            return None
        recent = [s.cpu_percent for s in self.history.last(7) if m.timestamp - s.timestamp < 60]
        return min([m.cpu_percent, *recent])

    def get_metrics_summary(self, last_n: int = 60) -> dict[str, Any]:
        """avg/min/max/current of CPU, RAM, swap and disk % over the last `last_n` samples."""
        if not isinstance(last_n, int) or isinstance(last_n, bool) or last_n < 1:
            raise ValueError(f"last_n must be a positive integer, got {last_n!r}")
        samples = self.history.last(last_n)
        out: dict[str, Any] = {"samples": len(samples)}
        for field in ("cpu_percent", "ram_percent", "swap_percent", "disk_percent"):
            values = [getattr(s, field) for s in samples]
            out[field] = (
                {
                    "avg": round(sum(values) / len(values), 2),
                    "min": min(values),
                    "max": max(values),
                    "current": values[-1],
                }
                if values
                else {"avg": None, "min": None, "max": None, "current": None}
            )
        return out

    # ------------------------------------------------------------- background
    def sample(self) -> SystemMetrics | None:
        """Take a sample, keep it in the history and call the `on_sample` callbacks.

        With `shared` set (fleet mode), one process per host samples and
        publishes; the others adopt its sample instead of reading psutil again.
        """
        try:
            metrics = self._adopt() if self.shared is not None else None
            if metrics is None:
                metrics = self.get_current_metrics()
                if self.shared is not None:
                    self.shared.publish({**metrics.to_dict(), "disks": dict(self.disks)})
                self.sampled += 1
            else:
                self.adopted += 1
        except Exception as exc:  # a failed sample must not kill the sampler
            self.errors += 1
            _log.debug("system sample failed: %s", exc, exc_info=True)
            return None
        self.history.append(metrics)
        for callback in list(self.on_sample):
            try:
                callback(metrics)
            except Exception:
                self.errors += 1
                _log.exception("perfkit on_sample callback %r failed", callback)
        return metrics

    def settings_changed(self, settings: Any) -> None:
        """Apply run-time settings: the sampling interval (taken at the next wait), the
        thresholds and the history length."""
        _check_interval(settings.monitoring_interval)
        self.interval = settings.monitoring_interval
        warning, critical = thresholds_from_settings(settings)
        self.warning_threshold = _thresholds("warning_threshold", DEFAULT_WARNING, warning)
        self.critical_threshold = _thresholds("critical_threshold", DEFAULT_CRITICAL, critical)
        keep = history_length(settings)
        if keep != self.history.maxlen:
            self.history.resize(keep)  # the newest samples stay

    def _adopt(self) -> SystemMetrics | None:
        """Another process of this host sampled: take its figures (None: sample here)."""
        shared = self.shared
        if shared is None or shared.claim(self.interval):
            return None
        data = shared.fetch()
        if not data:
            return None
        self.disks = {str(k): dict(v) for k, v in dict(data.pop("disks", {})).items()}
        data["load_avg"] = tuple(data["load_avg"])
        metrics = SystemMetrics(**data)
        self._latest = metrics
        return metrics

    def start_monitoring(self, interval: float | None = None) -> None:
        """Sample every `interval` seconds on a daemon thread until `stop_monitoring()`."""
        if interval is not None:
            _check_interval(interval)
            self.interval = interval
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="perfkit-system", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)  # wakes at once on stop_monitoring()

    def stop_monitoring(self, timeout: float = 5.0) -> None:
        """Stop the sampler and wait (up to `timeout`) for its thread to end."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def monitoring(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -------------------------------------------------------------- component
    def start(self) -> None:
        self.start_monitoring()

    def stop(self) -> None:
        self.stop_monitoring()

    def alert_metrics(self) -> dict[str, float | None]:
        """``system.*`` keys for alert rules, from the latest sample."""
        m = self.latest()
        return {
            "system.cpu_percent": m.cpu_percent,
            "system.memory_percent": m.ram_percent,
            "system.swap_percent": m.swap_percent,
            "system.disk_percent": max((d["percent"] for d in self.disks.values()), default=None),
            "system.load_avg": m.load_avg[0],
        }

    def snapshot(self) -> dict[str, Any]:
        """The latest sample, per-path disks and health, for ``kit.snapshot()``."""
        m = self.latest()
        return {
            "current": m.to_dict(),
            "disks": {path: dict(d) for path, d in self.disks.items()},
            "health": self.get_health_status(m),
            "samples": len(self.history),
        }

    def collect(self) -> Iterable[MetricFamily]:
        """``system_*`` families for ``/metrics`` (from the latest sample)."""
        m = self.latest()
        cpu = MetricFamily("system_cpu_usage_percent", "gauge", "CPU busy percent.")
        cpu.add(m.cpu_percent)
        mem_b = MetricFamily("system_memory_usage_bytes", "gauge", "Memory used, in bytes.")
        mem_b.add(m.ram_used)
        mem_p = MetricFamily("system_memory_usage_percent", "gauge", "Memory used, percent.")
        mem_p.add(m.ram_percent)
        disk_b = MetricFamily("system_disk_usage_bytes", "gauge", "Disk used, in bytes, by path.")
        disk_p = MetricFamily("system_disk_usage_percent", "gauge", "Disk used, percent, by path.")
        for path, d in sorted(self.disks.items()):
            disk_b.add(d["used"], path=path)
            disk_p.add(d["percent"], path=path)
        sent = MetricFamily("system_network_bytes_sent", "counter", "Bytes sent on all interfaces.")
        sent.add(m.net_bytes_sent, "_total")
        recv = MetricFamily(
            "system_network_bytes_recv", "counter", "Bytes received, all interfaces."
        )
        recv.add(m.net_bytes_recv, "_total")
        return [cpu, mem_b, mem_p, disk_b, disk_p, sent, recv]


def thresholds_from_settings(settings: Any) -> tuple[dict[str, float], dict[str, float]]:
    """(warning, critical) percentages by cpu/ram/disk from ``alert_*_threshold`` and
    ``alert_*_critical``: the same levels as the default alert rules."""
    s = settings
    warning = {"cpu": s.alert_cpu_threshold, "ram": s.alert_memory_threshold,
               "disk": s.alert_disk_threshold}  # fmt: skip
    critical = {"cpu": s.alert_cpu_critical, "ram": s.alert_memory_critical,
                "disk": s.alert_disk_critical}  # fmt: skip
    return warning, critical


def history_length(settings: Any) -> int:
    """Samples in ``system_history_hours`` at ``monitoring_interval`` (at least one)."""
    samples = float(settings.system_history_hours) * 3600 / float(settings.monitoring_interval)
    return max(1, math.ceil(samples))


def _busy_percent(now: Any, prev: Any) -> float:
    """Busy CPU percent between two `cpu_times()` readings (since boot when `prev` is None)."""
    total = float(sum(now)) - (float(sum(prev)) if prev is not None else 0.0)
    idle = float(now.idle + getattr(now, "iowait", 0.0))
    if prev is not None:
        idle -= prev.idle + getattr(prev, "iowait", 0.0)
    if total <= 0:
        return 0.0
    return round(min(max(100.0 * (total - idle) / total, 0.0), 100.0), 2)


def _check_interval(interval: float) -> None:
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:
        raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")


def _thresholds(
    what: str, defaults: Mapping[str, float], given: Mapping[str, float] | None
) -> dict[str, float]:
    out = dict(defaults)
    for key, value in (given or {}).items():
        if key not in defaults:
            raise ValueError(f"{what} has unknown key {key!r}; expected one of cpu, ram, disk")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise ValueError(f"{what}[{key!r}] = {value!r} must be a percentage in [0, 100]")
        out[key] = float(value)
    return out
