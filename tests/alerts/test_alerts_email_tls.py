"""EmailNotifier over real STARTTLS: aiosmtpd on 127.0.0.1 with a throwaway CA and certificate."""

from __future__ import annotations

import email
import smtplib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from perfkit.alerts import Alert, AlertEvent, EmailNotifier
from tests.alerts._tls import Pki, make_pki


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@dataclass
class TLSRecorder:
    """aiosmtpd handler keeping each message with whether its session was TLS and authenticated."""

    messages: list[tuple[Message, bool, bool]] = field(default_factory=list)
    logins: list[tuple[bytes, bytes, bool]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content)
        # session.ssl is the transport's SSL info, set only after a completed STARTTLS.
        self.messages.append((msg, session.ssl is not None, session.authenticated))
        return "250 OK"


@dataclass
class TLSServer:
    handler: TLSRecorder
    port: int


@pytest.fixture
def tls_smtp(pki: Pki, tmp_path: Path) -> Iterator[TLSServer]:
    """aiosmtpd requiring STARTTLS before anything, and AUTH (only offered over TLS)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_bytes(pki.cert_pem)
    key_file.write_bytes(pki.key_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    handler = TLSRecorder()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        handler.logins.append((data.login, data.password, session.ssl is not None))
        return AuthResult(success=(data.login, data.password) == (b"alerts", b"s3cret"))

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        ready_timeout=30.0,  # the machine is shared and loaded
        tls_context=server_ctx,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        yield TLSServer(handler, port)
    finally:
        controller.stop()


def event(name: str, transition: str = "firing") -> AlertEvent:
    alert = Alert(
        name, "critical", transition, 97.5, 90.0, f"{name} is bad",
        started_at=1_700_000_000.0, labels={"host": "web1"},
    )  # fmt: skip
    return AlertEvent(alert, transition, 1_700_000_001.0)


def trusting(pki: Pki) -> ssl.SSLContext:
    """A verifying client context that trusts only the throwaway CA, with strict X.509 checks."""
    ctx = ssl.create_default_context(cadata=pki.ca_pem)
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    return ctx


def notifier(port: int, **kwargs: Any) -> EmailNotifier:
    base: dict[str, Any] = {"username": "alerts", "password": "s3cret", "timeout": 30.0}
    return EmailNotifier(
        "127.0.0.1", port, "perfkit@example.com", ["ops@example.com"], **{**base, **kwargs}
    )


def test_starttls_with_login_delivers_every_batch_over_tls(tls_smtp: TLSServer, pki: Pki) -> None:
    """starttls=True + ssl_context trusting the CA: login and both batches happen inside TLS."""
    sender = notifier(tls_smtp.port, starttls=True, batch_size=2, ssl_context=trusting(pki))
    sender.send([event("cpu"), event("mem"), event("disk", "resolved")])
    handler = tls_smtp.handler
    assert handler.logins == [(b"alerts", b"s3cret", True)]
    assert [(tls, authed) for _, tls, authed in handler.messages] == [(True, True)] * 2
    first, second = (msg for msg, _, _ in handler.messages)
    assert "2 alerts (2 firing, 0 resolved): cpu, mem" in first["Subject"]
    assert "disk resolved" in second["Subject"] and "disk resolved" in second.get_payload()
    assert sender.sent == 2


def test_plaintext_is_refused_before_any_credentials_or_alerts_are_sent(
    tls_smtp: TLSServer, pki: Pki
) -> None:
    """Without starttls the server never offers AUTH, so the password is not sent in clear."""
    with pytest.raises(smtplib.SMTPNotSupportedError, match="AUTH"):
        notifier(tls_smtp.port, starttls=False).send([event("cpu")])
    with pytest.raises(smtplib.SMTPSenderRefused, match="STARTTLS"):
        notifier(tls_smtp.port, starttls=False, username=None, password=None).send([event("cpu")])
    assert tls_smtp.handler.logins == [] and tls_smtp.handler.messages == []


def test_default_context_verifies_the_certificate(tls_smtp: TLSServer, pki: Pki) -> None:
    """Without ssl_context the system trust store is used: an unknown CA fails the handshake."""
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        notifier(tls_smtp.port, starttls=True).send([event("cpu")])
    assert tls_smtp.handler.logins == [] and tls_smtp.handler.messages == []
    # The server is still healthy afterwards: the trusting client gets through.
    notifier(tls_smtp.port, starttls=True, ssl_context=trusting(pki)).send([event("cpu")])
    assert [tls for _, tls, _ in tls_smtp.handler.messages] == [True]
