"""Fleet mode benchmarks: per-request overhead in Redis mode vs memory mode, the cost of
flushing 1,000 series against one PING, and gunicorn -w 2 throughput wrapped (Redis mode)
vs bare under wrk.

    python tests/bench/bench_fleet.py            # full run
    python tests/bench/bench_fleet.py --quick    # smoke run, a few seconds
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402
import redis  # noqa: E402

from perfkit import Perfkit, PerfkitSettings  # noqa: E402
from perfkit.wsgi import PerfkitMiddleware  # noqa: E402
from tests.conftest import free_port, wait_for_port  # noqa: E402

REDIS_URL = os.environ.get("PERFKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def environ(i: int) -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": f"/items/{i % 97}", "wsgi.input": io.BytesIO()}


def loop(app: Any, n: int, kit: Perfkit | None) -> float:
    """Seconds per request, aggregation included (the kit's queue is drained in the batch)."""
    start = c.now()
    for i in range(n):
        body = app(environ(i), lambda *a: None)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    if kit is not None:
        kit.registry.drain()
    return (c.now() - start) / n


def overhead(args: Any, namespace: str) -> list[str]:
    n = args.requests or (2_000 if args.quick else 20_000)
    rounds = args.rounds or (3 if args.quick else 15)
    memory = Perfkit(PerfkitSettings(metrics_store="memory"))
    fleet = Perfkit(
        PerfkitSettings(redis_url=REDIS_URL, redis_namespace=namespace, flush_interval=0.5)
    )
    fleet.start()  # flushes run in the background, as in production
    variants = {
        "bare app": lambda: loop(hello, n, None),
        "perfkit, memory mode": lambda: loop(PerfkitMiddleware(hello, memory), n, memory),
        "perfkit, Redis mode": lambda: loop(PerfkitMiddleware(hello, fleet), n, fleet),
    }
    samples = c.interleave(variants, rounds, args.seed)
    fleet.stop()
    table, medians = c.overhead_table(samples, "bare app")
    ratio = medians["perfkit, Redis mode"] / medians["perfkit, memory mode"]
    return [
        f"### Per-request overhead ({rounds} rounds x {n} requests, {c.CLOCK_NAME})",
        "",
        table,
        "",
        f"Redis mode / memory mode overhead: **{ratio:.2f}** (goal <= 1.10). The Redis-mode time "
        "includes the background flush thread's CPU (process CPU time counts every thread).",
    ]


def flush_cost(args: Any, namespace: str) -> list[str]:
    series = 100 if args.quick else 1000
    rounds = args.rounds or (3 if args.quick else 11)
    kit = Perfkit(
        PerfkitSettings(redis_url=REDIS_URL, redis_namespace=namespace, max_endpoints=2000)
    )
    store = kit.store
    client = store.client
    calls: list[str] = []

    def fill() -> None:
        for i in range(series):
            kit.record_request("GET", f"/series/{i}", 200, 0.001 * (1 + i % 50))

    def timed_flush() -> float:
        fill()
        kit.registry.drain()
        start = time.perf_counter()
        assert store.flush()
        return time.perf_counter() - start

    def ping() -> float:
        # the median of 50 PINGs: one cold PING after the round's gc.collect() is not its cost
        times = []
        for _ in range(50):
            start = time.perf_counter()
            client.ping()
            times.append(time.perf_counter() - start)
        return c.median(times)

    samples = c.interleave({"flush": timed_flush, "PING": ping}, rounds, args.seed)
    # round trips of one flush: every send on the connection is one (a pipeline sends once)
    from redis.connection import Connection

    original = Connection.send_packed_command
    sends: list[int] = []

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        sends.append(1)
        original(self, command, check_health)

    fill()
    kit.registry.drain()
    Connection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        store.flush()
    finally:
        Connection.send_packed_command = original  # type: ignore[method-assign]
    calls.append(str(len(sends)))
    flush, ping_t = c.median(samples["flush"]), c.median(samples["PING"])
    return [
        f"### Flush of {series} series ({rounds} rounds, wall time)",
        "",
        c.markdown_table(
            ["operation", "median", "ratio to PING"],
            [
                ["PING", c.fmt_us(ping_t), "1.0"],
                [f"flush ({series} series)", c.fmt_us(flush), f"{flush / ping_t:.1f}"],
            ],
        ),
        "",
        f"Round trips of one flush: {calls[0]} — one pipeline (the fleet's series counts, which "
        "keep the caps fleet-wide, and the worker's heartbeat), then one EVALSHA carrying "
        "every series of the batch.",
    ]


def wrk_run(port: int, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", f"http://127.0.0.1:{port}/items/1"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def throughput(args: Any, namespace: str) -> list[str]:
    if shutil.which("wrk") is None:
        return [
            "### gunicorn -w 2 under wrk",
            "",
            "skipped: wrk is not installed (apt-get install wrk)",
        ]
    seconds = 2 if args.quick else 10
    rounds = 1 if args.quick else 3
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFKIT_")}
    env.update(PYTHONPATH=str(ROOT), PERFKIT_REDIS_URL=REDIS_URL, PERFKIT_REDIS_NAMESPACE=namespace)
    results: dict[str, list[float]] = {"bare": [], "perfkit, Redis mode": []}
    with tempfile.TemporaryDirectory() as tmp:
        env["FLEET_DURATIONS_DIR"] = ""
        for _ in range(rounds):
            for name, target in (
                ("bare", "tests.bench.bench_fleet_app:bare"),
                ("perfkit, Redis mode", "tests.apps.fleet_app:wsgi_app"),
            ):
                port = free_port()
                cmd = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}"]
                with open(Path(tmp) / "gunicorn.log", "ab") as log:
                    proc = subprocess.Popen(
                        [*cmd, target], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log
                    )
                    try:
                        wait_for_port(port, 30, proc)
                        results[name].append(wrk_run(port, seconds))
                    finally:
                        proc.terminate()
                        proc.wait(timeout=15)
    bare, wrapped = c.median(results["bare"]), c.median(results["perfkit, Redis mode"])
    return [
        f"### gunicorn -w 2 (sync) under wrk -t2 -c16 -d{seconds}s "
        f"({rounds} alternating runs, medians)",
        "",
        c.markdown_table(
            ["server", "requests/s"],
            [["bare", f"{bare:,.0f}"], ["perfkit, Redis mode", f"{wrapped:,.0f}"]],
        ),
        "",
        f"Wrapped / bare: **{wrapped / bare:.3f}** (goal >= 0.95). wrk, both gunicorn workers and "
        "Redis share the machine's 2 CPUs.",
    ]


def main() -> None:
    args = c.bench_args(__doc__ or "", "tiny smoke run")
    namespace = f"perfkit-bench-{uuid.uuid4().hex[:8]}"
    lines = ["## Fleet mode", "", c.machine_note(), ""]
    try:
        lines += [*overhead(args, namespace), ""]
        lines += [*flush_cost(args, namespace + "-flush"), ""]
        lines += [*throughput(args, namespace + "-wrk"), ""]
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for ns in (namespace, namespace + "-flush", namespace + "-wrk"):
            keys = list(client.scan_iter(match="{" + ns + "}:*"))
            if keys:
                client.delete(*keys)
        client.close()
    lines.append(
        f"Command: `python tests/bench/bench_fleet.py{' --quick' if args.quick else ''}`; "
        f"load at the end: {c.load_now()}"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
