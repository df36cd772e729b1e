"""Per-request context: request id, user and organization, visible to log records.

The middlewares set these for the duration of a request and reset them in
``finally`` so nothing leaks into the next request served by the same thread or task.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["current_organization_id", "current_request_id", "current_user_id"]

request_id_var: ContextVar[str | None] = ContextVar("perfkit_request_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("perfkit_user_id", default=None)
organization_id_var: ContextVar[str | None] = ContextVar("perfkit_organization_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served in this thread or task, if any."""
    return request_id_var.get()


def current_user_id() -> str | None:
    """The user of the request being served, when the `identify` hook gave one."""
    return user_id_var.get()


def current_organization_id() -> str | None:
    """The organization of the request being served, when the `identify` hook gave one."""
    return organization_id_var.get()
