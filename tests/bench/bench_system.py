"""Benchmark: SystemMonitor sampling cost, background sampler CPU, and 100-rule evaluation.

Run: ``python tests/bench/bench_system.py`` (``--quick`` for a smoke run of a few seconds).
Prints a markdown table of medians and ratios.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable

import psutil

from perfkit.alerts import AlertManager, AlertRule
from perfkit.system import SystemMonitor
from perfkit.testing import FakeClock


def per_call(fn: Callable[[], object], n: int) -> float:
    began = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - began) / n


def raw_psutil(paths: list[str], proc: psutil.Process) -> Callable[[], object]:
    """The psutil calls get_current_metrics() makes, with nothing around them."""

    def sample() -> object:
        out = [
            psutil.cpu_times(),
            psutil.virtual_memory(),
            psutil.swap_memory(),
            [psutil.disk_usage(p) for p in paths],
            psutil.net_io_counters(),
            psutil.getloadavg(),
            len(psutil.pids()),
            proc.num_threads(),
        ]
        return out

    return sample


def rules_manager() -> AlertManager:
    """100 threshold rules over 100 gauges, none breached (the usual case)."""
    metrics: dict[str, float | None] = {f"gauge.m{i}": float(i) for i in range(100)}
    rules = [AlertRule(f"r{i}", f"gauge.m{i}", warning=1000, critical=2000) for i in range(100)]
    return AlertManager(lambda: metrics, clock=FakeClock(), rules=rules)


def bench_interleaved(rounds: int, n: int) -> tuple[float, float, float]:
    """Medians of raw psutil, get_current_metrics() and a 100-rule evaluate(), interleaved."""
    monitor = SystemMonitor()
    raw = raw_psutil(monitor.disk_paths, psutil.Process())
    manager = rules_manager()
    raw_t, ours_t, rules_t = [], [], []
    for _ in range(rounds):  # interleaved so machine load hits all three alike
        raw_t.append(per_call(raw, n))
        ours_t.append(per_call(monitor.get_current_metrics, n))
        rules_t.append(per_call(manager.evaluate, n))
    manager.stop()
    return statistics.median(raw_t), statistics.median(ours_t), statistics.median(rules_t)


def bench_sampler_cpu(seconds: float, with_alerts: bool) -> float:
    """Percent of one core the process uses while only the 1 s sampler runs."""
    monitor = SystemMonitor(interval=1.0)
    if with_alerts:
        manager = AlertManager(monitor.alert_metrics)
        monitor.on_sample.append(lambda _: manager.evaluate())
    idle = threading.Event()
    before = time.process_time()
    monitor.start_monitoring(1.0)
    idle.wait(seconds)  # the main thread idles; only the sampler works
    monitor.stop_monitoring()
    return 100.0 * (time.process_time() - before) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    rounds, n, seconds = (3, 20, 2.0) if args.quick else (15, 200, 30.0)
    raw, ours, rules = bench_interleaved(rounds, n)
    cpu_plain = bench_sampler_cpu(seconds, with_alerts=False)
    cpu_alerts = bench_sampler_cpu(seconds, with_alerts=True)
    machine = f"{psutil.cpu_count()} CPUs, {len(psutil.pids())} processes"
    print(f"psutil {psutil.__version__}, {machine}; {rounds} rounds of {n} calls; medians\n")
    print("| measurement | value | goal | ratio / verdict |")
    print("|---|---|---|---|")
    print(f"| raw psutil calls (sum) | {raw * 1e6:.1f} µs | | |")
    print(f"| `get_current_metrics()` | {ours * 1e6:.1f} µs | <= 1.5x raw | "
          f"{ours / raw:.2f}x {'met' if ours / raw <= 1.5 else 'NOT met'} |")  # fmt: skip
    print(f"| sampler at 1 s, CPU of one core | {cpu_plain:.3f} % | < 1 % | "
          f"{'met' if cpu_plain < 1 else 'NOT met'} ({seconds:g} s window) |")  # fmt: skip
    print(f"| sampler at 1 s + default rules evaluated | {cpu_alerts:.3f} % | < 1 % | "
          f"{'met' if cpu_alerts < 1 else 'NOT met'} |")  # fmt: skip
    print(f"| `evaluate()` with 100 rules | {rules * 1e6:.1f} µs | < one sample | "
          f"{rules / ours:.2f}x of a sample {'met' if rules < ours else 'NOT met'} |")  # fmt: skip


if __name__ == "__main__":
    main()
