"""Who may call the API: bearer token (constant-time), a user callable, or loopback only;
and a per-client token bucket so a scraper loop or a token brute force cannot load the host."""

from __future__ import annotations

import hmac
import ipaddress
import math
import threading
from collections.abc import Callable
from typing import Any

from .router import ApiError

__all__ = ["ClientRateLimiter", "check_access"]


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


def check_access(
    request: Any,
    token: str | None,
    authorize: Callable[[Any], bool] | None,
) -> None:
    """Raise 401/403 unless the request may use the protected API.

    With a token configured the request must carry ``Authorization: Bearer
    <token>``; with an `authorize` callable it must return True; with
    neither, only loopback clients are answered.
    """
    header = request.headers.get("authorization", "")
    if token is not None:
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return
        if authorize is None:
            raise ApiError(
                401,
                "unauthorized",
                "send Authorization: Bearer <PERFKIT_TOKEN>",
                [("WWW-Authenticate", 'Bearer realm="perfkit"')],
            )
    if authorize is not None:
        try:
            allowed = bool(authorize(request))
        except Exception:
            allowed = False  # a failing authorize hook denies; it never opens the API
        if allowed:
            return
        raise ApiError(403, "forbidden", "the authorize hook refused this request")
    if token is None and _is_loopback(request.client) and not _forwarded(request):
        return
    if token is None:
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
