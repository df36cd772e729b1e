"""``manage.py monitor_performance --interval 5 --duration 60 --save FILE``.

Samples CPU, memory and disk, prints each sample, and exits 1 when a sample
crossed a warning threshold (``alert_cpu_threshold``, ``alert_memory_threshold``,
``alert_disk_threshold`` from ``settings.PERFKIT`` or the environment) and 2 when
one crossed a critical one (``alert_cpu_critical``...), so CI can fail on it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand

from perfkit._atomic import write_atomically
from perfkit.cli.monitor import seconds_arg
from perfkit.integrations.django.apps import project_kit

_EXIT = {"healthy": 0, "unknown": 0, "warning": 1, "critical": 2}


class Command(BaseCommand):  # type: ignore[misc]  # Django ships no types
    help = "sample system metrics; exit 1 (warning) or 2 (critical) when a threshold is crossed"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--interval", type=seconds_arg, default=5.0, help="seconds between samples"
        )
        parser.add_argument("--duration", type=seconds_arg, default=60.0, help="seconds in all")
        parser.add_argument("--save", metavar="FILE", help="write the samples to FILE as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from perfkit.system import SystemMonitor

        settings = project_kit().settings
        warning = {
            "cpu": settings.alert_cpu_threshold,
            "ram": settings.alert_memory_threshold,
            "disk": settings.alert_disk_threshold,
        }
        critical = {
            "cpu": settings.alert_cpu_critical,
            "ram": settings.alert_memory_critical,
            "disk": settings.alert_disk_critical,
        }
        monitor = SystemMonitor(warning_threshold=warning, critical_threshold=critical)
        interval, duration = options["interval"], options["duration"]
        deadline = time.monotonic() + duration
        stop = threading.Event()
        samples: list[dict[str, Any]] = []
        worst = "healthy"
        monitor.get_current_metrics()  # the first CPU reading needs a starting point
        try:
            while True:
                stop.wait(min(interval, max(deadline - time.monotonic(), 0.05)))
                metrics = monitor.get_current_metrics()
                health = monitor.get_health_status(metrics)
                sample = {**metrics.to_dict(), "status": health["status"]}
                sample["warnings"] = health["warnings"]
                samples.append(sample)
                if _EXIT.get(health["status"], 0) > _EXIT[worst]:
                    worst = health["status"]
                self.stdout.write(_line(len(samples), sample))
                if time.monotonic() >= deadline:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            if options["save"]:
                body = json.dumps(
                    {"status": worst, "thresholds": {"warning": warning, "critical": critical},
                     "samples": samples}, indent=2, default=str,
                )  # fmt: skip
                write_atomically(options["save"], body.encode())
                self.stderr.write(f"saved {len(samples)} samples to {options['save']}")
        self.stdout.write(f"{worst}: {len(samples)} samples")
        if _EXIT[worst]:
            sys.exit(_EXIT[worst])


def _line(n: int, s: dict[str, Any]) -> str:
    line = (
        f"#{n:<4} cpu {s.get('cpu_percent', 0):5.1f}%  ram {s.get('ram_percent', 0):5.1f}%  "
        f"disk {s.get('disk_percent', 0):5.1f}%  {s['status']}"
    )
    return line + "".join(f"\n      {w}" for w in s["warnings"])
