"""Notifiers from settings: e-mail (``notify_smtp_url``...) and webhooks (``notify_webhook_url``).

The parsers here also validate the settings when `PerfkitSettings` is built,
so a misconfigured channel is an error at start that names the setting.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .notifiers.base import Notifier
from .notifiers.email import EmailNotifier
from .notifiers.webhook import FORMATS, WebhookNotifier

if TYPE_CHECKING:
    from ..config import PerfkitSettings

__all__ = ["CHECKS", "SmtpTarget", "notifiers_from_settings", "parse_smtp_url"]

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to reach the SMTP server, from ``notify_smtp_url``."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool  # smtps: TLS from the first byte
    starttls: bool
    cafile: str | None  # a private CA to trust instead of the system's

    def __repr__(self) -> str:
        hidden = "***" if self.password else None
        return (
            f"SmtpTarget(host={self.host!r}, port={self.port}, username={self.username!r}, "
            f"password={hidden!r}, tls={self.tls}, starttls={self.starttls})"
        )


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://[user:pass@]host[:port][?starttls=1][&cafile=/ca.pem]`` or ``smtps://...``.

    Ports default to 465 for smtps, 587 with STARTTLS and 25 otherwise. User and
    password are percent-decoded. Raises ValueError saying what is wrong.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"scheme must be smtp or smtps, got {parts.scheme or 'none'!r}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise ValueError(f"bad port: {exc}") from None
    if not host:
        raise ValueError("the URL has no host")
    if parts.path not in ("", "/"):
        raise ValueError(f"unexpected path {parts.path!r}")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - {"starttls", "cafile"})
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; expected starttls, cafile")
    flag = options.get("starttls", "0").lower()
    if flag not in _TRUE | _FALSE:
        raise ValueError(f"starttls={flag!r}: expected 1 or 0")
    tls, starttls = parts.scheme == "smtps", flag in _TRUE
    if tls and starttls:
        raise ValueError("smtps is TLS already: drop starttls=1, or use smtp://...?starttls=1")
    cafile = options.get("cafile") or None
    if cafile is not None and not os.path.isfile(cafile):
        raise ValueError(f"cafile {cafile!r} is not a file")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if (username is None) != (password is None):
        raise ValueError("give both user and password (user:password@host), or neither")
    default_port = 465 if tls else 587 if starttls else 25
    return SmtpTarget(host, port or default_port, username, password, tls, starttls, cafile)


def _addresses(text: str) -> list[str]:
    found = [a.strip() for a in text.split(",") if a.strip()]
    if not found:
        raise ValueError("no address given")
    for address in found:
        local, at, domain = address.partition("@")
        if not (local and at and domain) or any(c.isspace() or c in "<>,;" for c in address):
            raise ValueError(f"{address!r} is not an e-mail address")
    return found


def _one_address(text: str) -> str:
    found = _addresses(text)
    if len(found) != 1:
        raise ValueError("give one sender address")
    return found[0]


def _webhook_urls(text: str) -> list[str]:
    urls = [u.strip() for u in text.split(",") if u.strip()]
    if not urls:
        raise ValueError("no URL given")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            shown = f"{parts.scheme}://{parts.hostname}" if parts.scheme else url[:40]
            raise ValueError(f"{shown!r} is not an http(s) URL with a host")
    return urls


# kind -> parser, used by PerfkitSettings' validation
CHECKS: dict[str, Callable[[str], Any]] = {
    "smtp_url": parse_smtp_url,
    "email": _one_address,
    "emails": _addresses,
    "webhook_urls": _webhook_urls,
}


def notifiers_from_settings(settings: PerfkitSettings) -> list[Notifier]:
    """The e-mail and webhook notifiers the settings configure (none by default)."""
    out: list[Notifier] = []
    if settings.notify_smtp_url and settings.notify_email_from and settings.notify_email_to:
        smtp = parse_smtp_url(settings.notify_smtp_url)
        context = None
        if smtp.cafile is not None:
            context = ssl.create_default_context(cafile=smtp.cafile)
        out.append(
            EmailNotifier(
                smtp.host,
                smtp.port,
                _one_address(settings.notify_email_from),
                _addresses(settings.notify_email_to),
                username=smtp.username,
                password=smtp.password,
                starttls=smtp.starttls,
                tls=smtp.tls,
                ssl_context=context,
            )
        )
    if settings.notify_webhook_url:
        fmt = settings.notify_webhook_format
        if fmt not in FORMATS:  # validated by the settings already; kept for direct callers
            raise ValueError(f"notify_webhook_format must be one of {FORMATS}, got {fmt!r}")
        urls = _webhook_urls(settings.notify_webhook_url)
        for i, url in enumerate(urls):
            host = urlsplit(url).hostname
            name = f"webhook:{host}" if len(urls) == 1 else f"webhook:{host}#{i + 1}"
            out.append(
                WebhookNotifier(url, secret=settings.notify_webhook_secret, format=fmt, name=name)
            )
    return out
