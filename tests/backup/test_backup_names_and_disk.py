"""Backup names are never reused, and a backup that fails on a full disk leaves nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from _helpers_backup import make_sqlite
from fault_support import small_tmpfs

from perfkit.backup import DatabaseBackup
from perfkit.errors import BackupError
from perfkit.testing import FakeClock


def test_backups_within_one_second_never_reuse_a_name_after_rotation(tmp_path: Path) -> None:
    """Five backups in one second with max_backups=2: five distinct names."""
    make_sqlite(tmp_path / "a.db")
    clock = FakeClock()  # frozen: every backup is made in the same second
    manager = DatabaseBackup(
        f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "backups", max_backups=2, clock=clock
    )
    names = [manager.create_backup().filename for _ in range(5)]
    assert len(set(names)) == 5, names
    kept = [info.filename for info in manager.list_backups()]
    assert len(kept) == 2 and set(kept) <= set(names)


def test_a_second_manager_on_the_same_directory_does_not_reuse_names(tmp_path: Path) -> None:
    """Another process (another manager) continues the numbering it finds on disk."""
    make_sqlite(tmp_path / "a.db")
    clock = FakeClock()
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = DatabaseBackup(url, tmp_path / "backups", max_backups=1, clock=clock)
    second = DatabaseBackup(url, tmp_path / "backups", max_backups=1, clock=clock)
    names = [m.create_backup().filename for m in (first, second, first, second)]
    assert len(set(names)) == 4, names


def _wal_database(path: Path, rows: int) -> int:
    """A WAL-mode SQLite file of incompressible rows; its size in bytes."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=wal")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)")
        conn.executemany("INSERT INTO t (payload) VALUES (randomblob(?))", [(400,)] * rows)
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(conn.execute("PRAGMA page_count").fetchone()[0]) * 4096
    finally:
        conn.close()


def _hidden(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_a_successful_backup_of_a_wal_database_leaves_no_companion_file(tmp_path: Path) -> None:
    """SQLite's -wal/-shm/-journal files of the temporary dump go with it."""
    _wal_database(tmp_path / "wal.db", 200)
    manager = DatabaseBackup(f"sqlite:///{tmp_path / 'wal.db'}", tmp_path / "backups")
    manager.create_backup()
    assert _hidden(tmp_path / "backups") == []


def test_a_backup_failing_on_a_full_disk_leaves_no_file_behind(tmp_path: Path) -> None:
    """A real tmpfs with room for the dump but not its compressed copy: nothing is left."""
    size = _wal_database(tmp_path / "big.db", 1500)  # about 700 KiB, incompressible
    with small_tmpfs(tmp_path / "disk", size * 3 // 2 // 1024) as disk:
        manager = DatabaseBackup(f"sqlite:///{tmp_path / 'big.db'}", disk / "backups")
        for _ in range(3):
            with pytest.raises(BackupError):
                manager.create_backup()
        left = sorted(p.name for p in (disk / "backups").iterdir())
    assert left == [], left
