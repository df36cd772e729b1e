"""The host store's SQLite file: one database in WAL mode shared by the workers of one host.

The layout mirrors the Redis store's keys, so both ship the same batches:
- ``cells(k, f, v)``: hash fields, added to (``i``/``f``), raised (``mx``),
  lowered (``mn``) or set (``s``);
- ``members(k, m)``: sets (series names) and minute indexes;
- ``recent(id, k, v)``: the slow lists, trimmed to their length;
- ``expiry(k, at)``: keys that go once past retention (minute buckets);
- ``workers``: one row per live worker — its last applied batch number (what
  makes a resent batch a no-op) and its heartbeat figures;
- ``meta``: the schema version, checked at open.

A batch is one ``BEGIN IMMEDIATE`` transaction: applied whole or not at all.
Every failure is raised as `HostDbError` with a message for the log.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SCHEMA", "HostDb", "HostDbError", "Snapshot"]

SCHEMA = "perfkit-host/1"  # bump with any layout change; the file name carries it too

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cells (k TEXT NOT NULL, f TEXT NOT NULL, v, PRIMARY KEY (k, f))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (k TEXT NOT NULL, m TEXT NOT NULL, PRIMARY KEY (k, m))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recent (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS recent_k ON recent (k, id);
CREATE TABLE IF NOT EXISTS expiry (k TEXT PRIMARY KEY, at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS claims (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until REAL NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shared (name TEXT PRIMARY KEY, value TEXT NOT NULL, until REAL NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, seq INTEGER NOT NULL,
    seen REAL NOT NULL, figures TEXT NOT NULL
) WITHOUT ROWID;
"""

_UPSERT = {
    "i": "INSERT INTO cells VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET v = v + excluded.v",
    "f": "INSERT INTO cells VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET v = v + excluded.v",
    "mx": "INSERT INTO cells VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET v = max(v, excluded.v)",
    "mn": "INSERT INTO cells VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET v = min(v, excluded.v)",
    "s": "INSERT INTO cells VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET v = excluded.v",
}


class HostDbError(Exception):
    """The shared file cannot be used (opened, read or written); the message says why."""


@dataclass
class Snapshot:
    """Everything stored, read in one transaction (a consistent point in time)."""

    cells: dict[str, dict[str, str]] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    recent: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    workers: list[dict[str, Any]] = field(default_factory=list)


