"""The kit's parts, each built on first use from the settings and registered as a component.

A mixin of `Perfkit` (kept apart so kit.py stays about wiring, recording and
reading): the cache, the system monitor, alerts, guards, health checks,
backups and their scheduler, and where metrics are stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .component import call_optional

if TYPE_CHECKING:
    from .alerts.manager import AlertManager
    from .backup import BackupScheduler, DatabaseBackup
    from .cache.manager import CacheManager
    from .clock import Clock
    from .config import PerfkitSettings
    from .fleet import Fleet
    from .guards import Guards
    from .health import HealthCheck, HealthChecks
    from .metrics.registry import Registry
    from .metrics.stores.base import Store
    from .metrics.stores.choice import StoreChoice
    from .system import SystemMonitor

__all__ = ["KitParts"]


class KitParts:
    """The parts of a `Perfkit`; see the properties."""

    # provided by Perfkit
    settings: PerfkitSettings
    clock: Clock
    registry: Registry
    components: dict[str, object]
    fleet: Fleet | None
    store_choice: StoreChoice
    _lock: Any

    def register_component(self, name: str, component: object) -> None:
        raise NotImplementedError

    def alert_metrics(self) -> dict[str, float | None]:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError

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
        """The kit's cache, built from the settings on first use and registered as "cache"."""
        cache = self.components.get("cache")
        if cache is None:
            from .cache.kit import cache_from_settings

            with self._lock:
                cache = self.components.get("cache")
                if cache is None:
                    cache = cache_from_settings(self.settings, self.clock)
                    self.register_component("cache", cache)
        return cache  # type: ignore[return-value]

    @property
    def system(self) -> SystemMonitor:
        """The system monitor (registered as "system"); alerts are evaluated after each sample."""
        with self._lock:
            monitor = self.components.get("system")
            if monitor is None:
                from .system import SystemMonitor, history_length, thresholds_from_settings

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
                self.register_component("system", monitor)
        return monitor  # type: ignore[return-value]

    def _after_sample(self, _metrics: object) -> None:
        alerts = self.components.get("alerts")
        if alerts is not None:
            call_optional(alerts, "evaluate")

    @property
    def alerts(self) -> AlertManager:
        """The alert manager (registered as "alerts") reading `alert_metrics()`."""
        with self._lock:
            manager = self.components.get("alerts")
            if manager is None:
                from .alerts.manager import AlertManager

                manager = AlertManager(self.alert_metrics, clock=self.clock, settings=self.settings)
                if self.fleet is not None:
                    # one notification per rule per cooldown, fleet-wide
                    manager.fleet_gate = self.fleet.claim_notification
                self.register_component("alerts", manager)
        return manager  # type: ignore[return-value]

    @property
    def guards(self) -> Guards | None:
        """Request guards (component "guards"), built from the settings when they enable
        a rate limit or a body-size limit; None otherwise. See `perfkit.guards`."""
        with self._lock:
            guards = self.components.get("guards")
            if guards is None:
                from .guards import guards_from_settings

                guards = guards_from_settings(self)  # type: ignore[arg-type]  # registers itself
        return guards  # type: ignore[return-value]

    @property
    def health_checks(self) -> HealthChecks:
        """Registered health checks (component "health"): system thresholds, Redis, database."""
        with self._lock:
            checks = self.components.get("health")
            if checks is None:
                from .health import default_checks

                checks = default_checks(self.settings, self.clock, lambda: self.system)
                self.register_component("health", checks)
        return checks  # type: ignore[return-value]

    def add_health_check(
        self, name: str, check: HealthCheck, timeout: float = 5.0, critical: bool = True
    ) -> None:
        """Add a readiness check; see `perfkit.health.HealthChecks.add_health_check`."""
        self.health_checks.add_health_check(name, check, timeout=timeout, critical=critical)

    @property
    def backups(self) -> DatabaseBackup:
        """Backups of ``settings.database_url`` (component "backups"); `ConfigError` if unset."""
        with self._lock:
            backups = self.components.get("backups")
            if backups is None:
                from .backup.wiring import backups_from_settings

                backups = backups_from_settings(self.settings, self.clock)
                self.register_component("backups", backups)
        return backups  # type: ignore[return-value]

    @property
    def backup_scheduler(self) -> BackupScheduler:
        """The daily backup job (component "backup_scheduler"), started by `start()`."""
        with self._lock:
            scheduler = self.components.get("backup_scheduler")
            if scheduler is None:
                from .backup.wiring import scheduler_from_settings

                scheduler = scheduler_from_settings(self.settings, self.backups, self.clock)
                self.register_component("backup_scheduler", scheduler)
        return scheduler  # type: ignore[return-value]

    def get_recommendations(self) -> list[str]:
        """Actionable sentences from the current snapshot (`perfkit.recommendations`)."""
        from .errors import PerfkitError
        from .recommendations import get_recommendations

        if self.settings.database_url and "backups" not in self.components:
            try:
                _ = self.backups  # the backup advice needs the part, built on first use
            except (PerfkitError, ImportError) as exc:
                self.errors.report("recommendations: backups", exc)  # type: ignore[attr-defined]
        return get_recommendations(self.snapshot(), now=self.clock.time())
