"""Host store benchmarks (several workers on one host, no Redis), side by side in one run:

1. scrape time after 200 worker restarts: perfkit's host store vs prometheus_client's
   multiprocess mode (PROMETHEUS_MULTIPROC_DIR), the same workload in the same forked
   workers (each records its share of requests, then exits as a recycled worker does);
2. per-request overhead of the host store vs memory mode (in process, flushes running);
3. gunicorn -w 2 under wrk: perfkit (host store, chosen by itself) vs the bare app.

    python tests/bench/bench_hoststore.py            # full run
    python tests/bench/bench_hoststore.py --quick    # smoke run
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402
from bench_fleet import wrk_run  # noqa: E402

from perfkit import Perfkit, PerfkitSettings  # noqa: E402
from perfkit.wsgi import PerfkitMiddleware  # noqa: E402
from tests.conftest import free_port, wait_for_port  # noqa: E402

ENDPOINTS = [f"/api/e{i}" for i in range(10)]
STATUSES = (200, 200, 200, 404, 500)


def workload(i: int) -> tuple[str, int, float]:
    """Request `i` of a worker: endpoint, status, duration (the same for both libraries)."""
    return ENDPOINTS[i % len(ENDPOINTS)], STATUSES[i % len(STATUSES)], 0.001 * (1 + i % 97)


# ------------------------------------------------------------------ 1. restarts
def run_workers(restarts: int, per_worker: int, child: Any, side_by_side: int = 2) -> float:
    """Fork `restarts` workers, `side_by_side` at a time (gunicorn -w 2 --preload recycling)."""
    start = time.perf_counter()
    running: list[int] = []
    for _ in range(restarts):
        if len(running) >= side_by_side:
            _, status = os.waitpid(running.pop(0), 0)
            assert status == 0, "a benchmark worker failed"
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                child(per_worker)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            os._exit(code)
        running.append(pid)
    for pid in running:
        _, status = os.waitpid(pid, 0)
        assert status == 0, "a benchmark worker failed"
    return time.perf_counter() - start


def perfkit_side(directory: str, restarts: int, per_worker: int, rounds: int) -> dict[str, Any]:
    settings = PerfkitSettings(metrics_store="host", data_dir=directory, flush_interval=60)

    def child(n: int) -> None:
        kit = Perfkit(settings)
        for i in range(n):
            endpoint, status, duration = workload(i)
            kit.record_request("GET", endpoint, status, duration)
        kit.store.stop()  # what atexit does when a recycled worker exits

    took = run_workers(restarts, per_worker, child)
    scraper = Perfkit(settings)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        body = scraper.render_metrics()[1]
        times.append(time.perf_counter() - start)
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.decode().splitlines()
        if line.startswith("app_requests_total{")
    )
    assert counted == restarts * per_worker, (counted, restarts * per_worker)  # none lost
    scraper.store.stop()
    return {
        "scrape": c.median(times),
        "files": len(os.listdir(directory)),
        "bytes": sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory)),
        "workers": took,
    }


def prometheus_side(directory: str, restarts: int, per_worker: int, rounds: int) -> dict[str, Any]:
    code = f"""
import os, sys, time, json
sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(Path(__file__).parent)!r})
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess
from bench_hoststore import run_workers, workload
requests = Counter("app_requests_total", "Requests.", ["method", "endpoint", "status"])
durations = Histogram("app_request_duration_seconds", "Durations.", ["method", "endpoint"])
def child(n):
    for i in range(n):
        endpoint, status, duration = workload(i)
        requests.labels("GET", endpoint, str(status)).inc()
        durations.labels("GET", endpoint).observe(duration)
    multiprocess.mark_process_dead(os.getpid())  # gunicorn's child_exit hook, as documented
took = run_workers({restarts}, {per_worker}, child)
times = []
for _ in range({rounds}):
    start = time.perf_counter()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    generate_latest(registry)
    times.append(time.perf_counter() - start)
