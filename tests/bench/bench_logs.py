"""Logging cost on the calling thread: perfkit vs python-json-logger vs structlog; throughput.

Run: ``python tests/bench/bench_logs.py`` (``--quick`` for a smoke run).

Three set-ups log the same line (a message with two arguments and one extra
field) to a file in a temporary directory, in one process, interleaved:

* perfkit: `setup_logging` (queue + writer thread, five files, JSON, redaction);
* pjl: python-json-logger's JsonFormatter on a stdlib RotatingFileHandler
  (formats and writes on the calling thread);
* structlog: JSONRenderer + TimeStamper + add_log_level to a WriteLogger on a
  file (structlog's fast path, no stdlib LogRecord).

Per call we report wall time (what the request waits) and the calling
thread's CPU time (``time.thread_time``; for perfkit this excludes the
writer thread, which competes for the GIL in the same process). Then the
sustained rate: lines/s until every line is on disk, in one process and in
four processes writing the same rotating files.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from time import perf_counter, thread_time

import _common as c


def _pjl_logger(path: Path) -> logging.Logger:
    from pythonjsonlogger.json import JsonFormatter

    handler = logging.handlers.RotatingFileHandler(path, maxBytes=10 << 20, backupCount=3)
    handler.setFormatter(
        JsonFormatter(
            "%(levelname)s %(name)s %(message)s %(module)s %(funcName)s %(lineno)d %(process)d",
            timestamp=True,
        )
    )
    logger = logging.getLogger("bench.pjl")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def _structlog_logger(path: Path) -> tuple[object, Callable[[], None]]:
    import structlog

    stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by the returned callable
    logger = structlog.wrap_logger(
        structlog.WriteLogger(stream),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )
    return logger, stream.close


def per_call(fn: Callable[[int], None], n: int, after: Callable[[], object]) -> tuple[float, float]:
    """Seconds per call (wall, calling-thread CPU) for `n` calls; `after` runs untimed."""
    w0, c0 = perf_counter(), thread_time()
    fn(n)
    wall, cpu = perf_counter() - w0, thread_time() - c0
    after()
    return wall / n, cpu / n


MULTI = r"""
import logging, sys, time
from perfkit.logs import setup_logging, shutdown_logging
setup_logging("multi", sys.argv[1], enable_console=False, max_bytes=1 << 20, backup_count=500)
log = logging.getLogger("bench")
n = int(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
for i in range(n):
    log.info("user %s did %s", "u1", "checkout", extra={"order_id": i})
shutdown_logging()
"""


def multi_process(directory: Path, workers: int, n: int) -> float:
    """Lines/s for `workers` processes x `n` lines into the same rotating files, until closed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MULTI, str(directory), str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        for _ in range(workers)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == b"ready"
    t0 = perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(b"go\n")
        p.stdin.close()
    for p in procs:
        p.wait()
        assert p.stdout is not None
        p.stdout.close()
    return workers * n / (perf_counter() - t0)


def main() -> int:
    args = c.bench_args(__doc__.splitlines()[0], "2 rounds of 300 calls (a few seconds)")
    rounds = args.rounds or (2 if args.quick else 21)
    n = args.requests or (300 if args.quick else 2000)
    sustained_n = 2000 if args.quick else 50_000
    from perfkit.logs import flush_logging, setup_logging, shutdown_logging

    print(f"machine: {c.machine_note()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        setup_logging("bench", root / "perfkit", enable_console=False)
        pk = logging.getLogger("bench.perfkit")
        pjl = _pjl_logger(root / "pjl.log")
        sl, close_sl = _structlog_logger(root / "structlog.log")

        def run_pk(k: int) -> None:
            for i in range(k):
                pk.info("user %s did %s", "u1", "checkout", extra={"order_id": i})

        def run_pjl(k: int) -> None:
            for i in range(k):
                pjl.info("user %s did %s", "u1", "checkout", extra={"order_id": i})

        def run_sl(k: int) -> None:
            info = sl.info  # type: ignore[attr-defined]
            for i in range(k):
                info("user %s did %s", "u1", "checkout", order_id=i)

        def wait_pk() -> object:
            return flush_logging(60)

        cpu: c.Samples = {"perfkit": [], "pjl": [], "structlog": []}

        def variant(name: str, fn: Callable[[int], None], after: Callable[[], object]):
            def one() -> float:
                wall, on_thread = per_call(fn, n, after)
                cpu[name].append(on_thread)
                return wall

            return one

        nothing = lambda: None  # noqa: E731
        walls = c.interleave(
            {
                "perfkit": variant("perfkit", run_pk, wait_pk),
                "pjl": variant("pjl", run_pjl, nothing),
                "structlog": variant("structlog", run_sl, nothing),
            },
            rounds,
            args.seed,
            warmup=1,
        )
        for name in cpu:
            cpu[name] = cpu[name][-rounds:]  # drop the warm-up round

        # sustained: one process, until every line is on disk
        def sustained_pk() -> float:
            t0 = perf_counter()
            run_pk(sustained_n)
            flush_logging(120)
            return sustained_n / (perf_counter() - t0)

        def sustained_sync(fn: Callable[[int], None]) -> Callable[[], float]:
            def one() -> float:
                t0 = perf_counter()
                fn(sustained_n)
                return sustained_n / (perf_counter() - t0)

            return one

        rates = c.interleave(
            {"perfkit": sustained_pk, "pjl": sustained_sync(run_pjl),
             "structlog": sustained_sync(run_sl)},
            max(1, rounds // 4), args.seed, warmup=0,
        )  # fmt: skip
        shutdown_logging()
        close_sl()
        for h in pjl.handlers:
            h.close()
        multi = [
            multi_process(root / f"multi{r}", 4, sustained_n // 4)
            for r in range(max(1, rounds // 7))
        ]

    rows = []
    for name in ("perfkit", "pjl", "structlog"):
        rows.append([
            name, c.fmt_us(c.median(walls[name])), c.fmt_us(c.median(cpu[name])),
            f"{c.median(walls[name]) / c.median(walls['perfkit']):.2f}",
            f"{c.median(rates[name]):,.0f}",
        ])  # fmt: skip
    print()
    print(f"{rounds} interleaved rounds x {n} calls; medians. load now: {c.load_now()}")
    print(c.markdown_table(
        ["set-up", "wall µs/call", "caller CPU µs/call", "wall / perfkit", "sustained lines/s"],
        rows,
    ))  # fmt: skip
    print()
    print(f"4 processes, same rotating files (1 MiB): {c.median(multi):,.0f} lines/s "
          f"({sustained_n} lines per run, {len(multi)} run(s))")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
