"""Fleet mode under real multi-worker servers: exact counts from any worker, merged quantiles,
a SIGKILLed worker counted once and dropping out of the in-flight gauge."""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fleet_env(redis_url: str, namespace: str, tmp_path: Path) -> dict[str, str]:
    durations = tmp_path / "durations"
    durations.mkdir()
    return {
        "PERFKIT_REDIS_URL": redis_url,
        "PERFKIT_REDIS_NAMESPACE": namespace,
        "PERFKIT_FLUSH_INTERVAL": "0.2",
        "PERFKIT_MONITORING_INTERVAL": "60",
        "FLEET_DURATIONS_DIR": str(durations),
        "PYTHONPATH": str(ROOT),
    }


class Server:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        import subprocess

        self.port = free_port()
        self.log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        full = {k: v for k, v in os.environ.items() if not k.startswith("PERFKIT_")}
        full.update(env)
        cmd = [a.replace("{port}", str(self.port)) for a in args]
        self.proc = subprocess.Popen(
            cmd, env=full, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port, timeout=30, proc=self.proc)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def gunicorn(workers: int, env: dict[str, str], tmp_path: Path) -> Server:
    """The fleet app under gunicorn with `workers` sync workers."""
    args = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", "127.0.0.1:{port}"]
    return Server([*args, "tests.apps.fleet_app:wsgi_app"], env, tmp_path / "gunicorn.log")


def get(port: int, path: str, keep: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    conn = keep or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={} if keep else {"Connection": "close"})
    response = conn.getresponse()
    body = response.read()
    if keep is None:
        conn.close()
    return response.status, body


def drive(port: int, total: int, threads: int = 8, keep_alive: bool = False) -> None:
    per_thread = total // threads
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30) if keep_alive else None
        try:
            for i in range(per_thread):
                status, _ = get(port, f"/items/{n * per_thread + i}", conn)
                assert status == 200
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            if conn is not None:
                conn.close()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors[0]


def requests_total(port: int) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    _, body = get(port, "/perfkit/metrics")
    total = 0.0
    for family in text_string_to_metric_families(body.decode()):
        if family.name == "app_requests":
            total += sum(s.value for s in family.samples if s.name == "app_requests_total")
    return total


def poll(predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.1)  # polling a live server with a deadline


def exact_p99(directory: Path) -> tuple[int, float]:
    values = [float(line) for f in directory.glob("*.txt") for line in f.read_text().split()]
    values.sort()
    return len(values), values[math.floor(0.99 * (len(values) - 1))]


def check_fleet(port: int, env: dict[str, str], total: int) -> None:
    poll(lambda: requests_total(port) == total)
    for _ in range(12):  # the accept queue spreads these over the workers: each reports the fleet
        assert requests_total(port) == total
    _, body = get(port, "/perfkit/api/snapshot")
    snap = json.loads(body)
    (row,) = snap["requests"]["endpoints"]
    assert row["count"] == total
    count, p99 = exact_p99(Path(env["FLEET_DURATIONS_DIR"]))
    assert count == total
    assert abs(row["p99"] - p99) <= 0.01 * p99, (row["p99"], p99)


def test_gunicorn_four_workers_report_exact_fleet_counts(
    fleet_env: dict[str, str], tmp_path: Path
) -> None:
    server = gunicorn(4, fleet_env, tmp_path)
    try:
        drive(server.port, 10_000)
        check_fleet(server.port, fleet_env, 10_000)
    finally:
        server.stop()


def test_uvicorn_two_workers_report_exact_fleet_counts(
    fleet_env: dict[str, str], tmp_path: Path
) -> None:
    server = Server(
        [sys.executable, "-m", "uvicorn", "--workers", "2", "--port", "{port}",
         "--host", "127.0.0.1", "--log-level", "warning", "tests.apps.fleet_app:asgi_app"],
        fleet_env,
        tmp_path / "uvicorn.log",
    )  # fmt: skip
    try:
        drive(server.port, 10_000, keep_alive=True)
        check_fleet(server.port, fleet_env, 10_000)
    finally:
        server.stop()


def test_a_killed_worker_is_counted_once_and_drops_out(
    fleet_env: dict[str, str], tmp_path: Path
) -> None:
    server = gunicorn(2, fleet_env, tmp_path)
    try:
        drive(server.port, 400, threads=4)
        poll(lambda: requests_total(server.port) == 400)
        durations = Path(fleet_env["FLEET_DURATIONS_DIR"])
        victim = int(sorted(durations.glob("*.txt"))[0].stem)
        os.kill(victim, signal.SIGKILL)

        def workers() -> list[str]:
            _, body = get(server.port, "/perfkit/api/snapshot")
            return [w["pid"] for w in json.loads(body)["fleet"]["workers"]]

        poll(lambda: str(victim) not in workers())  # its heartbeat expired
        drive(server.port, 200, threads=4)
        poll(lambda: requests_total(server.port) == 600)
        # let every live worker flush twice more: nothing may be added twice
        seqs = redis.Redis.from_url(fleet_env["PERFKIT_REDIS_URL"])
        seq_key = "{" + fleet_env["PERFKIT_REDIS_NAMESPACE"] + "}:seq"
        before = {k: int(v) for k, v in seqs.hgetall(seq_key).items()}
        live = [k for k in before if int(k.split(b":")[1]) != victim]
        poll(lambda: all(int(seqs.hget(seq_key, k) or 0) >= before[k] + 2 for k in live))
        seqs.close()
        assert requests_total(server.port) == 600
    finally:
        server.stop()
