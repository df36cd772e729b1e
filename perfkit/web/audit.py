"""The access audit: every state-changing call, and reads made with a token, rate-limited.

Lines go to the ``perfkit.audit`` logger with the client, the operation
(its OpenAPI operationId), the role and how it was proven, as record extras
and in the message. A dashboard polling every few seconds yields one read line
per client per `audit_read_interval`, counting the reads it stands for.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["ReadAudit", "audit_access"]

_log = logging.getLogger("perfkit.audit")


class ReadAudit:
    """Decides when a client's reads are due a line: at most one per `interval` seconds.

    Args:
        interval: seconds between lines for one client (0: every read).
        clock: a monotonic clock in seconds.
        max_clients: clients remembered (the least recent are forgotten: bounded memory).
    """

    def __init__(
        self, interval: float, clock: Callable[[], float], max_clients: int = 10_000
    ) -> None:
        self.interval = interval
        self.clock = clock
        self.max_clients = max_clients
        self._clients: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def due(self, client: str) -> int:
        """Count one read by `client`; the reads a line stands for now, or 0 when none is due."""
        now = self.clock()
        with self._lock:
            last = self._clients.pop(client, None)
            if last is None or now - last[0] >= self.interval:
                self._clients[client] = (now, 0)
                reads = 1 if last is None else last[1] + 1
            else:
                self._clients[client] = (last[0], last[1] + 1)
                reads = 0
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
        return reads


def audit_access(
    event: str,
    operation: str,
    path: str,
    client: str | None,
    role: str,
    via: str,
    **details: Any,
) -> None:
    """One audit line: `event` is ``read`` or ``admin``; `details` go along as extras."""
    extra_text = "".join(f" {key}={value}" for key, value in details.items())
    _log.info(
        "%s %s %s by %s as %s via %s%s",
        event,
        operation,
        path,
        client or "unknown",
        role,
        via,
        extra_text,
        extra={
            "event_type": event,
            "action": operation,
            "resource": path,
            "ip_address": client,
            "role": role,
            "via": via,
            "details": details or None,
        },
    )
