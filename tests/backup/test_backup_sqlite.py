"""DatabaseBackup with SQLite: round trips, consistency under writes, corruption, rotation."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest
from _helpers_backup import count_rows, execute, flip_byte, make_sqlite

from perfkit.backup import DatabaseBackup
from perfkit.backup import sqlite as sqlite_strategy
from perfkit.errors import BackupError
from perfkit.testing import FakeClock

KEY = "11" * 32


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "app.db"
    make_sqlite(path, rows=200)
    return path


def manager(db: Path, tmp_path: Path, **kwargs: object) -> DatabaseBackup:
    return DatabaseBackup(f"sqlite:///{db}", tmp_path / "backups", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "suffix"),
    [
        ({"compress": True}, ".sqlite3.gz"),
        ({"compress": False}, ".sqlite3"),
        ({"compress": True, "encryption_key": KEY}, ".sqlite3.gz.enc"),
        ({"compress": False, "encryption_key": KEY}, ".sqlite3.enc"),
        ({"compress": False, "check": "quick"}, ".sqlite3"),
    ],
)
def test_backup_then_restore_brings_back_the_rows(
    db: Path, tmp_path: Path, options: dict[str, object], suffix: str
) -> None:
    """A backup restores the data as it was when the backup was taken."""
    backups = manager(db, tmp_path, **options)
    info = backups.create_backup("nightly")
    assert info.filename.startswith("nightly_") and info.filename.endswith(suffix)
    assert (
        info.timestamp.utcoffset() is not None and info.timestamp.utcoffset().total_seconds() == 0
    )
    assert info.database_type == "sqlite" and info.compressed == options["compress"]
    assert info.size_bytes == info.path.stat().st_size
    assert backups.verify_backup(info.filename)

    execute(db, "DELETE FROM t WHERE id > 10")
    result = backups.restore_backup(info.filename)

    assert count_rows(db) == 200
    assert result["restored"] == info.filename
    safety = result["safety_backup"]
    assert safety and safety.startswith("pre_restore_")
    assert {b.filename for b in backups.list_backups()} == {info.filename, safety}


def test_metadata_and_checksum_files_sit_beside_the_backup(db: Path, tmp_path: Path) -> None:
    """Each backup has a .sha256 file (sha256sum format) and a .meta.json file."""
    backups = manager(db, tmp_path)
    info = backups.create_backup()
    sha_line = (info.path.parent / (info.filename + ".sha256")).read_text()
    assert sha_line == f"{info.sha256}  {info.filename}\n"
    assert (info.path.parent / (info.filename + ".meta.json")).is_file()
    hidden = [p for p in info.path.parent.iterdir() if p.name.startswith(".")]
    assert hidden == []  # no temporary files left behind


@pytest.mark.parametrize("wal", [False, True])
def test_backup_while_another_thread_writes_is_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wal: bool
) -> None:
    """A copy taken under writes passes integrity_check and holds a committed row count."""
    db = tmp_path / "busy.db"
    make_sqlite(db, rows=2000, pad=200)
    if wal:
        execute(db, "PRAGMA journal_mode=WAL")
    # Tiny steps make the copy span many writer commits (and exercise the restart fallback).
    monkeypatch.setattr(sqlite_strategy, "_PAGES_PER_STEP", 4)
    committed = {2000}
    started = threading.Event()
    stop = threading.Event()

    def writer() -> None:
        conn = sqlite3.connect(db, timeout=30)
        try:
            n = 2000
            while not stop.is_set():
                conn.execute("INSERT INTO t (payload) VALUES (?)", ("w" * 200,))
                conn.commit()
                n += 1
                committed.add(n)
                started.set()
        finally:
            conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(30)
        backups = manager(db, tmp_path, compress=False)
        info = backups.create_backup()
    finally:
        stop.set()
        thread.join(30)
    conn = sqlite3.connect(info.path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        copied = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        conn.close()
    assert copied in committed
    assert backups.verify_backup(info.filename)


@pytest.mark.parametrize(
    "options", [{"compress": True}, {"compress": False}, {"encryption_key": KEY}]
)
def test_a_flipped_byte_fails_verification_and_restore(
    db: Path, tmp_path: Path, options: dict[str, object]
) -> None:
    """One changed byte anywhere: verify_backup is False and restore refuses, touching nothing."""
    backups = manager(db, tmp_path, **options)
    info = backups.create_backup()
    flip_byte(info.path)
    execute(db, "DELETE FROM t")

    assert backups.verify_backup(info.filename) is False
    with pytest.raises(BackupError, match="checksum"):
        backups.restore_backup(info.filename)
    assert count_rows(db) == 0  # untouched
    assert [b.filename for b in backups.list_backups()] == [info.filename]  # no safety backup taken


def test_a_corrupt_gzip_with_matching_checksum_fails_verification(db: Path, tmp_path: Path) -> None:
    """Verification decodes the stream too: a truncated gzip fails even if metadata is rewritten."""
    import hashlib
    import json

    backups = manager(db, tmp_path)
    info = backups.create_backup()
    data = info.path.read_bytes()[:-20]
    info.path.write_bytes(data)
    meta = info.path.parent / (info.filename + ".meta.json")
    body = json.loads(meta.read_text())
    body.update(size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    meta.write_text(json.dumps(body))
    assert backups.verify_backup(info.filename) is False


def test_wrong_encryption_key_fails_verification(db: Path, tmp_path: Path) -> None:
    """An encrypted backup does not verify (or restore) under another key."""
    info = manager(db, tmp_path, encryption_key=KEY).create_backup()
    other = manager(db, tmp_path, encryption_key="22" * 32)
    assert other.verify_backup(info.filename) is False
    assert manager(db, tmp_path).verify_backup(info.filename) is False  # no key at all
    with pytest.raises(BackupError):
        other.restore_backup(info.filename)


def test_rotation_keeps_the_newest_max_backups(db: Path, tmp_path: Path) -> None:
    """After each verified backup only the `max_backups` newest remain, with their side files."""
    clock = FakeClock()
    backups = manager(db, tmp_path, max_backups=3, clock=clock)
    made = []
    for _ in range(5):
        made.append(backups.create_backup().filename)
        clock.advance(60)
    kept = [b.filename for b in backups.list_backups()]
    assert kept == list(reversed(made))[:3]
    names = {p.name for p in (tmp_path / "backups").iterdir()}
    assert names == {n + ext for n in kept for ext in ("", ".sha256", ".meta.json")}


def test_a_failed_backup_keeps_older_backups_and_leaves_no_partial_file(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dump that fails its check stores nothing, triggers no rotation, and is counted."""
    clock = FakeClock()
    backups = manager(db, tmp_path, max_backups=1, clock=clock)
    good = backups.create_backup()
    clock.advance(60)

    def truncating_dump(self: object, target: Path, *args: object, **kwargs: object) -> None:
        original_dump(self, target, *args, **kwargs)
        with open(target, "r+b") as fh:
            fh.truncate(target.stat().st_size // 2)

    original_dump = sqlite_strategy.SQLiteStrategy.dump
    monkeypatch.setattr(sqlite_strategy.SQLiteStrategy, "dump", truncating_dump)
    with pytest.raises(BackupError):
        backups.create_backup()
    assert [b.filename for b in backups.list_backups()] == [good.filename]
    assert sorted(p.name for p in (tmp_path / "backups").iterdir() if p.name.startswith(".")) == []
    status = backups.get_backup_stats()
    assert status["failures"] == 1 and status["last_error"].startswith("BackupError")


def test_a_dump_that_writes_nothing_is_a_failure(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty dump is never stored as a small 'successful' backup."""
    monkeypatch.setattr(sqlite_strategy.SQLiteStrategy, "dump", lambda *a, **k: None)
    backups = manager(db, tmp_path)
    with pytest.raises(BackupError, match="wrote nothing"):
        backups.create_backup()
    assert backups.list_backups() == []


def test_disk_full_while_writing_removes_the_partial_file(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OSError (ENOSPC) mid-write becomes BackupError; the directory holds no leftovers."""
    import errno

    from perfkit.backup import manager as manager_module

    backups = manager(db, tmp_path)
    first = backups.create_backup()

    def full(src: Path, dst: Path, **kwargs: object) -> str:
        dst.write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(manager_module, "encode_file", full)
    with pytest.raises(BackupError, match="No space left"):
        backups.create_backup("other")
    assert sorted(os.listdir(tmp_path / "backups")) == sorted(
        [first.filename, first.filename + ".sha256", first.filename + ".meta.json"]
    )


def test_missing_database_file_is_a_clear_error(tmp_path: Path) -> None:
    """Backing up a SQLite file that does not exist names the file."""
    backups = DatabaseBackup(f"sqlite:///{tmp_path / 'nope.db'}", tmp_path / "b")
    with pytest.raises(BackupError, match=r"nope\.db"):
        backups.create_backup()
    assert not (tmp_path / "nope.db").exists()  # the backup never creates the source


def test_stats_describe_the_stored_backups(db: Path, tmp_path: Path) -> None:
    """get_backup_stats counts backups and bytes and reports the newest and oldest."""
    clock = FakeClock()
    backups = manager(db, tmp_path, clock=clock)
    empty = backups.get_backup_stats()
    assert empty["total_backups"] == 0 and empty["newest"] is None
    assert empty["hours_since_success"] is None
    first = backups.create_backup()
    clock.advance(3600)
    second = backups.create_backup()
    clock.advance(1800)
    stats = backups.get_backup_stats()
    assert stats["total_backups"] == 2
    assert stats["total_size_bytes"] == first.size_bytes + second.size_bytes
    assert stats["newest"]["filename"] == second.filename
    assert stats["oldest"]["filename"] == first.filename
    assert stats["successes"] == 2 and stats["failures"] == 0
    assert stats["hours_since_success"] == pytest.approx(0.5)


def test_restore_creates_a_missing_database_without_a_safety_backup(
    db: Path, tmp_path: Path
) -> None:
    """Restoring when the live file is gone recreates it; there is nothing to save first."""
    backups = manager(db, tmp_path)
    info = backups.create_backup()
    db.unlink()
    result = backups.restore_backup(info.filename)
    assert result["safety_backup"] is None
    assert count_rows(db) == 200
