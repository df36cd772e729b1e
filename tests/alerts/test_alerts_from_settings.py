"""Notifiers configured by PERFKIT_* variables alone, against a real SMTP server (aiosmtpd,
STARTTLS and SMTPS with a certificate made here) and real HTTP receivers; test notifications
driven from the HTTP API and the CLI."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.alerts import AlertRule
from perfkit.alerts.channels import notifiers_from_settings
from perfkit.alerts.notifiers import sign
from perfkit.testing import FakeClock
from perfkit.wsgi import PerfkitMiddleware
from tests.alerts._tls import Pki, make_pki, server_context
from tests.conftest import free_port, serve_wsgi

ROOT = Path(__file__).resolve().parents[2]


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)  # polling a server's inbox with a deadline


# ------------------------------------------------------------------ servers
@dataclass
class Mailbox:
    """What the SMTP server received: (message, envelope recipients, over TLS, logged in)."""

    messages: list[tuple[Message, list[str], bool, bool]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content)
        # session.ssl: after STARTTLS; the transport's ssl_object: SMTPS from the first byte
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.messages.append((msg, list(envelope.rcpt_tos), tls, session.authenticated))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m, _, _, _ in self.messages]


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture
def ca_file(pki: Pki, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    path.write_text(pki.ca_pem)
    return str(path)


def _smtp(pki: Pki, folder: Path, implicit_tls: bool) -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        return AuthResult(success=(data.login, data.password) == (b"alerts", b"p@ss:w"))

    box, port, context = Mailbox(), free_port(), server_context(pki, folder)
    tls_options: dict[str, Any] = (
        # the whole connection is TLS; aiosmtpd's auth_require_tls only knows STARTTLS, so
        # AUTH is offered but optional there (the client logs in all the same: checked below)
        {"ssl_context": context, "auth_require_tls": False, "auth_required": False}
        if implicit_tls
        else {"tls_context": context, "require_starttls": True, "auth_required": True}
    )
    controller = Controller(
        box, hostname="127.0.0.1", port=port, ready_timeout=30.0,
        authenticator=authenticator, **tls_options,
    )  # fmt: skip
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def starttls_smtp(pki: Pki, tmp_path: Path) -> Iterator[tuple[Mailbox, int]]:
    """STARTTLS required before anything, AUTH offered only inside TLS."""
    yield from _smtp(pki, tmp_path, implicit_tls=False)


@pytest.fixture
def smtps(pki: Pki, tmp_path: Path) -> Iterator[tuple[Mailbox, int]]:
    """TLS from the first byte (SMTPS)."""
    yield from _smtp(pki, tmp_path, implicit_tls=True)


@dataclass
class Receiver:
    """A real HTTP server keeping every POST; `status` is what it answers."""

    port: int
    posts: list[tuple[str, dict[str, str], bytes]]
    status: int = 200

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(body) for p, _, body in self.posts if p == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    posts: list[tuple[str, dict[str, str], bytes]] = []
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            posts.append((self.path, dict(self.headers), body))
            self.send_response(state["r"].status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    state["r"] = Receiver(server.server_address[1], posts)
    try:
        yield state["r"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def environment(smtp_port: int, ca_file: str, receiver: Receiver) -> dict[str, str]:
    """Every channel through PERFKIT_* variables: e-mail over STARTTLS, two webhooks."""
    return {
        # user and password percent-encoded, as in any URL
        "PERFKIT_NOTIFY_SMTP_URL": (
            f"smtp://alerts:p%40ss%3Aw@127.0.0.1:{smtp_port}?starttls=1&cafile={ca_file}"
        ),
        "PERFKIT_NOTIFY_EMAIL_FROM": "perfkit@example.com",
        "PERFKIT_NOTIFY_EMAIL_TO": "ops@example.com, dev@example.com",
        "PERFKIT_NOTIFY_WEBHOOK_URL": f"{receiver.url('/a')},{receiver.url('/b')}",
        "PERFKIT_NOTIFY_WEBHOOK_SECRET": "hook-secret",
        "PERFKIT_TOKEN": "admin-token",
    }


# ------------------------------------------------------------------ delivery
def test_settings_alone_deliver_firing_and_resolved_by_email_and_webhooks(
    starttls_smtp: tuple[Mailbox, int], ca_file: str, receiver: Receiver
) -> None:
    """No Python configuration: the variables build the channels; a resolution says so."""
    box, port = starttls_smtp
    kit = Perfkit(PerfkitSettings.from_env(environment(port, ca_file, receiver)), clock=FakeClock())
    template = "Queue depth is {value:.0f} (threshold {threshold:g})"
    rule = AlertRule("queue_depth", "queue.depth", 10.0, 20.0, message_template=template)
    kit.alerts.add_alert_rule(rule, check_metric=False)
    assert kit.alerts.dispatcher.status()["notifiers"] == [
        "log", f"email:127.0.0.1:{port}", "webhook:127.0.0.1#1", "webhook:127.0.0.1#2",
    ]  # fmt: skip
    kit.set_gauge("queue.depth", 25.0)
    kit.alerts.evaluate()
    assert kit.alerts.dispatcher.flush(30)  # delivered on its own, not grouped with the next
    kit.set_gauge("queue.depth", 1.0)
    kit.clock.advance(30)  # type: ignore[attr-defined]
    assert [e.transition for e in kit.alerts.evaluate()] == ["resolved"], kit.alerts.status()
    assert kit.alerts.dispatcher.flush(30), kit.alerts.dispatcher.status()
    wait_until(lambda: len(box.messages) == 2 and len(receiver.posts) == 4)

    fired, resolved = box.messages
    assert [(rcpts, tls, authed) for _, rcpts, tls, authed in box.messages] == [
        (["ops@example.com", "dev@example.com"], True, True)
    ] * 2
    assert "[CRITICAL] queue_depth firing: Queue depth is 25" in str(fired[0]["Subject"])
    subject = str(resolved[0]["Subject"])
    assert "[RESOLVED] queue_depth resolved" in subject and "now 1, back within 20" in subject
    assert "Queue depth is 25" not in subject  # not the firing text again
    for path in ("/a", "/b"):
        firing, done = receiver.bodies(path)
        assert firing["status"] == "firing" and firing["alerts"][0]["value"] == 25.0
        assert done["status"] == "resolved"
        assert done["alerts"][0]["message"] == "queue_depth is resolved: now 1, back within 20"
        assert done["alerts"][0]["firing_message"].startswith("Queue depth is 25")
    for _, headers, body in receiver.posts:
        assert headers["X-Perfkit-Signature"] == sign("hook-secret", body)
    kit.alerts.stop()


def test_smtps_from_settings(smtps: tuple[Mailbox, int], ca_file: str) -> None:
    """smtps:// speaks TLS from the first byte; port and credentials come from the URL."""
    box, port = smtps
    settings = PerfkitSettings(
        notify_smtp_url=f"smtps://alerts:p%40ss%3Aw@127.0.0.1:{port}?cafile={ca_file}",
        notify_email_from="perfkit@example.com",
        notify_email_to="ops@example.com",
    )
    (notifier,) = notifiers_from_settings(settings)
    from perfkit.alerts.testsend import send_test

    report = send_test([notifier], 1_700_000_000.0, "pytest")
    assert report["ok"], report
    ((msg, _, tls, authed),) = box.messages
    assert tls and authed and "perfkit_test" in str(msg["Subject"])


