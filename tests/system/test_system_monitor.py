"""SystemMonitor: shapes, non-blocking CPU %, thresholds, history and the background sampler."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import namedtuple
from types import SimpleNamespace
from typing import Any

import pytest

from perfkit.system import SystemMetrics, SystemMonitor
from perfkit.testing import FakeClock

CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait")
Mem = namedtuple("Mem", "total available percent used free")
Swap = namedtuple("Swap", "total used free percent sin sout")
Disk = namedtuple("Disk", "total used free percent")
Net = namedtuple("Net", "bytes_sent bytes_recv packets_sent packets_recv")
ProcTimes = namedtuple("ProcTimes", "user system")
MemInfo = namedtuple("MemInfo", "rss vms")

DESIGN_FIELDS = [
    "timestamp", "cpu_percent", "cpu_count", "load_avg", "ram_total", "ram_used",
    "ram_available", "ram_percent", "swap_total", "swap_used", "swap_percent", "disk_total",
    "disk_used", "disk_free", "disk_percent", "net_bytes_sent", "net_bytes_recv",
    "net_packets_sent", "net_packets_recv", "process_count", "thread_count",
]  # fmt: skip


class FakePsutil:
    """The psutil calls SystemMonitor makes, with values the test controls."""

    def __init__(self) -> None:
        self.busy, self.idle = 100.0, 900.0
        self.ram_percent = 40.0
        self.disk_percent = {"/": 50.0, "/data": 70.0}
        self.procs: list[dict[str, Any]] = []
        self.fail = False

    def cpu_count(self) -> int:
        return 4

    def cpu_times(self) -> CpuTimes:
        return CpuTimes(self.busy, 0.0, 0.0, self.idle, 0.0)

    def getloadavg(self) -> tuple[float, float, float]:
        return (1.5, 1.0, 0.5)

    def virtual_memory(self) -> Mem:
        if self.fail:
            raise OSError("no /proc")
        total = 8 * 2**30
        used = int(total * self.ram_percent / 100)
        return Mem(total, total - used, self.ram_percent, used, total - used)

    def swap_memory(self) -> Swap:
        return Swap(2**30, 2**28, 3 * 2**28, 25.0, 0, 0)

    def disk_usage(self, path: str) -> Disk:
        if path not in self.disk_percent:
            raise FileNotFoundError(path)
        pct = self.disk_percent[path]
        return Disk(1000, int(10 * pct), 1000 - int(10 * pct), pct)

    def net_io_counters(self) -> Net:
        return Net(1000, 2000, 10, 20)

    def pids(self) -> list[int]:
        return [1, 2, 3]

    def Process(self) -> Any:
        return SimpleNamespace(num_threads=lambda: 7)

    def process_iter(self, attrs: list[str]) -> list[Any]:
        return [SimpleNamespace(info=dict(p)) for p in self.procs]


def make(**kwargs: Any) -> tuple[SystemMonitor, FakePsutil, FakeClock]:
    ps, clock = FakePsutil(), FakeClock()
    kwargs.setdefault("disk_paths", ["/", "/data"])
    return SystemMonitor(psutil_module=ps, clock=clock, **kwargs), ps, clock


def test_metrics_have_exactly_the_documented_fields_and_serialise() -> None:
    """SystemMetrics has DESIGN's fields, in bytes, and to_dict() is JSON-serialisable."""
    monitor, _, clock = make()
    m = monitor.get_current_metrics()
    assert [f.name for f in dataclasses.fields(SystemMetrics)] == DESIGN_FIELDS
    d = m.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["load_avg"] == [1.5, 1.0, 0.5]
    assert (m.cpu_count, m.process_count, m.thread_count) == (4, 3, 7)
    assert (m.disk_percent, m.disk_total, m.disk_used) == (50.0, 1000, 500)
    assert m.ram_total == 8 * 2**30 and m.ram_percent == 40.0
    assert m.timestamp == clock.time()


