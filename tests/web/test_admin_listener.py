"""The admin listener: the perfkit surface on its own port, one holder per host.

In process: what it serves, the safer default on it, release on stop, takeover
between two kits. Under gunicorn -w 3 and uvicorn --workers 2: exactly one worker
listens, another takes over after the holder is SIGKILLed, and with
PERFKIT_PREFIX_ON_APP=false the app's port keeps only health under the prefix.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.web.listener import RETRY_SECONDS, AdminListener
from perfkit.wsgi import PerfkitMiddleware
from tests.conftest import free_port, serve_wsgi, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def fetch(
    url: str, method: str = "GET", body: bytes | None = None, token: str | None = None
) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), exc.read()


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5):
            return False
    except OSError:
        return True


def poll(what: str, check: Any, timeout: float = 30.0) -> Any:
    """Call `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)  # polling with a deadline
    raise AssertionError(f"{what}: still {last!r} after {timeout}s")


def test_serve_answers_the_whole_surface_at_the_root_and_under_the_prefix() -> None:
    kit = Perfkit(PerfkitSettings(token="adm", read_token="rd"))
    kit.record_api_performance("/users/{id}", "GET", 0.02, 200)
    port = free_port()
    listener = kit.serve(port=port)
    try:
        poll("the listener holds its port", lambda: listener.holding)
        base = f"http://127.0.0.1:{port}"
        assert listener.bound_port == port
        assert fetch(base + "/health")[0] in (200, 503)  # 503: critical (a loaded machine)
        assert fetch(base + "/perfkit/health/live")[0] == 200
        status, body = fetch(base + "/api/snapshot", token="rd")
        assert status == 200 and json.loads(body)["requests"]["summary"]["count"] == 1
        assert fetch(base + "/perfkit/api/snapshot", token="rd")[0] == 200
        assert fetch(base + "/api/snapshot")[0] == 401
        assert b"app_requests_total" in fetch(base + "/metrics")[1]
        assert b"<!doctype html>" in fetch(base + "/perfkit/")[1]
        cleanup = json.dumps({"action": "cleanup"}).encode()
        assert fetch(base + "/api/maintenance", "POST", cleanup, token="rd")[0] == 403
        assert fetch(base + "/api/maintenance", "POST", cleanup, token="adm")[0] == 200
        status, body = fetch(base + "/api/nothing", token="adm")
        assert status == 404 and json.loads(body)["error"] == "not_found"
        assert kit.serve(port=port) is listener  # asking again returns the same listener
    finally:
        kit.stop()
        listener.stop()
    poll("port released after stop", lambda: refused(port), timeout=10)
    assert not listener.holding


def test_a_second_listener_waits_and_takes_over_when_the_holder_stops() -> None:
    port = free_port()
    first = AdminListener(Perfkit(), port)
    second = AdminListener(Perfkit(), port, retry_seconds=0.1)
    try:
        first.start()
        poll("first holds the port", lambda: first.holding)
        second.start()
        time.sleep(0.5)  # several of the second's 0.1 s retries: it must still not bind
        assert not second.holding
        first.stop()
        poll("the second took over", lambda: second.holding, timeout=10)
        assert fetch(f"http://127.0.0.1:{port}/health/live")[0] == 200
    finally:
        first.stop()
        second.stop()


def test_bad_listener_arguments_are_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match=r"port must be an integer in 0\.\.65535, got 70000"):
        AdminListener(Perfkit(), 70000)
    with pytest.raises(ValueError, match="host must be an address"):
        AdminListener(Perfkit(), 8000, host="")


def test_a_port_it_cannot_bind_for_another_reason_is_reported_once() -> None:
    kit = Perfkit()
    listener = AdminListener(kit, free_port(), host="192.0.2.1", retry_seconds=0.05)  # not ours
    try:
        listener.start()
        poll("the failure is reported", lambda: kit.errors.counts.get("admin listener"))
        time.sleep(0.3)  # several retries: the same cause is not reported again
        assert kit.errors.counts["admin listener"] == 1 and not listener.holding
    finally:
        listener.stop()


def test_prefix_off_the_app_keeps_only_health_there() -> None:
    kit = Perfkit(PerfkitSettings(prefix_on_app=False))

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"the app"]

    with serve_wsgi(PerfkitMiddleware(app, kit)) as port:
        base = f"http://127.0.0.1:{port}/perfkit"
        assert fetch(base + "/api/snapshot") == (200, b"the app")
        assert fetch(base + "/metrics") == (200, b"the app")
        assert fetch(base + "/") == (200, b"the app")
        status, body = fetch(base + "/health")
        assert status in (200, 503) and "status" in json.loads(body)
        assert json.loads(fetch(base + "/health/live")[1])["status"] == "healthy"


# ------------------------------------------------------------------ several workers
def holders(master: int, port: int) -> list[int]:
    """The pids among the server's processes with a socket listening on `port`."""
    found = []
    root = psutil.Process(master)
    for proc in [root, *root.children(recursive=True)]:
        try:
            conns = proc.net_connections(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns):
            found.append(proc.pid)
    return found


def workers(master: int) -> list[int]:
    return [p.pid for p in psutil.Process(master).children(recursive=True)]


SERVERS = {
    "gunicorn": [
        "-m", "gunicorn", "-w", "3", "-b", "127.0.0.1:{port}", "tests.apps.admin_app:wsgi_app",
    ],
    "uvicorn": [
        "-m", "uvicorn", "--workers", "2", "--port", "{port}", "--log-level", "warning",
        "tests.apps.admin_app:asgi_app",
    ],
}  # fmt: skip


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_one_listener_per_host_taken_over_when_the_holder_is_killed(
    server: str, tmp_path: Path
) -> None:
    app_port, admin_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFKIT_")}
    env.update(
        PERFKIT_ADMIN_PORT=str(admin_port),
        PERFKIT_PREFIX_ON_APP="false",
        PERFKIT_DATA_DIR=str(tmp_path / "data"),
        PERFKIT_MONITORING_INTERVAL="60",
        PERFKIT_FLUSH_INTERVAL="0.2",
    )
    args = [a.replace("{port}", str(app_port)) for a in SERVERS[server]]
    log_path = tmp_path / f"{server}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, *args], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(app_port, timeout=60, proc=proc, log=log_path)
        admin = f"http://127.0.0.1:{admin_port}"
        poll("the workers", lambda: len(workers(proc.pid)) >= 2, timeout=60)
        holder = poll("one worker holds the admin port", lambda: holders(proc.pid, admin_port))
        # over more than one retry period every other worker has tried: still one holder
        deadline = time.monotonic() + RETRY_SECONDS * 1.5
        while time.monotonic() < deadline:
            assert holders(proc.pid, admin_port) == holder
            time.sleep(0.2)  # sampling the holders across retry periods
        assert len(holder) == 1 and holder[0] != proc.pid, holder
        assert fetch(admin + "/health/live")[0] == 200
        assert fetch(admin + "/api/snapshot")[0] == 200  # loopback reads stay open
        assert fetch(admin + "/perfkit/metrics")[0] == 200
        cleanup = json.dumps({"action": "cleanup"}).encode()
        assert fetch(admin + "/api/maintenance", "POST", cleanup)[0] == 403  # no token

        # the app's port: only health stays under /perfkit
        app = f"http://127.0.0.1:{app_port}/perfkit"
        status, body = fetch(app + "/api/snapshot")
        assert status == 200 and body.startswith(b"app "), body
        assert fetch(app + "/metrics")[1].startswith(b"app ")
        assert "status" in json.loads(fetch(app + "/health/live")[1])

        # its figures are the host's: every worker's requests, through the host store
        for i in range(20):
            assert fetch(f"http://127.0.0.1:{app_port}/work/{i}")[0] == 200

        seen: list[tuple[str, int]] = []

        def host_figures() -> bool:
            snap = json.loads(fetch(admin + "/api/snapshot")[1])
            seen.append((snap.get("scope"), snap["requests"]["summary"]["count"]))
            return seen[-1][0] == "host" and seen[-1][1] >= 20

        assert poll("the admin port shows the host's figures", host_figures), seen[-1:]

        os.kill(holder[0], signal.SIGKILL)
        taken = poll(
            "another worker takes the admin port over",
            lambda: [p for p in holders(proc.pid, admin_port) if p != holder[0]],
        )
        assert len(taken) == 1
        poll("the admin port answers again", lambda: fetch(admin + "/health/live")[0] == 200)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
