"""What both middlewares share: request ids, routes, identities, exclusions, recording."""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._safety import InternalErrors
from ..kit import Perfkit
from ..metrics.record import RequestRecord
from ..metrics.routes import NOT_FOUND

if TYPE_CHECKING:
    from ..guards import Guards

__all__ = ["CLIENT_CLOSED", "RequestCore", "is_sane_request_id"]

CLIENT_CLOSED = 499  # nginx's code for "client closed the connection before the response ended"

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

_app_log = logging.getLogger("perfkit.app")
_HEALTH_PATHS = ("/health", "/health/live", "/health/ready")


class _RequestIds:
    """Cheap unique ids: a random per-process prefix and a counter (reset after fork)."""

    def __init__(self) -> None:
        self._reseed()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count(1)

    def next(self) -> str:
        # next() on count() is atomic; the fixed-length prefix keeps ids unique unpadded
        return self._prefix + "%x" % next(self._counter)  # noqa: UP031 - the fastest form


_ids = _RequestIds()


def is_sane_request_id(value: Any) -> bool:
    """Whether `value` may be used as a request id (1-128 characters of a safe set)."""
    return isinstance(value, str) and _REQUEST_ID.fullmatch(value) is not None


class RequestCore:
    """Per-middleware configuration and the shared per-request steps.

    Args:
        kit: where requests are recorded.
        route_name: ``route_name(environ_or_scope) -> str | None``; its answer
            wins over templating the raw path.
        identify: ``identify(environ_or_scope) -> (user_id, organization_id)``.
        exclude: path prefixes (or a predicate on the path) that are passed
            through untouched and not counted.
    """

    def __init__(
        self,
        kit: Perfkit,
        route_name: Callable[[Any], str | None] | None = None,
        identify: Callable[[Any], tuple[Any, Any] | None] | None = None,
        exclude: Callable[[str], bool] | tuple[str, ...] | list[str] | None = None,
    ) -> None:
        self.kit = kit
        self.prefix = kit.settings.prefix
        self.prefix_on_app = kit.settings.prefix_on_app
        self.route_name = route_name
        self.identify = identify
        if exclude is None or callable(exclude):
            self.exclude = exclude
        else:
            prefixes = tuple(exclude)
            self.exclude = lambda path: path.startswith(prefixes)
        self.max_path_length = kit.settings.max_path_length
        self.app_problems = InternalErrors(
            message="the wrapped app misbehaved (%s, %d so far): %s", logger=_app_log
        )
        # request guards (perfkit.guards): None keeps the hot path to one check;
        # `guarded` is the app behind them, set by the middleware
        self.guards: Guards | None = None
        self.guarded: Any = None
        # what the framework left in the environ/scope after routing (set by the middleware)
        self.framework_route: Callable[[Any, int], str | None] | None = None

    def use_guards(self, guards: Guards | None) -> Guards | None:
        """The guards to apply: `guards`, else the kit's from its settings; bound to the kit."""
        from ..errors import ConfigError

        if guards is None:
            guards = self.kit.guards
        elif guards.enabled:
            self.kit.bind_guards(guards)
        if guards is None or not guards.enabled:
            return None
        if guards.key == "user" and self.identify is None:
            raise ConfigError("rate_limit_key 'user' needs the middleware's identify= hook")
        self.guards = guards
        return guards

    def is_perfkit_path(self, path: str) -> bool:
        prefix = self.prefix
        if not (path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/")):
            return False
        # PERFKIT_PREFIX_ON_APP=false: only health stays on the app's port (load balancers)
        return self.prefix_on_app or path[len(prefix) :].rstrip("/") in _HEALTH_PATHS

    def is_excluded(self, path: str) -> bool:
        return self.exclude is not None and bool(self.exclude(path))

    new_id = staticmethod(_ids.next)

    @staticmethod
    def request_id(incoming: str | None) -> str:
        """The client's `X-Request-ID` when it is sane, otherwise a new one."""
        if incoming and _REQUEST_ID.fullmatch(incoming):
            return incoming
        return _ids.next()

    def who(self, request: Any) -> tuple[str | None, str | None]:
        """``(user, organization)`` from the `identify` hook; a failing hook yields nothing."""
        if self.identify is None:
            return None, None
        try:
            answer = self.identify(request)
            if not answer:
                return None, None
            user, org = answer
        except Exception as exc:
            self.kit.errors.report("identify hook", exc)
            return None, None
        return (None if user is None else str(user)), (None if org is None else str(org))

    def route(self, request: Any, status: int) -> str | None:
        """The endpoint name; None means "template the raw path" (done off the request path)."""
        if self.route_name is not None:
            try:
                named = self.route_name(request)
            except Exception as exc:
                self.kit.errors.report("route_name hook", exc)
                named = None
            if named:
                return str(named)
        if self.framework_route is not None:
            try:
                found = self.framework_route(request, status)
            except Exception as exc:
                self.kit.errors.report("framework route", exc)
                found = None
            if found:
                return found
        if status == 404:
            return NOT_FOUND  # unmatched paths must not become one series each
        return None

    def record(self, request: Any, record: RequestRecord) -> None:
        """Record a finished request (route named, path cut to length here);
        perfkit's own failures are contained."""
        kit = self.kit
        try:
            path = record.path
            if path is not None and len(path) > self.max_path_length:
                record.path = path[: self.max_path_length] + "..."
            status = record.status
            framework_route = self.framework_route
            if self.route_name is None and framework_route is not None:
                # the common case, inlined (this runs for every request)
                try:
                    found = framework_route(request, status)
                except Exception as exc:
                    self.kit.errors.report("framework route", exc)
                    found = None
                record.route = found or (NOT_FOUND if status == 404 else None)
            else:
                record.route = self.route(request, status)
            kit.registry.record_request(record)
            if kit.request_hooks:
                kit.run_request_hooks(record)
        except Exception as exc:
            kit.errors.report("record", exc)

    def begin(self) -> None:
        try:
            self.kit.registry.begin_request()
        except Exception as exc:
            self.kit.errors.report("in-flight gauge", exc)

    def end(self) -> None:
        try:
            self.kit.registry.end_request()
        except Exception as exc:
            self.kit.errors.report("in-flight gauge", exc)

    def app_problem(self, kind: str, detail: str) -> None:
        self.app_problems.report(kind, ValueError(detail), traceback=False)