def test_first_cpu_reading_is_real_because_it_is_primed_at_construction() -> None:
    """Before a window has passed: the since-boot average; then it measures from construction."""
    monitor, ps, _ = make()
    assert monitor.get_current_metrics().cpu_percent == 10.0  # 100 busy of 1000 since boot
    ps.busy += 30.0  # 30 s busy, 10 s idle since construction
    ps.idle += 10.0
    assert monitor.get_current_metrics().cpu_percent == 75.0
    assert monitor.get_current_metrics().cpu_percent == 75.0  # no time passed: unchanged
    ps.idle += 10.0
    assert monitor.get_current_metrics().cpu_percent == 0.0


def test_disk_per_configured_path_and_missing_path_skipped() -> None:
    """Each path is measured; a failing path is left out, not fatal."""
    monitor, _, _ = make(disk_paths=["/", "/data", "/missing"])
    monitor.get_current_metrics()
    assert set(monitor.disks) == {"/", "/data"}
    assert monitor.alert_metrics()["system.disk_percent"] == 70.0  # the fullest disk


@pytest.mark.parametrize(
    ("ram", "disk", "status", "n_warnings"),
    [(40.0, 50.0, "healthy", 0), (90.0, 50.0, "warning", 1), (99.0, 96.0, "critical", 3)],
)
def test_health_status_follows_thresholds(
    ram: float, disk: float, status: str, n_warnings: int
) -> None:
    """healthy/warning/critical with one warning sentence per value past a threshold."""
    monitor, ps, _ = make()
    ps.ram_percent, ps.disk_percent["/"], ps.disk_percent["/data"] = ram, disk, disk
    health = monitor.get_health_status()
    assert health["status"] == status
    assert len(health["warnings"]) == n_warnings
    assert set(health["metrics"]) == {"cpu_percent", "ram_percent", "disk_percent"}


def test_custom_thresholds_and_unknown_when_psutil_fails() -> None:
    """Thresholds are configurable; a failing psutil gives `unknown`, not an exception."""
    monitor, ps, _ = make(warning_threshold={"ram": 30}, critical_threshold={"ram": 35})
    assert monitor.get_health_status()["status"] == "critical"
    ps.fail = True
    health = monitor.get_health_status()
    assert health["status"] == "unknown" and "OSError" in health["warnings"][0]


def test_bad_arguments_name_the_value() -> None:
    """Bad thresholds, intervals and sizes fail with messages that name them."""
    ps = FakePsutil()
    with pytest.raises(ValueError, match="gpu"):
        SystemMonitor({"gpu": 1}, psutil_module=ps)
    with pytest.raises(ValueError, match="150"):
        SystemMonitor(critical_threshold={"cpu": 150}, psutil_module=ps)
    with pytest.raises(ValueError, match="interval"):
        SystemMonitor(interval=0, psutil_module=ps)
    monitor = SystemMonitor(psutil_module=ps)
    with pytest.raises(ValueError, match="top_n"):
        monitor.get_process_metrics(0)
    with pytest.raises(ValueError, match="last_n"):
        monitor.get_metrics_summary(-1)


def test_process_metrics_two_passes_without_sleeping() -> None:
    """First call: lifetime average; next call: CPU % over the time between calls."""
    monitor, ps, clock = make()
    start = clock.time()
    ps.procs = [
        {"pid": 10, "name": "db", "cpu_times": ProcTimes(50.0, 50.0), "create_time": start - 1000,
         "memory_info": MemInfo(200 * 2**20, 0), "memory_percent": 2.5, "status": "sleeping"},
        {"pid": 11, "name": "web", "cpu_times": ProcTimes(1.0, 0.0), "create_time": start - 100,
         "memory_info": MemInfo(50 * 2**20, 0), "memory_percent": 0.6, "status": "running"},
        {"pid": 12, "name": "denied", "cpu_times": None, "create_time": None,
         "memory_info": None, "memory_percent": None, "status": None},
    ]  # fmt: skip
    first = monitor.get_process_metrics(top_n=5)
    assert [p["pid"] for p in first] == [10, 11]
    assert first[0] == {"pid": 10, "name": "db", "cpu_percent": 10.0, "memory_mb": 200.0,
                        "memory_percent": 2.5, "status": "sleeping"}  # fmt: skip
    clock.advance(10)
    ps.procs[1]["cpu_times"] = ProcTimes(6.0, 0.0)  # web used 5 s of CPU in 10 s
    second = monitor.get_process_metrics(top_n=1)
    assert second == [{"pid": 11, "name": "web", "cpu_percent": 50.0, "memory_mb": 50.0,
                       "memory_percent": 0.6, "status": "running"}]  # fmt: skip


