"""The kit's `backups` and `backup_scheduler` parts."""

from __future__ import annotations

from pathlib import Path

import pytest
from _helpers_backup import make_sqlite

from perfkit.backup import BackupScheduler, DatabaseBackup
from perfkit.config import PerfkitSettings
from perfkit.errors import ConfigError
from perfkit.kit import Perfkit
from perfkit.testing import FakeClock


def test_kit_backups_come_from_settings_and_join_snapshot_and_alerts(tmp_path: Path) -> None:
    make_sqlite(tmp_path / "a.db")
    settings = PerfkitSettings(
        database_url=f"sqlite:///{tmp_path / 'a.db'}", backup_dir=str(tmp_path / "b"), max_backups=3
    )
    clock = FakeClock()
    kit = Perfkit(settings, clock=clock)
    backups = kit.backups
    assert isinstance(backups, DatabaseBackup) and kit.backups is backups
    assert kit.components["backups"] is backups and backups.max_backups == 3
    backups.create_backup()
    clock.advance(1800)
    assert kit.alert_metrics()["backup.hours_since_success"] == pytest.approx(0.5)
    assert kit.snapshot()["backups"]["total_backups"] == 1
    names = {family.name for family in kit.collect()}
    assert "app_backup_last_success_timestamp_seconds" in names


def test_kit_backups_without_a_database_url_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="PERFKIT_DATABASE_URL"):
        _ = Perfkit(PerfkitSettings()).backups


def test_kit_backup_scheduler_runs_the_daily_job(tmp_path: Path) -> None:
    make_sqlite(tmp_path / "a.db")
    settings = PerfkitSettings(
        database_url=f"sqlite:///{tmp_path / 'a.db'}", backup_dir=str(tmp_path / "b"),
        backup_hour=4, backup_minute=15, backup_timezone="UTC",
    )  # fmt: skip
    kit = Perfkit(settings, clock=FakeClock(1_700_000_000.0))  # 2023-11-14 22:13:20 UTC
    scheduler = kit.backup_scheduler
    assert isinstance(scheduler, BackupScheduler)
    assert kit.components["backup_scheduler"] is scheduler
    (job,) = scheduler.get_jobs()
    assert job["next_run_time"] == "2023-11-15T04:15:00+00:00"
