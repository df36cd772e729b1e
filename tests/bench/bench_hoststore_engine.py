"""Why SQLite in WAL mode, measured: the host store's access pattern (several writer
processes with small upsert transactions while a reader reads every row) under the WAL
and the rollback journal, with synchronous NORMAL and FULL.

    python tests/bench/bench_hoststore_engine.py
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import tempfile
import time
from typing import Any

WRITERS = 4
TRANSACTIONS = 200


def connect(path: str, mode: str, sync: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute(f"PRAGMA journal_mode={mode}")
    conn.execute(f"PRAGMA synchronous={sync}")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS cells (k TEXT, f TEXT, v, PRIMARY KEY (k, f)) WITHOUT ROWID"
    )
    return conn


def writer(path: str, mode: str, sync: str, out: Any) -> None:
    conn = connect(path, mode, sync)
    start = time.perf_counter()
    for i in range(TRANSACTIONS):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO cells VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET v = v + excluded.v",
            [(f"ep:{j}", f"k{i % 40}", 1) for j in range(30)],
        )
        conn.execute("COMMIT")
    out.put(time.perf_counter() - start)


def run(mode: str, sync: str) -> str:
    path = os.path.join(tempfile.mkdtemp(), "engine.db")
    connect(path, mode, sync).close()
    out: Any = mp.Queue()
    procs = [mp.Process(target=writer, args=(path, mode, sync, out)) for _ in range(WRITERS)]
    for proc in procs:
        proc.start()
    reader = connect(path, mode, sync)
    reads = []
    while any(proc.is_alive() for proc in procs):
        start = time.perf_counter()
        reader.execute("SELECT k, f, v FROM cells").fetchall()
        reads.append(time.perf_counter() - start)
    for proc in procs:
        proc.join()
    slowest = max(out.get() for _ in procs)
    reads.sort()
    ms = "{:.2f} ms".format
    return (
        f"| {mode} | {sync} | {ms(slowest / TRANSACTIONS * 1000)} | "
        f"{ms(reads[len(reads) // 2] * 1000)} | {ms(reads[int(len(reads) * 0.99)] * 1000)} |"
    )


def main() -> None:
    print(
        f"| journal | synchronous | write transaction (30 upserts, {WRITERS} writers) "
        "| full read, median | full read, p99 |"
    )
    print("|---|---|---:|---:|---:|")
    for mode in ("WAL", "DELETE"):
        for sync in ("NORMAL", "FULL"):
            print(run(mode, sync))
    print(f"\nload at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
