"""Real multi-worker servers for the host store tests: start, drive, scrape, stop."""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.apps.fleet_app"  # wraps its app with a kit from PERFKIT_*; logs every duration


class Server:
    """A server process on a free port of 127.0.0.1, with PERFKIT_* from `env` only."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log_path = log
        self.log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        full = {k: v for k, v in os.environ.items() if not k.startswith("PERFKIT_")}
        full.update(env)
        cmd = [a.replace("{port}", str(self.port)) for a in args]
        self.proc = subprocess.Popen(
            cmd, env=full, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port, timeout=60, proc=self.proc)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def gunicorn(workers: int, env: dict[str, str], log: Path, *extra: str) -> Server:
    args = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", "127.0.0.1:{port}"]
    return Server([*args, *extra, f"{APP}:wsgi_app"], env, log)


def uvicorn(workers: int, env: dict[str, str], log: Path) -> Server:
    return Server(
        [sys.executable, "-m", "uvicorn", "--workers", str(workers), "--port", "{port}",
         "--host", "127.0.0.1", "--log-level", "warning", f"{APP}:asgi_app"],
        env,
        log,
    )  # fmt: skip


def get(port: int, path: str, keep: http.client.HTTPConnection | None = None) -> bytes:
    conn = keep or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={} if keep else {"Connection": "close"})
    response = conn.getresponse()
    body = response.read()
    if keep is None:
        conn.close()
    assert response.status == 200, (path, response.status, body[:200])
    return body


def drive(port: int, total: int, threads: int = 8, keep_alive: bool = False) -> None:
    """`total` requests from `threads` concurrent clients."""
    per_thread = total // threads
    errors: list[BaseException] = []

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30) if keep_alive else None
        try:
            for i in range(per_thread):
                get(port, f"/items/{n * per_thread + i}", conn)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            if conn is not None:
                conn.close()

    pool = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors[0]


def requests_total(port: int) -> float:
    """The sum of ``app_requests_total`` in one scrape of /perfkit/metrics."""
    total = 0.0
    for line in get(port, "/perfkit/metrics").decode().splitlines():
        if line.startswith("app_requests_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def snapshot(port: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(get(port, "/perfkit/api/snapshot"))
    return data


def poll(predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.1)  # polling a live server with a deadline


class Scraper:
    """Scrapes /perfkit/metrics every 50 ms in a thread; records any decrease of the total."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.drops: list[tuple[float, float]] = []
        self.scrapes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = 0.0
        while not self._stop.wait(0.05):
            seen = requests_total(self.port)
            self.scrapes += 1
            if seen < last:
                self.drops.append((last, seen))
            last = max(last, seen)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def exact_p99(directory: Path) -> tuple[int, float]:
    values = sorted(float(v) for f in directory.glob("*.txt") for v in f.read_text().split())
    return len(values), values[math.floor(0.99 * (len(values) - 1))]


def every_worker_reports(port: int, total: int, workers: int, timeout: float = 60.0) -> None:
    """Snapshots until `workers` distinct workers answered; each must report `total` exactly."""
    answered: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(answered) < workers:
        snap = snapshot(port)
        assert snap["scope"] == "host", snap["scope_note"]
        assert snap["requests"]["summary"]["count"] == total, snap["fleet"]["process_id"]
        answered.add(snap["fleet"]["process_id"])
        assert time.monotonic() < deadline, f"only {len(answered)} workers answered"
