"""`Guards`: what to limit (rate limits, body size), per route, keyed by whom, and who is exempt."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..component import Component
from ..config import PerfkitSettings
from ..context import user_id_var
from ..errors import ConfigError
from .clients import TrustedProxies
from .limiter import STRATEGIES, Decision, RateLimiter, Rule
from .spec import LimitSpec, parse_rate_limits, parse_size
from .stats import GuardStats

if TYPE_CHECKING:
    from .._safety import InternalErrors
    from ..clock import Clock
    from ..metrics.routes import RouteTemplater

__all__ = ["ALWAYS_EXEMPT", "Guards"]

ALWAYS_EXEMPT = ("/health",)  # load balancers' health checks must never be refused
KEYS = ("ip", "user")
MAX_KEY = 200  # longer client keys are hashed (bounded Redis keys)
MAX_CLIENT_CACHE = 16_384  # (peer, forwarded header) pairs remembered with their client key


def _bounded(ident: str) -> str:
    """`ident`, or its SHA-256 when longer than `MAX_KEY` (bounded storage keys)."""
    if len(ident) > MAX_KEY:
        return "sha256:" + hashlib.sha256(ident.encode()).hexdigest()
    return ident


def _limits(value: str | None, what: str) -> tuple[LimitSpec, ...]:
    if value is None:
        return ()
    try:
        return parse_rate_limits(value)
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}") from None


class Guards(Component):
    """Rate limits and a body-size limit for `PerfkitMiddleware` (WSGI and ASGI).

    Args:
        rate_limit: the limit every client gets, e.g. ``"100/minute"`` or
            ``"10/second;1000/hour"``; None for no global limit.
        routes: per-route limits, ``{"/login": "5/minute", "/api/*": "50/minute",
            "/static/*": None}``: keys are route templates as perfkit names
            endpoints (``/items/{id}``) or prefixes ending in ``*``; a route's
            limit replaces the global one (counted separately); None exempts it.
        key: ``"ip"`` (default), ``"user"`` (the middleware's `identify` hook;
            anonymous requests fall back to the IP) or ``key(environ_or_scope) -> str | None``.
        exempt: path prefixes or ``exempt(path) -> bool`` never limited; ``/health``
            and the perfkit prefix always are.
        max_content_length: largest request body, bytes (``16MiB`` also reads); None: no limit.
        headers: send ``RateLimit-*`` headers on allowed responses too (with memory
            storage that is a second storage read per request; with Redis it
            shares the hit's round trip).
        trusted_proxies: addresses/networks whose forwarding header is believed.
        proxy_header: ``"x-forwarded-for"`` or ``"forwarded"`` (RFC 7239).
        strategy: ``moving-window``, ``sliding-window-counter`` or ``fixed-window``.
        storage: ``"auto"`` (Redis when the kit's settings have ``redis_url``),
            ``"memory"``, or a ``redis://`` URL.
        namespace: Redis key prefix; ``<settings.redis_namespace>:guards`` by default.
    """

    def __init__(
        self,
        rate_limit: str | None = None,
        *,
        routes: Mapping[str, str | None] | None = None,
        key: str | Callable[[Any], str | None] = "ip",
        exempt: Callable[[str], bool] | Iterable[str] | None = None,
        max_content_length: int | str | None = None,
        headers: bool = True,
        trusted_proxies: str | Iterable[str] | None = None,
        proxy_header: str = "x-forwarded-for",
        strategy: str = "moving-window",
        storage: str = "auto",
        namespace: str | None = None,
    ) -> None:
        self.limits = _limits(rate_limit, "rate_limit")
        self.exact: dict[str, tuple[LimitSpec, ...]] = {}
        self.prefixes: list[tuple[str, tuple[LimitSpec, ...]]] = []
        for pattern, limit in (routes or {}).items():
            specs = _limits(limit, f"route {pattern!r}")
            if pattern.endswith("*"):
                self.prefixes.append((pattern[:-1], specs))
            else:
                self.exact[pattern] = specs
        self.prefixes.sort(key=lambda item: -len(item[0]))  # the longest prefix wins
        if not (callable(key) or key in KEYS):
            raise ConfigError(f"rate limit key {key!r} is not 'ip', 'user' or a callable")
        self.key = key
        self.exempt_prefixes: tuple[str, ...] = ALWAYS_EXEMPT
        self.exempt_check: Callable[[str], bool] | None = None
        if callable(exempt):
            self.exempt_check = exempt
        elif exempt is not None:
            self.exempt_prefixes = (*ALWAYS_EXEMPT, *exempt)
        try:
            size = None if max_content_length is None else parse_size(max_content_length)
            self.proxies = TrustedProxies(trusted_proxies, proxy_header)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.max_content_length = size
        self.headers = bool(headers)
        if strategy not in STRATEGIES:
            raise ConfigError(f"rate limit strategy {strategy!r} is not one of {STRATEGIES}")
        self.strategy, self.storage, self.namespace = strategy, storage, namespace
        self.rate_limited = bool(self.limits or self.exact or self.prefixes)
        self._owner: object | None = None  # what it is bound to (one kit)
        self._errors: InternalErrors | None = None
        self._templater: RouteTemplater | None = None
        self.limiter: RateLimiter | None = None
        self.stats = GuardStats()
        self._bind_lock = threading.Lock()
        self._rules: dict[str, Rule] = {}  # scope -> its prepared limits (per limiter)
        self._clients: dict[tuple[str | None, str | None], str] = {}  # (peer, header) -> key

    @classmethod
    def from_settings(cls, settings: PerfkitSettings, **overrides: Any) -> Guards:
        """Guards from ``PERFKIT_RATE_LIMIT``, ``..._KEY``, ``..._HEADERS``,
        ``PERFKIT_MAX_CONTENT_LENGTH`` and ``PERFKIT_TRUSTED_PROXIES``; keywords win."""
        values: dict[str, Any] = {
            "rate_limit": settings.rate_limit,
            "key": settings.rate_limit_key,
            "headers": settings.rate_limit_headers,
            "max_content_length": settings.max_content_length,
            "trusted_proxies": settings.trusted_proxies,
        }
        values.update(overrides)
        return cls(**values)

    @property
    def enabled(self) -> bool:
        return self.rate_limited or self.max_content_length is not None

    # ----------------------------------------------------------- binding
    def bind(
        self,
        settings: PerfkitSettings,
        clock: Clock,
        errors: InternalErrors,
        templater: RouteTemplater,
        owner: object,
    ) -> Guards:
        """Attach to `owner` (a kit; see ``Perfkit.bind_guards``): build the limiter from its
        settings; `errors` counts what fails, `templater` names routes."""
        with self._bind_lock:
            if self._owner is owner:
                return self
            if self._owner is not None:
                raise ConfigError("a Guards object serves one kit; create one per kit")
            self.stats.clock = clock
            self.stats.max_endpoints = settings.max_endpoints
            self.stats.hash_key = settings.user_id_hash_key
            if self.rate_limited:
                url = settings.redis_url if self.storage == "auto" else self.storage
                url = None if url == "memory" else url
                namespace = self.namespace or f"{settings.redis_namespace}:guards"
                self.limiter = RateLimiter(
                    self.strategy, url, namespace, on_storage_change=self._storage_changed
                )
                self.stats.storage = self.limiter.storage
            self._errors, self._templater, self._owner = errors, templater, owner
        return self

    def _storage_changed(self, storage: str, error: BaseException | None) -> None:
        self.stats.storage = storage
        if error is not None and self._errors is not None:
            self.stats.fallbacks += 1
            self._errors.report("guards: Redis down, per-process rate limits", error)

    # ---------------------------------------------------------- requests
    def is_exempt(self, path: str) -> bool:
        if path.startswith(self.exempt_prefixes):
            return True
        return self.exempt_check is not None and bool(self.exempt_check(path))

    def route(self, request: Any, path: str, route_name: Callable[[Any], Any] | None) -> str:
        if route_name is not None:
            try:
                named = route_name(request)
            except Exception:
                named = None  # the middleware reports a failing hook when it records
            if named:
                return str(named)
        templater = self._templater
        return path if templater is None else templater.template(path)

    def specs_for(self, route: str) -> tuple[tuple[LimitSpec, ...], str]:
        """The limits that apply to `route` and the scope they are counted in."""
        specs = self.exact.get(route)
        if specs is not None:
            return specs, route
        for prefix, specs in self.prefixes:
            if route.startswith(prefix):
                return specs, prefix + "*"
        return self.limits, "*"

    def client_key(self, request: Any, peer: str | None, forwarded: str | None) -> str:
        """Who is counted: ``user:<id>``, ``key:<answer>`` or ``ip:<address>`` (long: hashed)."""
        key = self.key
        if key == "ip":
            pair = (peer, forwarded)
            ident = self._clients.get(pair)
            if ident is None:
                ident = self._ip_key(peer, forwarded)
                if len(self._clients) >= MAX_CLIENT_CACHE:
                    self._clients.clear()  # bounded: a fresh start beats an eviction policy here
                self._clients[pair] = ident
            return ident
        ident = None
        if key == "user":
            ident = user_id_var.get()
            ident = None if ident is None else "user:" + ident
        elif callable(key):
            try:
                answer = key(request)
                ident = None if answer is None else "key:" + str(answer)
            except Exception as exc:
                if self._errors is not None:
                    self._errors.report("guards key function", exc)
        if ident is None:
            return self._ip_key(peer, forwarded)
        return _bounded(ident)

    def _ip_key(self, peer: str | None, forwarded: str | None) -> str:
        return _bounded("ip:" + self.proxies.client(peer, forwarded))

    def check_rate(
        self,
        request: Any,
        path: str,
        peer: str | None,
        forwarded: str | None,
        route_name: Callable[[Any], Any] | None,
    ) -> Decision | None:
        """Count this request; None when no limit applies, else the decision."""
        limiter = self.limiter
        if limiter is None:
            return None
        route = None
        if self.exact or self.prefixes:
            route = self.route(request, path, route_name)
            specs, scope = self.specs_for(route)
        else:
            specs, scope = self.limits, "*"
        rule = self._rules.get(scope)
        if rule is None or rule.specs is not specs:
            if not specs:
                return None
            rule = self._rules[scope] = limiter.rule(specs, scope)  # scopes: the routes limited
        client = self._clients.get((peer, forwarded)) if self.key == "ip" else None
        if client is None:
            client = self.client_key(request, peer, forwarded)
        decision = limiter.check(rule, client, self.headers)
        if not decision.allowed:
            self.stats.limited(route or self.route(request, path, route_name), client)
        return decision

    # ------------------------------------------------- component (kit)
    def collect(self) -> Any:
        return self.stats.collect()

    def snapshot(self) -> dict[str, Any]:
        snap = self.stats.snapshot()
        snap["limits"] = [str(spec) for spec in self.limits]
        snap["max_content_length"] = self.max_content_length
        return snap

    def alert_metrics(self) -> dict[str, float | None]:
        return self.stats.alert_metrics()

    def reset(self) -> None:
        self.stats.reset()
        if self.limiter is not None:
            self.stats.storage = self.limiter.storage

    def stop(self) -> None:
        if self.limiter is not None:
            self.limiter.close()
