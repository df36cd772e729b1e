"""Shared helpers for the backup tests (not collected: no test_ prefix)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def make_sqlite(path: Path, rows: int = 100, pad: int = 0) -> None:
    """A SQLite file with table `t(id, payload)` holding `rows` rows."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT)")
        conn.executemany(
            "INSERT INTO t (payload) VALUES (?)", [(f"row{i}" + "x" * pad,) for i in range(rows)]
        )
        conn.commit()
    finally:
        conn.close()


def count_rows(path: Path, table: str = "t") -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def execute(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def flip_byte(path: Path, offset: int | None = None) -> None:
    """Invert one byte of a file (the middle one by default)."""
    data = bytearray(path.read_bytes())
    index = len(data) // 2 if offset is None else offset
    data[index] ^= 0xFF
    path.write_bytes(bytes(data))