times.sort()
print(json.dumps({{"scrape": times[len(times) // 2], "workers": took}}))
"""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    import json

    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["files"] = len(os.listdir(directory))
    names = os.listdir(directory)
    result["bytes"] = sum(os.path.getsize(os.path.join(directory, f)) for f in names)
    return result


def restarts_section(args: Any) -> list[str]:
    restarts = 20 if args.quick else 200
    per_worker = 50
    rounds = 5 if args.quick else 15
    with tempfile.TemporaryDirectory() as mine, tempfile.TemporaryDirectory() as theirs:
        ours = perfkit_side(mine, restarts, per_worker, rounds)
        peer = prometheus_side(theirs, restarts, per_worker, rounds)
    ratio = ours["scrape"] / peer["scrape"]
    ms = "{:.1f} ms".format
    return [
        f"### Scrape after {restarts} worker restarts ({per_worker} requests each, "
        f"{len(ENDPOINTS)} endpoints x 3 statuses; median of {rounds} scrapes, wall time)",
        "",
        c.markdown_table(
            ["store", "scrape", "files", "bytes on disk", "time to run the workers"],
            [
                [
                    "perfkit host store (SQLite)",
                    ms(ours["scrape"] * 1000),
                    str(ours["files"]),
                    f"{ours['bytes']:,}",
                    f"{ours['workers']:.1f} s",
                ],
                [
                    "prometheus_client multiprocess",
                    ms(peer["scrape"] * 1000),
                    str(peer["files"]),
                    f"{peer['bytes']:,}",
                    f"{peer['workers']:.1f} s",
                ],
            ],
        ),
        "",
        f"perfkit / prometheus_client scrape time: **{ratio:.3f}x** (goal <= 0.1x). perfkit's "
        "scrape includes quantiles, slow lists and its own families; prometheus_client reads "
        "one file per dead worker and metric type, which its directory keeps.",
    ]


# ------------------------------------------------------------------ 2. overhead
def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def loop(app: Any, n: int, kit: Perfkit | None) -> float:
    start = c.now()
    for i in range(n):
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": f"/items/{i % 97}",
                   "wsgi.input": io.BytesIO()}  # fmt: skip
        for _ in app(environ, lambda *a: None):
            pass
    if kit is not None:
        kit.registry.drain()
    return (c.now() - start) / n


def overhead_section(args: Any) -> list[str]:
    n = args.requests or (2_000 if args.quick else 20_000)
    rounds = args.rounds or (3 if args.quick else 15)
    with tempfile.TemporaryDirectory() as directory:
        memory = Perfkit(PerfkitSettings(metrics_store="memory"))
        host = Perfkit(
            PerfkitSettings(metrics_store="host", data_dir=directory, flush_interval=0.5)
        )
        host.store.start()  # its flushes run in the background, as in production
        variants = {
            "bare app": lambda: loop(hello, n, None),
            "perfkit, memory mode": lambda: loop(PerfkitMiddleware(hello, memory), n, memory),
            "perfkit, host store": lambda: loop(PerfkitMiddleware(hello, host), n, host),
        }
        samples = c.interleave(variants, rounds, args.seed)
        host.store.stop()
    table, _ = c.overhead_table(samples, "bare app")
    ratio = c.median(samples["perfkit, host store"]) / c.median(samples["perfkit, memory mode"])
    return [
        f"### Per-request cost ({rounds} rounds x {n} requests, {c.CLOCK_NAME})",
        "",
        table,
        "",
        f"Host store / memory mode, per request: **{ratio:.3f}** (goal <= 1.10). The host-store "
        "time includes the background flush thread's CPU (process CPU time counts every thread).",
    ]


# ------------------------------------------------------------------ 3. wrk
def warm_up(port: int) -> None:
    """gunicorn listens before its workers have imported the app: wait for the workers
    (they answer with their pid), then two seconds of load that are not counted."""
    import http.client

    answers: set[bytes] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (len(answers) >= 2 or b"worker" in answers):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/items/1")
        answers.add(conn.getresponse().read())
        conn.close()
    wrk_run(port, 2)


def throughput_section(args: Any) -> list[str]:
    if shutil.which("wrk") is None:
        return ["### gunicorn -w 2 under wrk", "", "skipped: wrk is not installed"]
    seconds = 2 if args.quick else 10
    rounds = 1 if args.quick else 3
    results: dict[str, list[float]] = {"bare": [], "perfkit, host store": []}
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERFKIT_")}
        env.update(PYTHONPATH=str(ROOT), PERFKIT_DATA_DIR=tmp, FLEET_DURATIONS_DIR="")
        for _ in range(rounds):
            for name, target in (
                ("bare", "tests.bench.bench_fleet_app:bare"),
                ("perfkit, host store", "tests.apps.fleet_app:wsgi_app"),
            ):
                port = free_port()
                cmd = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}"]
                proc = subprocess.Popen(
                    [*cmd, target], env=env, cwd=ROOT,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                try:
                    wait_for_port(port, 30, proc)
                    warm_up(port)
                    results[name].append(wrk_run(port, seconds))
                finally:
                    proc.terminate()
                    proc.wait(timeout=20)
    bare, wrapped = c.median(results["bare"]), c.median(results["perfkit, host store"])
    return [
        f"### gunicorn -w 2 (sync) under wrk -t2 -c16 -d{seconds}s "
        f"({rounds} alternating runs, medians)",
        "",
        c.markdown_table(
            ["server", "requests/s"],
            [["bare", f"{bare:,.0f}"], ["perfkit, host store", f"{wrapped:,.0f}"]],
        ),
        "",
        f"Wrapped / bare: **{wrapped / bare:.3f}** (goal >= 0.95). wrk and both workers share "
        "the machine's 2 CPUs.",
    ]


def main() -> None:
    args = c.bench_args(__doc__ or "", "tiny smoke run")
    lines = ["## Host store", "", c.machine_note(), ""]
    lines += [*restarts_section(args), ""]
    lines += [*overhead_section(args), ""]
    lines += [*throughput_section(args), ""]
    lines.append(
        f"Command: `python tests/bench/bench_hoststore.py{' --quick' if args.quick else ''}`; "
        f"load at the end: {c.load_now()}"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