def test_summary_over_history() -> None:
    """avg/min/max/current over the last n samples taken by sample()."""
    monitor, ps, _ = make()
    assert monitor.get_metrics_summary()["samples"] == 0
    for ram in (10.0, 20.0, 30.0, 60.0):
        ps.ram_percent = ram
        monitor.sample()
    summary = monitor.get_metrics_summary(last_n=3)
    assert summary["samples"] == 3
    assert summary["ram_percent"] == {"avg": 36.67, "min": 20.0, "max": 60.0, "current": 60.0}


def test_history_is_bounded_and_callbacks_run_even_if_one_fails() -> None:
    """The history keeps max_history samples; a failing callback does not stop the next."""
    monitor, _, _ = make(max_history=2)
    seen: list[SystemMetrics] = []

    def broken(_: SystemMetrics) -> None:
        raise RuntimeError("boom")

    monitor.on_sample.extend([broken, seen.append])
    for _ in range(5):
        monitor.sample()
    assert len(monitor.history) == 2 and len(seen) == 5 and monitor.errors == 5


def test_background_sampler_samples_and_stops_promptly() -> None:
    """start_monitoring samples on a daemon thread; stop_monitoring ends it at once."""
    monitor, _, _ = make()
    got = threading.Event()
    monitor.on_sample.append(lambda _: got.set())
    monitor.start_monitoring(interval=3600)
    try:
        assert got.wait(10), "no sample taken"
        assert monitor.monitoring
    finally:
        began = time.perf_counter()
        monitor.stop_monitoring()
    assert time.perf_counter() - began < 2.0  # it did not wait out the hour
    assert not monitor.monitoring and len(monitor.history) >= 1


def test_component_collect_snapshot_and_alert_metrics() -> None:
    """collect() exposes the system_* families with path labels; snapshot includes health."""
    monitor, _, _ = make()
    families = {f.name: f for f in monitor.collect()}
    assert set(families) == {
        "system_cpu_usage_percent", "system_memory_usage_bytes", "system_memory_usage_percent",
        "system_disk_usage_bytes", "system_disk_usage_percent", "system_network_bytes_sent",
        "system_network_bytes_recv",
    }  # fmt: skip
    disk = families["system_disk_usage_percent"].samples
    assert {(s.labels["path"], s.value) for s in disk} == {("/", 50.0), ("/data", 70.0)}
    sent = families["system_network_bytes_sent"]
    assert sent.kind == "counter" and sent.samples[0].suffix == "_total"
    snap = monitor.snapshot()
    assert snap["health"]["status"] == "healthy" and json.dumps(snap)
    assert set(monitor.alert_metrics()) >= {
        "system.cpu_percent",
        "system.memory_percent",
        "system.disk_percent",
        "system.load_avg",
    }


def test_real_psutil_sample_is_sane() -> None:
    """Against the real machine: plausible values and no blocking."""
    monitor = SystemMonitor()
    began = time.perf_counter()
    m = monitor.get_current_metrics()
    assert time.perf_counter() - began < 2.0
    assert 0.0 <= m.cpu_percent <= 100.0 and m.cpu_count >= 1
    assert m.ram_total > 0 and 0 <= m.ram_percent <= 100 and m.disk_total > 0
    assert m.process_count >= 1 and m.thread_count >= 1
    procs = monitor.get_process_metrics(top_n=3)
    assert 1 <= len(procs) <= 3 and {"pid", "name", "cpu_percent", "memory_mb"} <= set(procs[0])
