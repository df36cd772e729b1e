"""`EmailNotifier`: several alerts batched into one message over SMTP (STARTTLS, login optional)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

from ..model import AlertEvent
from .base import summary_line

__all__ = ["EmailNotifier"]


class EmailNotifier:
    """Sends each group of events as messages of up to `batch_size` alerts.

    Args:
        recipients: one address or a list of addresses.
        starttls: upgrade the connection with STARTTLS before logging in.
        tls: speak TLS from the first byte (SMTPS, usually port 465).
        timeout: seconds for the SMTP connection and each command.
        ssl_context: context for STARTTLS, e.g. one trusting a private CA
            (`ssl.create_default_context(cafile=...)`); default
            `ssl.create_default_context()`: system CAs, hostname checked.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str] | str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        batch_size: int = 5,
        *,
        timeout: float = 10.0,
        subject_prefix: str = "[perfkit]",
        ssl_context: ssl.SSLContext | None = None,
        name: str | None = None,
        tls: bool = False,
    ) -> None:
        if not isinstance(host, str) or not host:
            raise ValueError(f"EmailNotifier host must be a non-empty string, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"EmailNotifier port must be an integer 1..65535, got {port!r}")
        rcpts = [recipients] if isinstance(recipients, str) else list(recipients)
        for address in [sender, *rcpts]:
            if not isinstance(address, str) or "@" not in address or "\n" in address:
                raise ValueError(f"EmailNotifier: {address!r} is not an e-mail address")
        if not rcpts:
            raise ValueError("EmailNotifier needs at least one recipient")
        if tls and starttls:
            raise ValueError("EmailNotifier: tls (SMTPS) and starttls exclude each other")
        if (username is None) != (password is None):
            raise ValueError("EmailNotifier needs both username and password, or neither")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"EmailNotifier batch_size must be a positive integer, got {batch_size!r}"
            )
        self.host, self.port, self.sender, self.recipients = host, port, sender, rcpts
        self.username, self.password, self.starttls = username, password, starttls
        self.batch_size, self.timeout, self.subject_prefix = batch_size, timeout, subject_prefix
        self.ssl_context, self.tls = ssl_context, tls
        self.name = name or f"email:{host}:{port}"
        self.sent = 0

    def message(self, events: Sequence[AlertEvent]) -> EmailMessage:
        """One message listing `events`."""
        firing = sum(1 for e in events if e.transition == "firing")
        names = ", ".join(dict.fromkeys(e.alert.name for e in events))
        msg = EmailMessage()
        if len(events) == 1:
            subject = f"{self.subject_prefix} {summary_line(events[0])}"
        else:
            resolved = len(events) - firing
            subject = (
                f"{self.subject_prefix} {len(events)} alerts "
                f"({firing} firing, {resolved} resolved): {names}"
            )
        msg["Subject"] = subject.replace("\n", " ")[:200]
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        lines = []
        for event in events:
            a = event.alert
            lines.append(summary_line(event))
            lines.append(f"  value={a.value} threshold={a.threshold} source={a.source}")
            if a.labels:
                lines.append("  labels: " + ", ".join(f"{k}={v}" for k, v in a.labels.items()))
            if a.metrics:
                lines.append("  metrics: " + ", ".join(f"{k}={v}" for k, v in a.metrics.items()))
            lines.append("")
        msg.set_content("\n".join(lines))
        return msg

    def send(self, events: Sequence[AlertEvent]) -> None:
        batches = [events[i : i + self.batch_size] for i in range(0, len(events), self.batch_size)]
        context = self.ssl_context or ssl.create_default_context()
        smtp = (
            smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            if self.tls
            else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        )
        with smtp:
            if self.starttls:
                smtp.starttls(context=context)
            if self.username is not None and self.password is not None:
                smtp.login(self.username, self.password)
            for batch in batches:
                smtp.send_message(self.message(batch))
                self.sent += 1