class HostDb:
    """One connection to the host's file (open lazily; one per process, used under a lock)."""

    def __init__(self, path: str, busy_timeout: float = 5.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None

    # -------------------------------------------------------------- opening
    def connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise HostDbError(f"cannot create the data directory {directory}: {exc}") from None
        if not os.access(directory, os.W_OK):
            raise HostDbError(f"the data directory {directory} is not writable")
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise HostDbError(f"cannot open {self.path}: {exc}") from None
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                found = _prepare(conn)
                break
            except sqlite3.OperationalError as exc:
                # a neighbour creating the file or switching it to WAL: wait a moment
                if _busy(exc) and time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                conn.close()
                raise HostDbError(f"{self.path} is not usable: {exc}") from None
            except sqlite3.Error as exc:
                conn.close()
                raise HostDbError(
                    f"{self.path} is not a usable perfkit host store: {exc}"
                ) from None
        if found is not None:
            conn.close()
            raise HostDbError(
                f"{self.path} was written by another version of perfkit (schema {found!r}, "
                f"this one reads {SCHEMA!r}); remove it to share figures again"
            )
        return conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    # -------------------------------------------------------------- writing
    def apply(
        self,
        worker: dict[str, Any],
        seq: int,
        ops: Sequence[Sequence[str]],
        now: float,
        index_floors: dict[str, int] | None = None,
    ) -> bool:
        """Apply one batch and the worker's heartbeat in one transaction.

        With `index_floors` ({index key: lowest member kept}) the same
        transaction drops expired keys and index members below their floor.

        False (and nothing changed but the heartbeat) when batch `seq` of this
        worker was applied already: a resent batch is never counted twice.
        """
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT seq FROM workers WHERE id = ?", (worker["id"],)
                ).fetchone()
                fresh = row is None or int(row[0]) < seq
                if fresh:
                    _apply_ops(conn, ops, now)
                conn.execute(
                    "INSERT INTO workers VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                    "seq = max(seq, excluded.seq), seen = excluded.seen, "
                    "figures = excluded.figures",
                    (worker["id"], worker["host"], worker["pid"], seq, now,
                     json.dumps(worker.get("figures", {}))),
                )  # fmt: skip
                if index_floors is not None:
                    _expire(conn, now, index_floors)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise HostDbError(f"cannot write to {self.path}: {exc}") from None
        return fresh

    def forget_workers(self, ids: Iterable[str]) -> None:
        """Remove the rows of workers that are gone (their figures are already in the totals)."""
        ids = list(ids)
        if not ids:
            return
        try:
            conn = self.connection()
            conn.executemany("DELETE FROM workers WHERE id = ?", [(i,) for i in ids])
        except sqlite3.Error as exc:
            raise HostDbError(f"cannot write to {self.path}: {exc}") from None

    def names_known(self, key: str, names: Sequence[str]) -> tuple[int, set[str]]:
        """How many members `key` has, and which of `names` are among them (for the caps)."""
        conn = self.connection()
        try:
            count = conn.execute("SELECT count(*) FROM members WHERE k = ?", (key,)).fetchone()[0]
            known: set[str] = set()
            for start in range(0, len(names), 500):
                chunk = list(names[start : start + 500])
                marks = ",".join("?" * len(chunk))
                known.update(
                    r[0]
                    for r in conn.execute(
                        f"SELECT m FROM members WHERE k = ? AND m IN ({marks})", (key, *chunk)
                    )
                )
        except sqlite3.Error as exc:
            raise HostDbError(f"cannot read {self.path}: {exc}") from None
        return int(count), known

    def claim(self, name: str, holder: str, until: float, now: float, renew: bool) -> bool:
        """Take the claim `name` until `until` if it is free (or, with `renew`, ours already)."""
        conn = self.connection()
        condition = "claims.until < ?" + (" OR claims.holder = excluded.holder" if renew else "")
        try:
            cursor = conn.execute(
                "INSERT INTO claims VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET "
                f"holder = excluded.holder, until = excluded.until WHERE {condition}",
                (name, holder, until, now),
            )
        except sqlite3.Error as exc:
            raise HostDbError(f"cannot write to {self.path}: {exc}") from None
        return cursor.rowcount == 1

    def put_shared(self, name: str, value: str, until: float) -> None:
        """A value the neighbours may read until `until` (the host's latest sample)."""
        try:
            self.connection().execute(
                "INSERT INTO shared VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET "
                "value = excluded.value, until = excluded.until",
                (name, value, until),
            )
        except sqlite3.Error as exc:
            raise HostDbError(f"cannot write to {self.path}: {exc}") from None

    def get_shared(self, name: str, now: float) -> str | None:
        try:
            row = (
                self.connection()
                .execute("SELECT value FROM shared WHERE name = ? AND until >= ?", (name, now))
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise HostDbError(f"cannot read {self.path}: {exc}") from None
        return None if row is None else str(row[0])

    def clear(self) -> None:
        """reset-counters: forget every figure (worker rows stay: their batch numbers hold)."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for table in ("cells", "members", "recent", "expiry"):
                conn.execute(f"DELETE FROM {table}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise HostDbError(f"cannot write to {self.path}: {exc}") from None

    # -------------------------------------------------------------- reading
    def read(self) -> Snapshot:
        """Every stored figure and worker row, from one read transaction."""
        conn = self.connection()
        snap = Snapshot()
        try:
            conn.execute("BEGIN")
            try:
                cells: dict[str, dict[str, str]] = defaultdict(dict)
                for k, f, v in conn.execute("SELECT k, f, v FROM cells"):
                    cells[k][f] = v if isinstance(v, str) else repr(v)
                snap.cells = cells
                for k, m in conn.execute("SELECT k, m FROM members"):
                    snap.members[k].add(m)
                for k, v in conn.execute("SELECT k, v FROM recent ORDER BY id"):
                    snap.recent[k].append(v)
                for wid, host, pid, seq, seen, figures in conn.execute(
                    "SELECT id, host, pid, seq, seen, figures FROM workers"
                ):
                    snap.workers.append(
                        {"id": wid, "host": host, "pid": pid, "seq": seq, "seen": seen,
                         **json.loads(figures)}
                    )  # fmt: skip
            finally:
                conn.execute("COMMIT")
        except (sqlite3.Error, ValueError) as exc:
            raise HostDbError(f"cannot read {self.path}: {exc}") from None
        return snap

    def size_bytes(self) -> int:
        """The file and its WAL, as they are on disk."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                total += os.path.getsize(self.path + suffix)
        return total


def _prepare(conn: sqlite3.Connection) -> str | None:
    """WAL mode and the tables; the schema another version wrote (None when it is ours)."""
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across crashes of a process
    # small, frequent checkpoints: the WAL stays under ~1 MiB and shrinks back after each
    conn.execute("PRAGMA wal_autocheckpoint=200")
    conn.execute("PRAGMA journal_size_limit=1048576")
    conn.execute("BEGIN IMMEDIATE")
    try:
        known = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        row = None
        if known:
            row = conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        if row is not None and row[0] != SCHEMA:
            conn.execute("ROLLBACK")
            return str(row[0])  # never touch another version's file
        for statement in _TABLES.split(";"):
            if statement.strip():
                conn.execute(statement)
        if row is None:
            conn.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return None


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _apply_ops(conn: sqlite3.Connection, ops: Sequence[Sequence[str]], now: float) -> None:
    grouped: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    members: list[tuple[str, str]] = []
    pushes: dict[str, tuple[list[tuple[str, str]], int]] = {}
    expiries: list[tuple[str, float]] = []
    for op in ops:
        kind = op[0]
        if kind in ("i", "f", "mx", "mn"):
            grouped[kind].append((op[1], op[2], _number(op[3])))
        elif kind == "s":
            grouped[kind].append((op[1], op[2], op[3]))
        elif kind in ("sa", "z"):
            members.append((op[1], op[2]))
        elif kind == "lp":
            rows, _ = pushes.get(op[1], ([], 0))
            rows.append((op[1], op[2]))
            pushes[op[1]] = (rows, int(op[3]))
        elif kind == "ex":
            expiries.append((op[1], now + float(op[2])))
    for kind, rows in grouped.items():
        conn.executemany(_UPSERT[kind], rows)
    conn.executemany("INSERT OR IGNORE INTO members VALUES (?, ?)", members)
    for key, (rows, keep) in pushes.items():
        conn.executemany("INSERT INTO recent (k, v) VALUES (?, ?)", rows)
        conn.execute(
            "DELETE FROM recent WHERE k = ? AND id NOT IN "
            "(SELECT id FROM recent WHERE k = ? ORDER BY id DESC LIMIT ?)",
            (key, key, keep),
        )
    conn.executemany(
        "INSERT INTO expiry VALUES (?, ?) ON CONFLICT DO UPDATE SET at = excluded.at", expiries
    )


def _expire(conn: sqlite3.Connection, now: float, index_floors: dict[str, int]) -> None:
    """Drop keys past their retention (minute buckets) and their index entries."""
    for key, floor in index_floors.items():
        conn.execute("DELETE FROM members WHERE k = ? AND CAST(m AS INTEGER) < ?", (key, floor))
    gone = [r[0] for r in conn.execute("SELECT k FROM expiry WHERE at < ?", (now,))]
    for start in range(0, len(gone), 500):
        chunk = gone[start : start + 500]
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM cells WHERE k IN ({marks})", chunk)
        conn.execute(f"DELETE FROM expiry WHERE k IN ({marks})", chunk)


def _number(value: str) -> int | float:
    try:
        return int(value)
    except ValueError:
        return float(value)
