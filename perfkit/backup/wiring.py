"""Building backups and their scheduler from `PerfkitSettings` (used by the kit)."""

from __future__ import annotations

from ..clock import Clock
from ..config import PerfkitSettings, env_var
from ..errors import ConfigError
from .manager import DatabaseBackup
from .scheduler import BackupScheduler

__all__ = ["backups_from_settings", "scheduler_from_settings"]


def backups_from_settings(settings: PerfkitSettings, clock: Clock | None = None) -> DatabaseBackup:
    """`DatabaseBackup` of ``settings.database_url``; `ConfigError` naming the variable if unset."""
    if not settings.database_url:
        raise ConfigError(
            f"backups need a database: set {env_var('database_url')} "
            "(e.g. sqlite:///app.db or postgresql://user@host/db) or settings.database_url"
        )
    return DatabaseBackup(
        settings.database_url,
        settings.backup_dir,
        max_backups=settings.max_backups,
        compress=settings.backup_compress,
        encryption_key=settings.backup_encryption_key,
        clock=clock,
    )


def scheduler_from_settings(
    settings: PerfkitSettings, backups: DatabaseBackup, clock: Clock | None = None
) -> BackupScheduler:
    """A scheduler with the daily job at ``backup_hour:backup_minute`` (``backup_timezone``);
    with ``redis_url`` set, one process of the fleet runs each tick."""
    scheduler = BackupScheduler(
        backups,
        timezone=settings.backup_timezone,
        redis_url=settings.redis_url,
        namespace=settings.redis_namespace,
        clock=clock,
    )
    scheduler.schedule_daily_backup(settings.backup_hour, settings.backup_minute)
    return scheduler
