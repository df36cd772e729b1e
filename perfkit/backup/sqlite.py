"""SQLite through the `sqlite3` online backup API: a consistent copy while writers are active."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import BackupError, ConfigError
from .base import BackupStrategy, Progress

__all__ = ["SQLiteStrategy"]

_PAGES_PER_STEP = (
    4096  # pages copied per step: big enough to be fast, small enough to let writers in
)
_HEADER = b"SQLite format 3\x00"


def sqlite_path(url: str) -> Path:
    """The file of ``sqlite:///relative.db`` or ``sqlite:////absolute.db``."""
    path = urlsplit(url).path
    path = path[1:] if path.startswith("/") else path
    if not path or path == ":memory:":
        raise ConfigError(
            f"SQLite URL {url!r} names no file: expected sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db (an in-memory database cannot be backed up)"
        )
    return Path(path)


class SQLiteStrategy(BackupStrategy):
    """Backs up a SQLite file page by page with ``sqlite3.Connection.backup``.

    The check is ``PRAGMA integrity_check`` (``quick_check`` with ``check_level="quick"``).
    """

    schemes = ("sqlite", "sqlite3")
    database_type = "sqlite"
    extension = ".sqlite3"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)

    def exists(self) -> bool:
        return self.path.is_file()

    def dump(self, target: Path, progress: Progress, *, compress: bool, level: int) -> None:
        if not self.path.is_file():
            raise BackupError(f"SQLite database {str(self.path)!r} does not exist")
        # mode=ro: a backup must never create or change the source.
        self._copy(f"file:{self.path.resolve()}?mode=ro", str(target), progress, "dump")

    def check(self, dump: Path) -> None:
        with open(dump, "rb") as fh:
            if fh.read(len(_HEADER)) != _HEADER:
                raise BackupError(f"{dump.name} is not a SQLite database (bad header)")
        pragma = "quick_check" if self.check_level == "quick" else "integrity_check"
        try:
            conn = sqlite3.connect(f"file:{dump.resolve()}?mode=ro", uri=True)
            try:
                rows = conn.execute(f"PRAGMA {pragma}").fetchall()
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{dump.name} is not a valid SQLite database: {exc}") from None
        if rows != [("ok",)]:
            detail = "; ".join(str(r[0]) for r in rows[:5])
            raise BackupError(f"{dump.name} failed PRAGMA {pragma}: {detail}")

    def restore(self, dump: Path, progress: Progress) -> None:
        # The backup API writes into the live file under SQLite's own locking,
        # so connections other processes hold stay valid.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._copy(f"file:{dump.resolve()}?mode=ro", str(self.path), progress, "restore")

    @staticmethod
    def _copy(source_uri: str, target: str, progress: Progress, stage: str) -> None:
        try:
            src = sqlite3.connect(source_uri, uri=True)
            try:
                dst = sqlite3.connect(target)
                try:
                    _backup(src, dst, progress, stage)
                finally:
                    dst.close()
            finally:
                src.close()
        except sqlite3.Error as exc:
            raise BackupError(f"SQLite backup API failed during {stage}: {exc}") from None


class _Restarted(Exception):
    """The source changed between steps and SQLite started the copy again."""


def _backup(
    src: sqlite3.Connection, dst: sqlite3.Connection, progress: Progress, stage: str
) -> None:
    """Copy in steps (for progress); if busy writers keep restarting it, copy in one step.

    A stepwise copy restarts whenever another connection writes to the source,
    so with a steady writer it might never finish; one step holds a read
    transaction for the whole copy instead, which always finishes.
    """
    restarts = 0
    last_done = 0

    def report(status: int, remaining: int, total: int) -> None:
        nonlocal restarts, last_done
        done = total - remaining
        if done < last_done:
            restarts += 1
            if restarts > 2:
                raise _Restarted
        last_done = done
        progress(stage, done, total)

    try:
        src.backup(dst, pages=_PAGES_PER_STEP, progress=report)
    except _Restarted:
        src.backup(dst, pages=-1)
        total = dst.execute("PRAGMA page_count").fetchone()[0]
        progress(stage, total, total)
