"""Shared benchmark helpers: arguments, interleaved rounds, medians, markdown tables.

Every bench script uses these, so all of them time, interleave and report
the same way: each round runs every variant once, in an order that changes
from round to round (so drift in machine load hits every variant alike),
and results are medians over rounds.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence

__all__ = [
    "RATIO_HEADERS",
    "Samples",
    "bench_args",
    "fmt_us",
    "interleave",
    "load_now",
    "machine_note",
    "markdown_table",
    "median",
    "now",
    "overhead_table",
    "paired_overheads",
    "quartiles",
    "ratio_line",
]

Samples = dict[str, list[float]]

# In-process timings use the process's CPU time by default: on a shared, loaded
# machine wall time also counts the moments other processes hold the core,
# CPU time does not (it still counts every thread of this process, e.g.
# OpenTelemetry's export thread). `--wall` switches to wall time.
_CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
_clock: Callable[[], float] = time.process_time
CLOCK_NAME = "process CPU time"


def now() -> float:
    """The benchmark clock (process CPU time unless ``--wall`` was given), in seconds."""
    return _clock()


def bench_args(description: str, quick_help: str) -> argparse.Namespace:
    """The common command line: ``--quick``, ``--wall`` and overrides for rounds and batch size."""
    global _clock, CLOCK_NAME
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds")
    parser.add_argument("--requests", type=int, default=None, help="requests per batch")
    parser.add_argument("--seed", type=int, default=2024, help="seed for the round order")
    parser.add_argument(
        "--wall", action="store_true", help="time with the wall clock instead of CPU time"
    )
    args = parser.parse_args()
    _clock = _CLOCKS["wall" if args.wall else "cpu"]
    CLOCK_NAME = "wall time" if args.wall else "process CPU time"
    return args


def machine_note() -> str:
    """One line naming the machine, the Python and the load when the run started."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{when}; Python {platform.python_version()} ({sys.implementation.name}); "
        f"{os.cpu_count()} CPUs; load average (1/5/15 min) {load}"
    )


def load_now() -> str:
    """The load averages now (benchmarks print them at the end too)."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def interleave(
    variants: dict[str, Callable[[], float]],
    rounds: int,
    seed: int = 2024,
    warmup: int = 1,
) -> Samples:
    """Run every variant once per round, in a fresh shuffled order each round.

    Each callable runs one batch and returns the figure to keep (seconds per
    request, requests per second...). Warm-up rounds are run and dropped.
    A full collection before each batch keeps one variant's garbage from
    being paid for by the next.
    """
    rng = random.Random(seed)
    names = list(variants)
    samples: Samples = {name: [] for name in names}
    for number in range(warmup + rounds):
        order = names[:]
        rng.shuffle(order)
        for name in order:
            gc.collect()
            value = variants[name]()
            if number >= warmup:
                samples[name].append(value)
    return samples


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """The 25th and 75th percentiles (a spread that ignores the odd disturbed round)."""
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def paired_overheads(samples: Samples, baseline: str) -> Samples:
    """Per round: variant minus baseline, so each difference comes from one moment in time."""
    base = samples[baseline]
    return {
        name: [v - b for v, b in zip(values, base, strict=True)]
        for name, values in samples.items()
        if name != baseline
    }


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:.2f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table; columns holding only numbers are right-aligned."""

    def numeric(cell: str) -> bool:
        return not cell or cell[0].isdigit() or cell[0] in "-—<>"

    align = [
        "---:" if i > 0 and all(numeric(row[i]) for row in rows) else "---"
        for i in range(len(headers))
    ]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def overhead_table(
    samples: Samples,
    baseline: str,
    extra: dict[str, str] | None = None,
) -> tuple[str, dict[str, float]]:
    """Markdown table of per-request times and paired overheads; also the median overheads.

    `samples` hold seconds per request. Columns: median time, median
    overhead over `baseline` (paired per round), its interquartile range,
    and a free-text note per variant from `extra`.
    """
    overheads = paired_overheads(samples, baseline)
    medians = {name: median(values) for name, values in overheads.items()}
    rows = [
        [baseline, fmt_us(median(samples[baseline])), "—", "—", (extra or {}).get(baseline, "")]
    ]
    for name, values in overheads.items():
        low, high = quartiles(values)
        rows.append(
            [
                name,
                fmt_us(median(samples[name])),
                fmt_us(medians[name]),
                f"{fmt_us(low)} – {fmt_us(high)}",
                (extra or {}).get(name, ""),
            ]
        )
    headers = ["variant", "µs/request", "overhead µs", "overhead IQR µs", "note"]
    return markdown_table(headers, rows), medians


def ratio_line(name: str, mine: float, theirs: float, goal: float, goal_text: str) -> list[str]:
    """A row comparing two overheads against a goal ratio (perfkit / peer <= goal)."""
    ratio = mine / theirs if theirs > 0 else float("inf")
    verdict = "met" if ratio <= goal else "NOT met"
    return [name, fmt_us(mine), fmt_us(theirs), f"{ratio:.3f}", goal_text, verdict]


RATIO_HEADERS = ["comparison", "perfkit µs", "peer µs", "ratio", "goal", "verdict"]
