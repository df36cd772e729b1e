"""Who may call the API: the admin or the read token (constant-time), a user callable,
or loopback only; and a per-client token bucket so a scraper loop or a token brute
force cannot load the host."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .router import ApiError

__all__ = ["ClientRateLimiter", "Grant", "check_access"]


def _is_loopback(client: str | None) -> bool:
    if not client:
        return False
    try:
        return ipaddress.ip_address(client.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


_FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host")


def _forwarded(request: Any) -> bool:
    """True when a proxy relayed the request: the loopback peer is then not the client."""
    headers = request.headers
    return any(name in headers for name in _FORWARDING_HEADERS)


@dataclass(frozen=True)
class Grant:
    """Why a request was let in: the role it holds and how it proved it.

    `via` is ``token`` (the admin token), ``read_token``, ``authorize`` (the
    hook said yes), ``loopback`` (no token configured, a direct local client),
    ``signature`` (role ``webhook``: an external alert signed with alert_webhook_secret)
    or ``local`` (a caller in this process, e.g. ``manage.py perfkit``).
    """

    role: str
    via: str

    @property
    def identified(self) -> bool:
        """The caller proved who it is (a token or the hook), so its reads are audited."""
        return self.via != "loopback"


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def _matches(given: bytes, secret: str | None) -> bool:
    # digests first: compare_digest on equal-length values does not leak the token's length
    return secret is not None and hmac.compare_digest(_digest(given), _digest(secret.encode()))


def _bearer(request: Any) -> bytes | None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return given.strip().encode() if scheme.lower() == "bearer" and given.strip() else None


def _cross_site(request: Any) -> bool:
    """A browser sent it from another site's page (CSRF against a tokenless local service)."""
    headers = request.headers
    if headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = headers.get("origin")
    if not origin:
        return False
    return bool(origin == "null" or origin.partition("://")[2] != headers.get("host", ""))


_NEEDS_ADMIN = (
    "this operation changes state: it needs PERFKIT_TOKEN (the read token opens reads only)"
)
_NO_ADMIN_TOKEN = (
    "no PERFKIT_TOKEN is configured, so state-changing operations are refused; set "
    "PERFKIT_TOKEN, an authorize hook, or for local development "
    "PERFKIT_ALLOW_UNAUTHENTICATED_ADMIN=true (loopback only)"
)


def check_access(
    request: Any,
    role: str,
    settings: Any,
    authorize: Callable[[Any], bool] | None,
) -> Grant:
    """The `Grant` of a request for an operation of `role` (``read`` or ``admin``), or 401/403.

    - ``Authorization: Bearer <token>`` opens everything; the read token opens reads.
    - Otherwise an `authorize` hook decides; it finds the role on ``request.role``.
    - With no token and no hook, reads answer direct loopback clients, and
      state-changing operations are refused unless ``allow_unauthenticated_admin``
      (then for direct loopback clients too). A local proxy that adds no
      forwarding header looks like a direct loopback client: see docs/security.md.
    """
    given = _bearer(request)
    is_admin = given is not None and _matches(given, settings.token)
    is_reader = given is not None and _matches(given, settings.read_token)
    if is_admin:
        return Grant("admin", "token")
    if is_reader and role == "read":
        return Grant("read", "read_token")
    if authorize is not None:
        with contextlib.suppress(AttributeError, TypeError):  # a frozen or slotted request
            request.role = role
        try:
            allowed = bool(authorize(request))
        except Exception:
            allowed = False  # a failing authorize hook denies; it never opens the API
        if allowed:
            return Grant(role, "authorize")
        refused = _NEEDS_ADMIN if is_reader else "the authorize hook refused this request"
        raise ApiError(403, "forbidden", refused)
    if is_reader:
        raise ApiError(403, "forbidden", _NEEDS_ADMIN)
    local = _is_loopback(request.client) and not _forwarded(request)
    if role == "admin" and settings.token is None:
        if settings.allow_unauthenticated_admin and local and not _cross_site(request):
            return Grant("admin", "loopback")
        raise ApiError(403, "forbidden", _NO_ADMIN_TOKEN)
    if settings.token is not None or settings.read_token is not None:
        which = "PERFKIT_TOKEN" if role == "admin" else "PERFKIT_READ_TOKEN or PERFKIT_TOKEN"
        raise ApiError(
            401,
            "unauthorized",
            f"send Authorization: Bearer <{which}>",
            [("WWW-Authenticate", 'Bearer realm="perfkit"')],
        )
    if local:
        return Grant("read", "loopback")
    raise ApiError(
        403,
        "forbidden",
        "no PERFKIT_TOKEN or authorize hook is configured: the API answers loopback only "
        "(and not through a proxy)",
    )


class ClientRateLimiter:
    """A token bucket per client: `per_minute` requests, refilled continuously.

    Args:
        per_minute: allowed requests per client per minute (0 disables the limit).
        max_clients: how many clients are tracked (the least recent are forgotten).
        clock: a monotonic clock in seconds.
    """

    def __init__(
        self, per_minute: int, clock: Callable[[], float], max_clients: int = 10_000
    ) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Take one token for `client` or raise 429 with Retry-After."""
        if self.per_minute <= 0:
            return
        now = self.clock()
        rate = self.per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                allowed = True
            else:
                self._buckets[client] = (tokens, now)
                allowed = False
            while len(self._buckets) > self.max_clients:
                del self._buckets[next(iter(self._buckets))]
        if not allowed:
            wait = max(1, math.ceil((1.0 - tokens) / rate))
            raise ApiError(
                429,
                "rate_limited",
                f"over {self.per_minute} API requests a minute from {client}; retry in {wait}s",
                [("Retry-After", str(wait))],
            )
