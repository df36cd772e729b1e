"""`perfkit monitor`: sample system metrics (this machine, or a service's) and show them live."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

from .._atomic import write_atomically
from ._client import ApiClient, add_service_options

__all__ = ["add_parser"]


def seconds_arg(value: str) -> float:
    """An argparse type: seconds in (0, 86400] (also used by Django's monitor_performance)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {value!r}") from None
    if not 0 < number <= 86_400:
        raise argparse.ArgumentTypeError(f"expected seconds in (0, 86400], got {value}")
    return number


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "monitor", help="watch CPU, memory, disk and network (this machine or --remote service)"
    )
    add_service_options(parser)
    parser.add_argument("--remote", action="store_true", help="read the service at --url instead")
    parser.add_argument("--interval", type=seconds_arg, default=5.0, help="seconds between samples")
    parser.add_argument("--duration", type=seconds_arg, help="stop after this many seconds")
    parser.add_argument("--save", metavar="FILE", help="write every sample to FILE as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    sample = _remote_sampler(args) if args.remote else _local_sampler()
    samples: list[dict[str, Any]] = []
    stop = threading.Event()
    deadline = None if args.duration is None else time.monotonic() + args.duration
    live = sys.stdout.isatty() and not args.json
    try:
        if not args.remote:
            stop.wait(min(args.interval, 1.0))  # a first CPU reading needs some elapsed time
        while True:
            metrics = sample()
            samples.append(metrics)
            if args.json:
                print(json.dumps(metrics, default=str), flush=True)
            else:
                _show(metrics, len(samples), live)
            if deadline is not None and time.monotonic() + args.interval > deadline:
                break
            if stop.wait(args.interval):  # an Event wait, so Ctrl-C is answered at once
                break
    except KeyboardInterrupt:
        pass
    finally:
        if live:
            sys.stdout.write("\n")
        if args.save:
            write_atomically(args.save, json.dumps(samples, indent=2, default=str).encode())
            print(f"saved {len(samples)} samples to {args.save}", file=sys.stderr)
    return 0


def _local_sampler() -> Any:
    from ..system import SystemMonitor

    monitor = SystemMonitor()

    def sample() -> dict[str, Any]:
        return dict(monitor.get_current_metrics().to_dict())

    return sample


def _remote_sampler(args: argparse.Namespace) -> Any:
    client = ApiClient.from_args(args)

    def sample() -> dict[str, Any]:
        data = client.get("/api/system")
        return dict(data.get("metrics", data))

    return sample


def _show(m: dict[str, Any], n: int, live: bool) -> None:
    line = (
        f"#{n:<4} cpu {m.get('cpu_percent', 0):5.1f}%  ram {m.get('ram_percent', 0):5.1f}%  "
        f"disk {m.get('disk_percent', 0):5.1f}%  load {_load(m.get('load_avg'))}  "
        f"procs {m.get('process_count', '-')}"
    )
    if live:
        sys.stdout.write("\r\033[K" + line)
        sys.stdout.flush()
    else:
        print(line, flush=True)


def _load(value: Any) -> str:
    if isinstance(value, (list, tuple)) and value:
        return "/".join(f"{v:.2f}" for v in value[:3])
    return "-" if value is None else str(value)
