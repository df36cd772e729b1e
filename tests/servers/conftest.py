"""Every server of the matrix, bare and wrapped, started at once on free 127.0.0.1 ports.

Twenty processes start in parallel (one worker each, so /perfkit/metrics sees
every request) and are polled until they answer; the whole module shares
them, and each is stopped (its process group: gunicorn and granian fork
workers) when the module ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import raw_http

HERE = Path(__file__).resolve().parent
PY = sys.executable

# name -> (interface, command); {port} is filled in, the app module is matrix_app
SERVERS: dict[str, tuple[str, list[str]]] = {
    "wsgiref": ("wsgi", [PY, "matrix_app.py", "{port}"]),
    "gunicorn": ("wsgi", [
        PY, "-m", "gunicorn", "--workers", "1", "--worker-class", "gthread", "--threads", "4",
        "--bind", "127.0.0.1:{port}", "--graceful-timeout", "2", "matrix_app:wsgi_app",
    ]),
    "waitress": ("wsgi", [
        PY, "-m", "waitress", "--listen=127.0.0.1:{port}", "--threads=4", "matrix_app:wsgi_app",
    ]),
    "cheroot": ("wsgi", [
        PY, "-m", "cheroot", "--bind", "127.0.0.1:{port}", "--threads", "4",
        "matrix_app:wsgi_app",
    ]),
    "hypercorn-wsgi": ("wsgi", [
        PY, "-m", "hypercorn", "--bind", "127.0.0.1:{port}", "--graceful-timeout", "2",
        "matrix_app:wsgi_app",
    ]),
    "granian-wsgi": ("wsgi", [
        PY, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", "{port}",
        "--workers", "1", "--no-ws", "matrix_app:wsgi_app",
    ]),
    "uvicorn": ("asgi", [
        PY, "-m", "uvicorn", "matrix_app:asgi_app", "--host", "127.0.0.1", "--port", "{port}",
        "--log-level", "warning", "--no-access-log", "--lifespan", "on",
    ]),
    "hypercorn-asgi": ("asgi", [
        PY, "-m", "hypercorn", "--bind", "127.0.0.1:{port}", "--graceful-timeout", "2",
        "matrix_app:asgi_app",
    ]),
    "daphne": ("asgi", [
        PY, "-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "--application-close-timeout", "1",
        "matrix_app:asgi_app",
    ]),
    "granian-asgi": ("asgi", [
        PY, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", "{port}",
        "--workers", "1", "--no-ws", "matrix_app:asgi_app",
    ]),
}  # fmt: skip


_taken: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, never one handed out before in this session (bind(0)
    can give a just-released port again, and twenty servers start at once)."""
    import socket

    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _taken:
            _taken.add(port)
            return port


class Process:
    """One server process on a free port, its output in `log_path`."""

    def __init__(self, command: list[str], wrapped: bool, log_path: Path) -> None:
        self.command = command
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERFKIT_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
        env["MATRIX_WRAPPED"] = "1" if wrapped else "0"
        env["MATRIX_DATA_DIR"] = str(log_path.parent)
        self.env = env
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [part.format(port=self.port) for part in self.command],
            cwd=HERE, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: workers are stopped with it
        )  # fmt: skip

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            if self.restarts >= 2:
                raise RuntimeError(f"exited with {self.proc.returncode}:\n{self.log()}")
            self.restarts += 1  # e.g. another process took the port first: a new one
            self._start()
            return False
        try:
            return b"ready" in raw_http.exchange(self.port, [("GET", "/ready")], timeout=2)[0]
        except OSError:
            return False

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self, deadline: float) -> None:
        """Wait for the exit asked by `terminate()` until `deadline`, then kill the group."""
        try:
            self.proc.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self._log.close()


@dataclass
class Pair:
    """One server running the bare app and, in another process, the wrapped one."""

    name: str
    interface: str
    bare: Process
    wrapped: Process


@pytest.fixture(scope="session")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Pair]]:
    for module in ("waitress", "granian", "hypercorn", "cheroot", "daphne", "gunicorn", "uvicorn"):
        pytest.importorskip(module)
    logs = tmp_path_factory.mktemp("servers")
    pairs: dict[str, Pair] = {}
    try:
        for name, (interface, command) in SERVERS.items():
            pairs[name] = Pair(
                name, interface,
                Process(command, False, logs / f"{name}-bare.log"),
                Process(command, True, logs / f"{name}-wrapped.log"),
            )  # fmt: skip
        waiting = [p for pair in pairs.values() for p in (pair.bare, pair.wrapped)]
        deadline = time.monotonic() + 45  # twenty interpreters starting on two cores
        while waiting and time.monotonic() < deadline:
            waiting = [p for p in waiting if not p.ready()]
            time.sleep(0.05)  # polling ports with a deadline, not waiting for a guess
        assert not waiting, "not answering:\n" + "\n".join(p.log() for p in waiting)
        yield pairs
    finally:
        processes = [p for pair in pairs.values() for p in (pair.bare, pair.wrapped)]
        for process in processes:
            process.terminate()  # all at once: graceful shutdowns overlap
        deadline = time.monotonic() + 5
        for process in processes:
            process.stop(deadline)
