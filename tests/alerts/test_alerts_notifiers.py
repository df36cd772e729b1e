"""Notifiers against real servers (http.server webhook receiver, aiosmtpd) and the dispatcher."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from perfkit.alerts import (
    Alert,
    AlertEvent,
    AlertManager,
    AlertRule,
    CallbackNotifier,
    Dispatcher,
    EmailNotifier,
    LogNotifier,
    NotificationError,
    WebhookNotifier,
)
from perfkit.testing import FakeClock


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `predicate` until true or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        threading.Event().wait(0.01)  # polling interval, bounded by the deadline


class Receiver:
    """A real HTTP server on 127.0.0.1 recording every POST; replies with queued statuses."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def event(
    name: str = "high_cpu", transition: str = "firing", severity: str = "critical"
) -> AlertEvent:
    alert = Alert(name, severity, transition, 97.5, 90.0, f"{name} is bad",  # type: ignore[arg-type]
                  started_at=1_700_000_000.0, labels={"host": "web1"})  # fmt: skip
    return AlertEvent(alert, transition, 1_700_000_001.0)


def test_webhook_delivers_signed_json_that_the_receiver_can_verify(receiver: Receiver) -> None:
    """The body carries the alert fields and X-Perfkit-Signature is the HMAC of the body."""
    WebhookNotifier(receiver.url, secret="s3cret").send([event()])
    [req] = receiver.requests
    assert req["path"] == "/hook" and req["headers"]["Content-Type"] == "application/json"
    expected = "sha256=" + hmac.new(b"s3cret", req["body"], hashlib.sha256).hexdigest()
    assert req["headers"]["X-Perfkit-Signature"] == expected
    body = json.loads(req["body"])
    assert body["status"] == "firing" and body["count"] == 1
    [alert] = body["alerts"]
    keys = ("rule", "severity", "state", "value", "threshold", "message")
    assert [alert[k] for k in keys] == [
        "high_cpu", "critical", "firing", 97.5, 90.0, "high_cpu is bad"
    ]  # fmt: skip
    assert alert["labels"] == {"host": "web1"} and alert["started_at_iso"].endswith("Z")


def test_webhook_without_secret_is_unsigned_and_slack_format(receiver: Receiver) -> None:
    """No secret: no signature header; format='slack' posts {'text': ...}."""
    WebhookNotifier(receiver.url, format="slack").send([event(), event("disk", "resolved")])
    [req] = receiver.requests
    assert "X-Perfkit-Signature" not in req["headers"]
    text = json.loads(req["body"])["text"]
    assert "[CRITICAL] high_cpu firing" in text and "disk resolved" in text


def test_webhook_retries_server_errors_with_backoff(receiver: Receiver) -> None:
    """5xx answers are retried; the third attempt succeeds."""
    receiver.statuses = [500, 503]
    WebhookNotifier(receiver.url, retries=3, backoff=0.01).send([event()])
    assert len(receiver.requests) == 3
    assert receiver.requests[0]["body"] == receiver.requests[2]["body"]


def test_webhook_gives_up_on_client_errors_and_unreachable_hosts(receiver: Receiver) -> None:
    """4xx is not retried; a closed port fails after the retries, with a clear error."""
    receiver.statuses = [400]
    with pytest.raises(NotificationError, match="1 attempt"):
        WebhookNotifier(receiver.url, retries=3, backoff=0.01).send([event()])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with pytest.raises(NotificationError, match="3 attempt"):
        WebhookNotifier(f"http://127.0.0.1:{closed}/", retries=2, backoff=0.01).send([event()])


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"url": "ftp://x"}, "http"),
        ({"url": "http://"}, "host"),
        ({"url": "http://x", "format": "xml"}, "format"),
        ({"url": "http://x", "timeout": 0}, "timeout"),
        ({"url": "http://x", "retries": -1}, "retries"),
    ],
)
def test_bad_webhook_configuration_is_reported_at_construction(
    kwargs: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ValueError, match=needle):
        WebhookNotifier(**kwargs)


def test_bad_email_configuration_is_reported_at_construction() -> None:
    for kwargs, needle in [
        ({"port": 0}, "port"),
        ({"sender": "nobody"}, "nobody"),
        ({"recipients": []}, "recipient"),
        ({"username": "u"}, "password"),
        ({"batch_size": 0}, "batch_size"),
    ]:
        args: dict[str, Any] = {"host": "h", "port": 25, "sender": "a@b", "recipients": ["c@d"]}
        with pytest.raises(ValueError, match=needle):
            EmailNotifier(**{**args, **kwargs})


class SMTPRecorder:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[SMTPRecorder, int, list[tuple[bytes, bytes]]]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        logins.append((data.login, data.password))
        return AuthResult(success=data.login == b"alerts" and data.password == b"pw")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    handler = SMTPRecorder()
    controller = Controller(handler, hostname="127.0.0.1", port=port,
                            authenticator=authenticator, auth_require_tls=False)  # fmt: skip
    controller.start()
    try:
        yield handler, port, logins
    finally:
        controller.stop()


