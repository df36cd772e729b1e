"""log_request, log_audit and the sampled request logger the middleware calls."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..context import request_id_var
from .setup import ACCESS_LOGGER, AUDIT_LOGGER

if TYPE_CHECKING:
    from ..config import PerfkitSettings

__all__ = ["RequestLogger", "log_audit", "log_request", "make_request_logger"]

_access = logging.getLogger(ACCESS_LOGGER)
_audit = logging.getLogger(AUDIT_LOGGER)


def log_request(
    method: str,
    path: str,
    status_code: int,
    response_time_ms: float,
    user_id: str | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
    *,
    request_id: str | None = None,
    headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    **extra: Any,
) -> None:
    """Write one line to the requests log (``perfkit.access`` logger).

    5xx responses are logged at WARNING, the rest at INFO. A query string in
    `path` and secret `headers` are redacted when the line is written.
    `request_id` defaults to the request being served.
    """
    level = logging.WARNING if status_code >= 500 else logging.INFO
    if not _access.isEnabledFor(level):
        return
    fields: dict[str, Any] = {
        "method": method,
        "path": path,
        "status_code": status_code,
        "response_time_ms": round(float(response_time_ms), 3),
        "ip_address": ip_address,
        "user_agent": user_agent,
        "request_id": request_id if request_id is not None else request_id_var.get(),
    }
    if user_id is not None:
        fields["user_id"] = str(user_id)
    if headers is not None:
        fields["headers"] = headers if isinstance(headers, Mapping) else list(headers)
    fields.update(extra)
    _access.log(
        level, "%s %s %s %.1fms", method, path.partition("?")[0], status_code,
        response_time_ms, extra=fields, stacklevel=2,
    )  # fmt: skip


def log_audit(
    event_type: str,
    user_id: str | None,
    action: str,
    resource: str,
    details: Mapping[str, Any] | None = None,
    ip_address: str | None = None,
) -> None:
    """Write one line to the audit log (``perfkit.audit`` logger); `details` are redacted."""
    fields: dict[str, Any] = {
        "event_type": event_type,
        "action": action,
        "resource": resource,
        "details": dict(details) if details is not None else {},
        "ip_address": ip_address,
    }
    if user_id is not None:
        fields["user_id"] = str(user_id)
    _audit.info("%s: %s %s", event_type, action, resource, extra=fields, stacklevel=2)


RequestLogger = Callable[..., None]


def make_request_logger(
    settings: PerfkitSettings, *, rng: Callable[[], float] | None = None
) -> RequestLogger | None:
    """The middleware's per-request hook, or None when ``settings.log_requests`` is off.

    The hook is ``hook(method, path, status_code, duration_seconds, user_id=None,
    request_id=None, ip_address=None, user_agent=None)`` (the first six
    positions match `Perfkit.request_hooks`). It logs every failed (>= 500)
    and slow (> ``slow_request_threshold``) request and a
    ``log_request_sample_rate`` fraction of the others.

    Args:
        rng: returns a float in [0, 1) (`random.random` by default; tests seed it).
    """
    if not settings.log_requests:
        return None
    rate = settings.log_request_sample_rate
    slow = settings.slow_request_threshold
    draw = rng or random.random
    enabled = _access.isEnabledFor

    def hook(
        method: str,
        path: str,
        status_code: int,
        duration_seconds: float,
        user_id: str | None = None,
        request_id: str | None = None,
        ip_address: str | None = None,
        user_agent: str | None = None,
    ) -> None:
        if (
            status_code < 500
            and duration_seconds <= slow
            and (rate <= 0.0 or (rate < 1.0 and draw() >= rate))
        ):
            return
        if not enabled(logging.INFO):
            return
        log_request(
            method, path, status_code, duration_seconds * 1000.0, user_id, ip_address,
            user_agent, request_id=request_id, slow=duration_seconds > slow,
            sampled=status_code < 500 and duration_seconds <= slow,
        )  # fmt: skip

    return hook
