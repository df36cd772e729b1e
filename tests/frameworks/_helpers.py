"""Helpers of the framework tests: endpoint tables, polling, an in-thread uvicorn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from perfkit import Perfkit
from tests.conftest import free_port, wait_for_port


def statuses(kit: Perfkit) -> dict[str, dict[str, int]]:
    """``{"GET /route": {"200": n, ...}}`` from the kit's snapshot."""
    return {row["key"]: row["statuses"] for row in kit.snapshot()["requests"]["endpoints"]}


def wait_until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll `check` until it returns something truthy (a server records after the last byte)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)  # polling against a deadline


def metrics_after_leaving_a_stream(http: Any, size: int) -> str:
    """Read /stream/3 whole, leave /stream/`size` mid-body; the metrics text once its 499 is
    recorded ("" if it never is). `http` is an ``httpx.Client`` on the server."""
    with http.stream("GET", "/stream/3") as response:
        assert list(response.iter_lines()) == ["chunk 0", "chunk 1", "chunk 2"]
    with http.stream("GET", f"/stream/{size}") as response:
        next(response.iter_bytes())  # leave in the middle of the body

    def metrics() -> str:
        text = http.get("/perfkit/metrics").text
        return text if 'status="499"' in text else ""

    text: str = wait_until(metrics, timeout=20)
    return text


@contextmanager
def uvicorn_server(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread of this process (a real HTTP server); yields its URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port, timeout=15.0)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def gunicorn_server(
    target: str, app_dir: Path, tmp_path: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run ``gunicorn target`` (one sync worker) from `app_dir`; yields its URL; stops it."""
    port = free_port()
    log = tmp_path / f"gunicorn-{port}.log"
    full_env = {**os.environ, **(env or {})}
    root = str(Path(__file__).resolve().parents[2])
    full_env["PYTHONPATH"] = os.pathsep.join([str(app_dir), root, full_env.get("PYTHONPATH", "")])
    cmd = [
        sys.executable, "-m", "gunicorn", target, "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "--threads", "4", "--graceful-timeout", "5", "--log-level", "warning",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=full_env)
    try:
        wait_for_port(port, timeout=30.0, proc=proc, log=log)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown (TERM waits for workers)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