def test_email_batches_several_alerts_into_one_message(
    smtp: tuple[SMTPRecorder, int, list[tuple[bytes, bytes]]],
) -> None:
    """Seven events with batch_size=5 arrive as two messages; login is used when given."""
    handler, port, logins = smtp
    rcpts = ["ops@example.com", "dev@example.com"]
    notifier = EmailNotifier(
        "127.0.0.1", port, "perfkit@example.com", rcpts, username="alerts", password="pw"
    )
    notifier.send([event(f"rule{i}") for i in range(6)] + [event("rule6", "resolved")])
    assert len(handler.messages) == 2
    sender, rcpts, first = handler.messages[0]
    assert sender == "perfkit@example.com" and rcpts == ["ops@example.com", "dev@example.com"]
    assert "5 alerts (5 firing, 0 resolved)" in first["Subject"]
    body = first.get_payload()
    assert all(f"rule{i} firing" in body for i in range(5))
    second = handler.messages[1][2]
    assert "2 alerts (1 firing, 1 resolved): rule5, rule6" in second["Subject"]
    assert "rule6 resolved" in second.get_payload()
    assert logins == [(b"alerts", b"pw")]


def test_manager_delivers_through_webhook_and_email_off_the_caller_thread(
    receiver: Receiver, smtp: tuple[SMTPRecorder, int, list[tuple[bytes, bytes]]]
) -> None:
    """End to end: evaluate() returns at once; both channels receive the alert, grouped."""
    handler, port, _ = smtp
    metrics = {"system.cpu_percent": 95.0, "system.memory_percent": 95.0}
    rules = [
        AlertRule("cpu", "system.cpu_percent", 80, 90),
        AlertRule("mem", "system.memory_percent", 80, 90),
    ]
    manager = AlertManager(lambda: metrics, clock=FakeClock(), group_wait=0.3, rules=rules)
    manager.add_notifier(WebhookNotifier(receiver.url, secret="k"))
    manager.add_notifier(EmailNotifier("127.0.0.1", port, "a@example.com", "b@example.com"))
    assert len(manager.evaluate()) == 2
    wait_until(lambda: len(receiver.requests) == 1 and len(handler.messages) == 1)
    assert json.loads(receiver.requests[0]["body"])["count"] == 2  # grouped into one POST
    assert "2 alerts" in handler.messages[0][2]["Subject"]
    manager.stop()


def test_a_hanging_notifier_is_abandoned_and_others_still_deliver() -> None:
    """A notifier that never returns times out (logged, counted); the other one delivers."""
    release = threading.Event()
    got: list[AlertEvent] = []
    dispatcher = Dispatcher(timeout=1.0)
    dispatcher.add_notifier(CallbackNotifier(lambda e: release.wait(30), name="hangs"))
    dispatcher.add_notifier(CallbackNotifier(got.append, name="works"))
    dispatcher.add_notifier(CallbackNotifier(lambda e: 1 / 0, name="fails"))
    dispatcher.submit([event()])
    assert dispatcher.flush(10)
    status = dispatcher.status()
    assert len(got) == 1
    assert (status["delivered"], status["timed_out"], status["failed"]) == (1, 1, 1)
    assert any("hangs" in e for e in status["last_errors"])
    assert any("ZeroDivisionError" in e for e in status["last_errors"])
    release.set()
    dispatcher.stop()


def test_log_notifier_logs_firing_and_resolved(caplog: pytest.LogCaptureFixture) -> None:
    """Firing critical at ERROR, resolved at INFO."""
    caplog.set_level("INFO", logger="perfkit.alerts")
    LogNotifier().send([event(), event(transition="resolved")])
    assert [(r.levelname, "firing" in r.getMessage()) for r in caplog.records] == [
        ("ERROR", True), ("INFO", False)
    ]  # fmt: skip


def test_a_hung_notifier_does_not_delay_the_others() -> None:
    """Each notifier has its own worker: the fast one delivers while the slow one hangs."""
    release = threading.Event()
    got: list[AlertEvent] = []
    dispatcher = Dispatcher(timeout=30.0)
    dispatcher.add_notifier(CallbackNotifier(lambda e: release.wait(60), name="hangs"))
    dispatcher.add_notifier(CallbackNotifier(got.append, name="fast"))
    try:
        for round_ in range(1, 4):  # three rounds: none waits for the hung one to time out
            dispatcher.submit([event()])
            # well under the 30 s timeout the hung delivery holds its own lane for
            wait_until(lambda n=round_: len(got) == n, timeout=15)
        assert dispatcher.status()["delivered"] == 3
    finally:
        release.set()
        dispatcher.stop()
