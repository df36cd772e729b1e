"""Perfkit: the one object that wires the registry, components, collectors and serving."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from ._forks import after_fork_in_child
from ._safety import InternalErrors
from ._version import __version__
from .clock import Clock, SystemClock
from .component import Component, as_component
from .config import PerfkitSettings
from .context import organization_id_var
from .errors import ConfigError
from .metrics.collect import registry_families
from .metrics.exposition import (
    OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_CONTENT_TYPE,
    choose_format,
)
from .metrics.families import Collector, MetricFamily
from .metrics.record import RequestRecord
from .metrics.registry import Registry
from .metrics.series_text import SeriesText
from .metrics.snapshot import iso, performance_summary, queries_section, requests_section

if TYPE_CHECKING:
    from .alerts.manager import AlertManager
    from .backup import BackupScheduler, DatabaseBackup
    from .cache.manager import CacheManager
    from .guards import Guards
    from .health import HealthCheck, HealthChecks
    from .metrics.stores.base import Store
    from .metrics.stores.choice import StoreChoice
    from .system import SystemMonitor
    from .web.audit import ReadAudit
    from .web.auth import ClientRateLimiter
    from .web.listener import AdminListener

__all__ = ["Perfkit", "get_kit", "set_default_kit"]

_log = logging.getLogger("perfkit")

P = TypeVar("P", bound=Component)


class Perfkit:
    """The kit: owns the registry and every component, and answers for all of them.

    Creating a kit does no work: nothing starts a thread, opens a socket or
    creates a file until `start()` or the part concerned is first used.

    Args:
        settings: every knob; `PerfkitSettings()` (the embedded defaults) when omitted.
        clock: wall and monotonic clocks (tests pass `perfkit.testing.FakeClock`).
        registry: where records go; a `Registry` when omitted.
        authorize: ``authorize(request) -> bool`` deciding who may use the
            HTTP API (instead of, or besides, ``settings.token``).
        store: ``"memory"``, ``"file"``, ``"host"`` (the workers of one host),
            ``"redis"`` (fleet mode) or a store object; by default
            ``settings.metrics_store`` ("auto": Redis when ``settings.redis_url``
            is set, else the host store when the server runs several workers).
    """

    store_choice: StoreChoice  # set by _make_store: where the figures aggregate, and why

    def __init__(
        self,
        settings: PerfkitSettings | None = None,
        *,
        clock: Clock | None = None,
        registry: Registry | None = None,
        authorize: Callable[[Any], bool] | None = None,
        store: str | Store | None = None,
    ) -> None:
        self.settings = settings or PerfkitSettings()
        self.clock: Clock = clock or SystemClock()
        self.registry = registry if registry is not None else Registry(self.settings, self.clock)
        self.authorize = authorize
        self.errors = InternalErrors()
        # name -> part; the typed properties below (cache, system, alerts, ...) read it
        self.components: dict[str, Component] = {}
        self._api_limiter: ClientRateLimiter | None = None
        self._read_audit: ReadAudit | None = None
        self._collectors: list[Collector] = []
        self._series_text = SeriesText()  # /metrics re-renders only the series that changed
        self._lock = threading.RLock()
        self._started = False
        self._stopping = threading.Event()
        self._aggregator: threading.Thread | None = None
        self.started_at = self.clock.time()
        self.store = self._make_store(store)
        self.fleet = self.store.fleet  # coordination with the other processes, if any
        after_fork_in_child(self, "_after_fork")
        # hook(record) after each request (e.g. the request log); must be cheap,
        # it runs on the request path
        self.request_hooks: list[Callable[[RequestRecord], None]] = []
        self._request_log: Callable[[RequestRecord], None] | None = None
        self._wire_request_log()

    # ------------------------------------------------------------ wiring
    def register_component(self, name: str, component: object) -> None:
        """Attach a part (cache, system monitor, alerts, backups) under `name`.

        See `perfkit.component` for what a component may offer (an object that
        does not subclass `Component` is wrapped in `ForeignComponent`). A
        component registered after `start()` is started at once.
        """
        part = as_component(component)
        with self._lock:
            self.components[name] = part
            started = self._started
        if started:
            part.start()

    def view(self) -> Registry:
        """The figures to report, as the store reads them: this process's registry, or the
        whole fleet's (read fresh each time, so every worker answers the same; this
        process's alone, logged, while the store is unreachable)."""
        try:
            return self.store.view()
        except Exception as exc:
            self.errors.report("fleet view (showing this process only)", exc, traceback=False)
            return self.store.local()

    def note_process_model(self, model: Any) -> None:
        """The server's own word at a request (``wsgi.multiprocess``) that several workers run:
        with ``auto``, memory becomes the host store; a per-process store says so."""
        from .metrics.stores.choice import reconsider

        with self._lock:
            before = self.store_choice
            self.store_choice = reconsider(before, model, self.settings, self.registry, self.clock)
            store = self.store_choice.store
            if store is None or store is before.store:
                return
            self.store = store
            self.fleet = store.fleet
        if store.component is not None:
            self.register_component(store.component, store)

    def _after_fork(self) -> None:
        """A forked worker (gunicorn --preload) has no threads: restart the background work."""
        self._lock = threading.RLock()
        if self._started:
            self._started = False
            self.start()

    def add_collector(self, collector: Collector) -> None:
        """Add a source of metric families to `/metrics`."""
        with self._lock:
            self._collectors.append(collector)

    def start(self) -> Perfkit:
        """Start the background work of every component (sampler, alerts, flushes, backups)."""
        # alerts before system, so stop() (reverse order) ends the sampler first
        _ = self.alerts, self.system
        if self.settings.database_url and self.settings.backup_schedule:
            _ = self.backup_scheduler  # the daily backup at backup_hour:backup_minute
        if self.settings.admin_port and "admin_listener" not in self.components:
            self.serve()  # PERFKIT_ADMIN_PORT: the perfkit surface on its own port
        with self._lock:
            if self._started:
                return self
            self._started = True
            components = list(self.components.values())
            self._stopping = threading.Event()
            self._aggregator = threading.Thread(
                target=self._aggregate_loop, name="perfkit-aggregator", daemon=True
            )
            self._aggregator.start()
        for component in components:
            component.start()
        return self

    def _aggregate_loop(self) -> None:
        """Aggregate queued request records off the request path, once a second."""
        stopping = self._stopping
        while not stopping.wait(1.0):
            try:
                self.registry.drain()
            except Exception as exc:
                self.errors.report("aggregate", exc)

    def stop(self) -> None:
        """Stop background work; safe to call more than once."""
        with self._lock:
            if not self._started:
                # kit.serve() runs without start(): its listener still closes here
                listener = self.components.get("admin_listener")
                if listener is not None:
                    listener.stop()
                return
            self._started = False
            components = list(self.components.values())
            self._stopping.set()
            aggregator = self._aggregator
        if aggregator is not None:
            aggregator.join(timeout=5)
        self.registry.drain()
        for component in reversed(components):
            try:
                component.stop()
            except Exception as exc:
                self.errors.report("stop", exc)

    @property
    def running(self) -> bool:
        return self._started

    # ---------------------------------------------------------- recording
    def record_request(
        self, method: str, route: str | None, status: int, duration: float, **fields: Any
    ) -> None:
        """Record one served request (seconds); never raises.

        `fields` are the other `RequestRecord` fields (size, ttfb, user,
        organization, error_type, path, request_id); `route` None means
        "template `path`". The middlewares build the record themselves.
        """
        try:
            record = RequestRecord(method, route, int(status), float(duration), **fields)
            if record.path is None:
                record.path = route or "/"  # what the slow list and the hooks show
            self.registry.record_request(record)
            if self.request_hooks:
                self.run_request_hooks(record)
        except Exception as exc:
            self.errors.report("record_request", exc)

    def run_request_hooks(self, record: RequestRecord) -> None:
        """Call each request hook (e.g. the request log); a failing hook is contained."""
        for hook in list(self.request_hooks):
            try:
                hook(record)
            except Exception as exc:
                self.errors.report("request hook", exc)

    def record_query_performance(
        self,
        query: str,
        execution_time: float,
        organization_id: str | None = None,
        **labels: Any,
    ) -> None:
        """Record one query taking `execution_time` seconds; only its fingerprint is kept."""
        error = bool(labels.pop("error", False))
        slow_threshold = labels.pop("slow_threshold", None)
        if organization_id is None:
            organization_id = organization_id_var.get()  # the request's, from `identify`
        try:
            self.registry.record_query(
                str(query),
                float(execution_time),
                error,
                None if organization_id is None else str(organization_id),
                labels or None,
                slow_threshold,
            )
        except Exception as exc:
            self.errors.report("record_query", exc)

    def record_api_performance(
        self,
        endpoint: str,
        method: str,
        response_time: float,
        status_code: int,
        organization_id: str | None = None,
        user_id: str | None = None,
    ) -> None:
        """Record one request by hand (when not using the middleware); seconds."""

        self.record_request(
            method,
            endpoint,
            int(status_code),
            float(response_time),
            user=None if user_id is None else str(user_id),
            organization=None if organization_id is None else str(organization_id),
        )

    def record_call(
        self, name: str, duration: float, error: bool = False, slow_threshold: float | None = None
    ) -> None:
        """Record one call of a monitored function (seconds)."""
        try:
            self.registry.record_call(name, duration, error, slow_threshold)
        except Exception as exc:
            self.errors.report("record_call", exc)

    def set_gauge(self, name: str, value: float) -> None:
        """Set a named gauge; it is exposed and available to alert rules under `name`."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"gauge name must be a non-empty string, got {name!r}")
        self.registry.set_gauge(name, float(value))

    def _wire_request_log(self) -> None:
        """The request log hook, as `log_requests` and its sample rate say."""
        if self._request_log is not None and self._request_log in self.request_hooks:
            self.request_hooks.remove(self._request_log)
        self._request_log = None
        if self.settings.log_requests:
            from .logs import make_request_logger  # lazy: keeps `import perfkit` light

            log = make_request_logger(self.settings)
            if log is not None:

                def log_request(record: RequestRecord) -> None:
                    log(record.method, record.path or "/", record.status, record.duration,
                        record.user, record.request_id)  # fmt: skip

                self._request_log = log_request
                self.request_hooks.append(log_request)

    def update_settings(self, **changes: Any) -> PerfkitSettings:
        """Change settings at run time (validated); parts read the new values from the kit."""
        settings = self.settings.replace(**changes)
        self.settings = settings
        self.registry.settings = settings
        self._wire_request_log()
        for component in list(self.components.values()):
            component.settings_changed(settings)
        return settings

    def cleanup(self) -> dict[str, Any]:
        """Drop what is past retention now rather than on the next record; report what went."""
        self.registry.drain()
        report: dict[str, Any] = {"registry": self.registry.prune()}
        for name, component in list(self.components.items()):
            try:
                result = component.cleanup()
            except Exception as exc:
                self.errors.report(f"cleanup:{name}", exc)
                result = {"error": type(exc).__name__}
            if result is not None:
                report[name] = result
        return report

    def audit(
        self,
        event_type: str,
        action: str,
        resource: str,
        details: Any = None,
        ip_address: str | None = None,
    ) -> None:
        """Record an administrative action in the audit log (``perfkit.audit`` logger)."""
        logging.getLogger("perfkit.audit").info(
            "%s %s %s",
            event_type,
            action,
            resource,
            extra={
                "event_type": event_type,
                "action": action,
                "resource": resource,
                "details": details,
                "ip_address": ip_address,
            },
        )

    def reset(self) -> None:
        """Reset every counter (the registry and the components that can reset)."""
        self.registry.reset()
        self.errors.reset()
        for component in list(self.components.values()):
            component.reset()

    # ------------------------------------------------------------ reading
    def get_performance_summary(self, hours: float = 24) -> dict[str, Any]:
        """Totals, rates, latency statistics, tops and trends over the last `hours`."""
        if not isinstance(hours, (int, float)) or not 0 < hours <= self.settings.retention_hours:
            raise ValueError(
                f"hours must be a number in (0, {self.settings.retention_hours}], got {hours!r}"
            )
        return performance_summary(self.view(), hours)

    def snapshot(self) -> dict[str, Any]:
        """Everything perfkit knows, as a JSON-serialisable dict (schema: docs/snapshot.md)."""
        now = self.clock.time()
        view = self.view()
        snap: dict[str, Any] = {
            "version": __version__,
            "generated_at": iso(now),
            "started_at": iso(self.started_at),
            "uptime_seconds": max(now - self.started_at, 0.0),
            **self._scope(),
            "requests": requests_section(view),
            "queries": queries_section(view),
            "gauges": dict(view.gauges),
            "internal_errors": dict(self.errors.counts),
            "thresholds": self._thresholds(),
        }
        for name, component in list(self.components.items()):
            try:
                section = component.snapshot()
            except Exception as exc:
                self.errors.report(f"snapshot:{name}", exc)
                section = {"error": f"{type(exc).__name__}: {exc}"}
            if section is not None:
                snap[name] = section
        return snap

    def _scope(self) -> dict[str, Any]:
        """What the figures cover (``process``, ``host``, ``fleet``) and why, when it is less
        than the server's workers."""
        from .metrics.stores.choice import scope_note

        scope, note = scope_note(self.store_choice, self.store)
        return {"scope": scope, "scope_note": note}

    def _thresholds(self) -> dict[str, Any]:
        """The alert levels by metric (the dashboard's tile colours), without building
        the alert manager when nobody uses it."""
        from .alerts.defaults import default_rules, thresholds_of
        from .alerts.manager import AlertManager

        manager = self.components.get("alerts")
        if isinstance(manager, AlertManager):
            return dict(manager.thresholds())
        return thresholds_of(default_rules(self.settings))

    def alert_metrics(self) -> dict[str, float | None]:
        """The flat dict alert rules read: ``requests.*``, ``queries.*``, components', gauges.

        Every documented key is present; one whose part is idle or absent is None.
        """
        from .alerts.manager import DOCUMENTED_METRICS

        view = self.view()
        requests = requests_section(view, hours=5 / 60)["summary"]
        queries = queries_section(view, hours=5 / 60)["summary"]
        metrics: dict[str, float | None] = dict.fromkeys(sorted(DOCUMENTED_METRICS))
        metrics |= {
            "requests.rate": requests["rate"],
            "requests.error_rate": requests["error_rate"],
            "requests.p95": requests["p95"],
            "requests.p99": requests["p99"],
            # the slowest single request of the window; 0 with none, so a quiet spell resolves
            "requests.max": requests["max"] if requests["count"] else 0.0,
            "requests.in_progress": float(requests["in_progress"]),
            "queries.slow_rate": queries["slow_rate"],
            "queries.p95": queries["p95"],
        }
        for name, component in list(self.components.items()):
            try:
                metrics.update(component.alert_metrics())
            except Exception as exc:
                self.errors.report(f"alert_metrics:{name}", exc)
        metrics.update(view.gauges)
        return metrics

    def collect(self) -> list[MetricFamily]:
        """Every metric family: the registry's, the components' and added collectors'."""
        return [*registry_families(self.view()), *self._other_families()]

    def _other_families(self) -> list[MetricFamily]:
        """The components', the added collectors' and perfkit's own internal errors."""
        families: list[MetricFamily] = []
        sources: list[tuple[str, Callable[[], Iterable[MetricFamily]]]] = [
            (name, c.collect) for name, c in list(self.components.items())
        ]
        sources += [(type(c).__name__, c.collect) for c in list(self._collectors)]
        for name, collect in sources:
            try:
                families.extend(collect())
            except Exception as exc:
                self.errors.report(f"collect:{name}", exc)
        internal = MetricFamily(
            "perfkit_internal_errors", "counter", "Failures inside perfkit (contained)."
        )
        for kind, n in sorted(self.errors.counts.items()):
            internal.add(n, "_total", kind=kind)
        families.append(internal)
        return families

    def render_metrics(self, accept: str | None = None) -> tuple[str, bytes]:
        """``(content_type, body)`` of the exposition chosen by the `Accept` header.

        The same as rendering `collect()`, with each unchanged endpoint series' text reused.
        """
        openmetrics = choose_format(accept)
        view = self.view()
        body = self._series_text.render(view, self._other_families(), openmetrics)
        return (OPENMETRICS_CONTENT_TYPE if openmetrics else PROMETHEUS_CONTENT_TYPE), body

    def serve(self, port: int | None = None, host: str | None = None) -> AdminListener:
        """Serve the whole perfkit surface (dashboard, API, metrics, health) on its own port.

        A small threaded HTTP server in this process, at the root and under the
        prefix alike. Under several workers, one per host holds the port and any
        other takes over when it dies. Defaults: ``settings.admin_port`` and
        ``settings.admin_host`` (127.0.0.1). `kit.stop()` closes it.
        """
        from .web.listener import AdminListener

        port = self.settings.admin_port if port is None else port
        host = self.settings.admin_host if host is None else host
        with self._lock:
            current = self._registered("admin_listener", AdminListener)
            if current is not None and (current.port, current.host) == (port, host):
                current.start()
                return current
            if current is not None:
                current.stop()
            listener = AdminListener(self, port, host)
            self.register_component("admin_listener", listener)
        listener.start()
        return listener

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """The HTTP API as a standalone WSGI app (mount it anywhere; paths are relative)."""
        from .web.serving import wsgi_api

        return wsgi_api(self, environ, start_response, environ.get("PATH_INFO") or "/")

    async def asgi_app(self, scope: Any, receive: Any, send: Any) -> None:
        """The HTTP API as a standalone ASGI app (mount it anywhere; paths are relative)."""
        from .web.serving import asgi_api

        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path = scope.get("path") or "/"
        root = scope.get("root_path") or ""
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        await asgi_api(self, scope, receive, send, path)

    def health(self) -> dict[str, Any]:
        """The combined health report served at ``/health``."""
        return self.health_checks.report()

    def ready(self) -> dict[str, Any]:
        """The readiness report served at ``/health/ready`` (the checks, no ``live`` flag)."""
        return self.health_checks.ready()

    @property
    def api_limiter(self) -> ClientRateLimiter:
        """The HTTP API's per-client limiter (``api_rate_limit`` requests a minute);
        rebuilt when that setting changes."""
        with self._lock:
            limiter = self._api_limiter
            if limiter is None or limiter.per_minute != self.settings.api_rate_limit:
                from .web.auth import ClientRateLimiter

                limiter = ClientRateLimiter(self.settings.api_rate_limit, self.clock.monotonic)
                self._api_limiter = limiter
            return limiter

    @property
    def read_audit(self) -> ReadAudit:
        """When the API's token reads are due an audit line (``audit_read_interval``);
        rebuilt when that setting changes."""
        with self._lock:
            audit = self._read_audit
            if audit is None or audit.interval != self.settings.audit_read_interval:
                from .web.audit import ReadAudit

                audit = ReadAudit(self.settings.audit_read_interval, self.clock.monotonic)
                self._read_audit = audit
            return audit

    # -------------------------------------------------------------- parts
    # Each part is built from the settings on first use and registered under its
    # name; one registered by hand under that name (before first use) is used instead.

    def _part(self, name: str, kind: type[P], build: Callable[[], P]) -> P:
        """The component `name`, built by `build()` and registered when absent."""
        with self._lock:
            part = self._registered(name, kind)
            if part is None:
                part = build()
                self.register_component(name, part)
            return part

    def _registered(self, name: str, kind: type[P]) -> P | None:
        """The component registered as `name` (None: none is); `ConfigError` if not a `kind`."""
        part = self.components.get(name)
        if part is None or isinstance(part, kind):
            return part
        raise ConfigError(
            f"the component registered as {name!r} is {part!r}, not a {kind.__name__}"
        )

    def _make_store(self, store: str | Store | None) -> Store:
        """Pick where metrics aggregate (see `perfkit.metrics.stores.choice`)."""
        from .metrics.process_model import SINGLE
        from .metrics.stores.choice import StoreChoice, choose_store
        from .metrics.stores.memory import MemoryStore

        choice = store if store is not None else self.settings.metrics_store
        picked: Store
        if isinstance(choice, str):
            self.store_choice = choose_store(choice, self.settings, self.registry, self.clock)
            picked = (
                self.store_choice.store or self.store_choice.saver or MemoryStore(self.registry)
            )
        else:
            self.store_choice = StoreChoice("custom", choice, None, SINGLE)
            picked = choice
        if picked.component is not None:
            self.register_component(picked.component, picked)
        return picked

    @property
    def cache(self) -> CacheManager:
        """The kit's cache (component "cache"), from the settings."""
        from .cache.kit import cache_from_settings
        from .cache.manager import CacheManager

        return self._part(
            "cache", CacheManager, lambda: cache_from_settings(self.settings, self.clock)
        )

    @property
    def system(self) -> SystemMonitor:
        """The system monitor (component "system"); alerts are evaluated after each sample."""
        from .system import SystemMonitor, history_length, thresholds_from_settings

        def build() -> SystemMonitor:
            warning, critical = thresholds_from_settings(self.settings)
            monitor = SystemMonitor(
                warning,
                critical,
                interval=self.settings.monitoring_interval,
                max_history=history_length(self.settings),
                clock=self.clock,
            )
            if self.fleet is not None:
                monitor.shared = self.fleet.host_samples()  # one sampler per host
            monitor.on_sample.append(self._after_sample)
            return monitor

        return self._part("system", SystemMonitor, build)

    def _after_sample(self, _metrics: object) -> None:
        from .alerts.manager import AlertManager

        alerts = self.components.get("alerts")
        if isinstance(alerts, AlertManager):
            alerts.evaluate()

    @property
    def alerts(self) -> AlertManager:
        """The alert manager (component "alerts") reading `alert_metrics()`."""
        from .alerts.manager import AlertManager

        def build() -> AlertManager:
            manager = AlertManager(self.alert_metrics, clock=self.clock, settings=self.settings)
            if self.fleet is not None:
                # one notification per rule per cooldown, fleet-wide
                manager.fleet_gate = self.fleet.claim_notification
            return manager

        return self._part("alerts", AlertManager, build)

    @property
    def guards(self) -> Guards | None:
        """Request guards (component "guards"), built from the settings when they enable
        a rate limit or a body-size limit; None otherwise. See `perfkit.guards`."""
        from .guards import Guards

        with self._lock:
            guards = self._registered("guards", Guards)
            if guards is not None:
                return guards
            guards = Guards.from_settings(self.settings)
            return self.bind_guards(guards) if guards.enabled else None

    def bind_guards(self, guards: Guards) -> Guards:
        """Attach `guards` to this kit (the middleware's ``guards=``): its limiter is built,
        and every `Guards` of one kit shares the counters of the one registered as "guards"."""
        from .guards import Guards

        with self._lock:
            guards.bind(self.settings, self.clock, self.errors, self.registry.templater, self)
            existing = self.components.get("guards")
            if existing is None:
                self.register_component("guards", guards)
            elif isinstance(existing, Guards) and existing is not guards:
                guards.stats = existing.stats  # one set of counters per kit
        return guards

    @property
    def health_checks(self) -> HealthChecks:
        """Registered health checks (component "health"): system thresholds, Redis, database."""
        from .health import HealthChecks, default_checks

        return self._part(
            "health",
            HealthChecks,
            lambda: default_checks(self.settings, self.clock, lambda: self.system),
        )

    def add_health_check(
        self, name: str, check: HealthCheck, timeout: float = 5.0, critical: bool = True
    ) -> None:
        """Add a readiness check; see `perfkit.health.HealthChecks.add_health_check`."""
        self.health_checks.add_health_check(name, check, timeout=timeout, critical=critical)

    @property
    def backups(self) -> DatabaseBackup:
        """Backups of ``settings.database_url`` (component "backups"); `ConfigError` if unset."""
        from .backup import DatabaseBackup
        from .backup.wiring import backups_from_settings

        return self._part(
            "backups", DatabaseBackup, lambda: backups_from_settings(self.settings, self.clock)
        )

    @property
    def backup_scheduler(self) -> BackupScheduler:
        """The daily backup job (component "backup_scheduler"), started by `start()`."""
        from .backup import BackupScheduler
        from .backup.wiring import scheduler_from_settings

        return self._part(
            "backup_scheduler",
            BackupScheduler,
            lambda: scheduler_from_settings(self.settings, self.backups, self.clock),
        )

    def get_recommendations(self) -> list[str]:
        """Actionable sentences from the current snapshot (`perfkit.recommendations`)."""
        from .errors import PerfkitError
        from .recommendations import get_recommendations

        if self.settings.database_url and "backups" not in self.components:
            try:
                _ = self.backups  # the backup advice needs the part, built on first use
            except (PerfkitError, ImportError) as exc:
                self.errors.report("recommendations: backups", exc)
        return get_recommendations(self.snapshot(), now=self.clock.time())


_default_kit: Perfkit | None = None
_default_lock = threading.Lock()


def get_kit() -> Perfkit:
    """The process-wide default kit, created on first use from the environment."""
    global _default_kit
    kit = _default_kit
    if kit is None:
        with _default_lock:
            if _default_kit is None:
                _default_kit = Perfkit(PerfkitSettings.from_env())
            kit = _default_kit
    return kit


def set_default_kit(kit: Perfkit | None) -> None:
    """Make `kit` what `get_kit()` returns (None: create a new one on next use)."""
    global _default_kit
    with _default_lock:
        _default_kit = kit