# ------------------------------------------------------------------ test notifications
def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app"]


def post(url: str, token: str | None) -> tuple[int, dict[str, Any]]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=b"{}", method="POST")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "perfkit", *args], capture_output=True, text=True, env=full,
        timeout=120,
    )  # fmt: skip


def test_api_and_cli_send_a_test_notification_through_every_channel(
    starttls_smtp: tuple[Mailbox, int], ca_file: str, receiver: Receiver
) -> None:
    """POST /api/alerts/test (admin token) and `perfkit test-alert --send` both reach every
    channel and report each outcome; a failing channel is a 502 and exit code 1."""
    box, port = starttls_smtp
    kit = Perfkit(PerfkitSettings.from_env(environment(port, ca_file, receiver)))
    with serve_wsgi(PerfkitMiddleware(_app, kit)) as app_port:
        base = f"http://127.0.0.1:{app_port}/perfkit"
        assert post(base + "/api/alerts/test", None)[0] == 401
        assert post(base + "/api/alerts/test", "wrong")[0] == 401
        status, report = post(base + "/api/alerts/test", "admin-token")
        assert status == 200 and report["ok"], report
        assert [(r["notifier"], r["sent"], r["error"]) for r in report["results"]] == [
            ("log", True, None), (f"email:127.0.0.1:{port}", True, None),
            ("webhook:127.0.0.1#1", True, None), ("webhook:127.0.0.1#2", True, None),
        ]  # fmt: skip
        assert len(box.messages) == 1 and "(test)" in str(box.messages[0][0]["Subject"])
        for path in ("/a", "/b"):
            (body,) = receiver.bodies(path)
            assert body["alerts"][0]["test"] is True
            assert body["alerts"][0]["labels"] == {"test": "true", "origin": "api"}

        done = cli("test-alert", "--send", "--url", base, "--token", "admin-token")
        assert done.returncode == 0, done.stderr
        assert f"email:127.0.0.1:{port}: sent" in done.stdout
        assert len(box.messages) == 2 and len(receiver.posts) == 4

        receiver.status = 404  # a receiver that refuses: not retried, reported
        status, report = post(base + "/api/alerts/test", "admin-token")
        assert status == 502 and not report["ok"]
        failed = {r["notifier"]: r["error"] for r in report["results"] if not r["sent"]}
        assert set(failed) == {"webhook:127.0.0.1#1", "webhook:127.0.0.1#2"}
        assert all("404" in error for error in failed.values()), failed
        done = cli("test-alert", "--send", "--url", base, "--token", "admin-token")
        assert done.returncode == 1
        assert "webhook:127.0.0.1#1: FAILED" in done.stdout and "log: sent" in done.stdout
        done = cli("test-alert", "--send", "--url", base, "--token", "admin-token", "--json")
        assert done.returncode == 1 and json.loads(done.stdout)["ok"] is False
    kit.alerts.stop()


def test_cli_local_send_reads_the_environment_without_a_service(
    starttls_smtp: tuple[Mailbox, int], ca_file: str, receiver: Receiver
) -> None:
    """`--send --local` builds the channels from this shell's PERFKIT_* variables."""
    box, port = starttls_smtp
    done = cli("test-alert", "--send", "--local", env=environment(port, ca_file, receiver))
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(box.messages) == 1 and len(receiver.posts) == 2
    assert receiver.bodies("/a")[0]["alerts"][0]["labels"]["origin"] == "cli"
    bad = cli("test-alert", "--send", "--local", env={"PERFKIT_NOTIFY_SMTP_URL": "smtp://x:y@h"})
    assert bad.returncode == 2 and "PERFKIT_NOTIFY_EMAIL_FROM" in bad.stderr
    assert "y@h" not in bad.stderr  # the password is never echoed
