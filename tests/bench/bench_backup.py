"""Backup benchmarks: perfkit beside the sqlite3 CLI ``.backup`` and a bare ``pg_dump -Fc``.

Run: ``python tests/bench/bench_backup.py`` (``--quick`` for a smoke run,
``--sqlite-mb N`` / ``--pg-mb N`` for the database sizes). PostgreSQL rows use
``PERFKIT_TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1:5432/test)
and are skipped when it is unreachable; a scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import psutil
from _common import interleave, load_now, machine_note, markdown_table, median

from perfkit.backup import DatabaseBackup
from perfkit.backup.sqlite import SQLiteStrategy

PG_URL = os.environ.get("PERFKIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MB = 1024 * 1024


def make_sqlite(path: Path, size_mb: int) -> None:
    """Rows of random and repetitive text with an index, about `size_mb` MiB on disk."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, body BLOB)")
    batch = 2000
    rows = [(f"kind{i % 50}",) for i in range(batch)]
    while path.stat().st_size < size_mb * MB:
        # half random, half zeros: compressible like real data, but not trivially
        conn.executemany(
            "INSERT INTO events (kind, body) VALUES (?, randomblob(400) || zeroblob(400))", rows
        )
        conn.commit()
    conn.execute("CREATE INDEX events_kind ON events (kind)")
    conn.commit()
    conn.close()


class PeakRSS:
    """Samples this process's RSS every 5 ms in a thread; `growth` is peak minus the start."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.start = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.start


def timed(fn: Callable[[], object], rss: dict[str, list[int]], name: str) -> Callable[[], float]:
    def run() -> float:
        with PeakRSS() as peak:
            started = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - started
        rss.setdefault(name, []).append(peak.growth)
        return elapsed

    return run


def sqlite_section(work: Path, size_mb: int, rounds: int) -> str:
    db = work / "bench.db"
    make_sqlite(db, size_mb)
    size = db.stat().st_size
    url = f"sqlite:///{db}"
    sqlite3_cli = shutil.which("sqlite3")
    out = work / "cli-copy.db"

    def cli_backup() -> None:
        out.unlink(missing_ok=True)
        subprocess.run([sqlite3_cli or "sqlite3", str(db), f".backup '{out}'"], check=True)

    def perfkit_run(**kwargs: object) -> Callable[[], None]:
        def run() -> None:
            target = work / "pk"
            shutil.rmtree(target, ignore_errors=True)
            DatabaseBackup(url, target, max_backups=1, **kwargs).create_backup()  # type: ignore[arg-type]

        return run

    def api_only() -> None:
        copy = work / "api-copy.db"
        copy.unlink(missing_ok=True)
        SQLiteStrategy(url).dump(copy, lambda *a: None, compress=False, level=6)

    variants: dict[str, Callable[[], object]] = {
        "perfkit (uncompressed, check=full: integrity_check)": perfkit_run(compress=False),
        "perfkit (uncompressed, check=quick: quick_check)": perfkit_run(
            compress=False, check="quick"
        ),
        "perfkit (gzip level 1, check=full)": perfkit_run(compress=True, compress_level=1),
        "sqlite3 backup API only (no check, no checksum)": api_only,
    }
    if sqlite3_cli:
        variants["sqlite3 CLI .backup"] = cli_backup
    rss: dict[str, list[int]] = {}
    samples = interleave(
        {name: timed(fn, rss, name) for name, fn in variants.items()}, rounds, warmup=0
    )
    base = median(samples["sqlite3 CLI .backup"]) if sqlite3_cli else None
    rows = []
    for name, values in samples.items():
        secs = median(values)
        ratio = f"{base / secs:.2f}x" if base else "—"
        rows.append([name, f"{secs:.2f}", f"{size / MB / secs:.0f}", ratio,
                     f"{max(rss[name]) / MB:.1f}"])  # fmt: skip
    header = f"### SQLite, {size / MB:.0f} MiB database, median of {rounds} interleaved rounds\n\n"
    return header + markdown_table(
        ["variant", "seconds", "MiB/s", "throughput vs sqlite3 CLI", "peak RSS growth MiB"], rows
    )


def _psql(url: str, sql: str) -> None:
    parts = urlsplit(url)
    subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(parts.hostname),
         "-p", str(parts.port or 5432), "-U", parts.username or "postgres",
         "-d", parts.path.lstrip("/"), "-c", sql],
        check=True, capture_output=True,
    )  # fmt: skip


def pg_section(work: Path, size_mb: int, rounds: int) -> str:
    parts = urlsplit(PG_URL)
    try:
        _psql(PG_URL, "SELECT 1")
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        return f"PostgreSQL rows skipped: {PG_URL} unreachable ({exc})"
    name = f"perfkit_bench_{uuid.uuid4().hex[:8]}"
    _psql(PG_URL, f"CREATE DATABASE {name}")
    url = f"{parts.scheme}://{parts.netloc}/{name}"
    try:
        rows_needed = size_mb * MB // 330
        _psql(url, "CREATE TABLE events AS SELECT g AS id, md5(g::text) AS h, "
                   "repeat(md5((g % 1000)::text), 8) AS body "
                   f"FROM generate_series(1, {rows_needed}) g;")  # fmt: skip
        _psql(url, "CREATE INDEX ON events (h)")
        target = work / "pg_dump.dump"
        env = {**os.environ, "PGHOST": str(parts.hostname), "PGPORT": str(parts.port or 5432),
               "PGUSER": parts.username or "postgres", "PGDATABASE": name}  # fmt: skip

        def bare() -> None:
            subprocess.run(["pg_dump", "-Fc", "-f", str(target)], check=True, env=env)

        def perfkit(check: str) -> Callable[[], None]:
            def run() -> None:
                shutil.rmtree(work / "pgk", ignore_errors=True)
                DatabaseBackup(url, work / "pgk", max_backups=1, check=check).create_backup()

            return run

        rss: dict[str, list[int]] = {}
        variants = {
            "bare pg_dump -Fc -f FILE": bare,
            "perfkit, check=full (pg_restore reads every block, in parallel)": perfkit("full"),
            "perfkit, check=quick (pg_restore --list)": perfkit("quick"),
        }
        samples = interleave({k: timed(f, rss, k) for k, f in variants.items()}, rounds, warmup=0)
        base = median(samples["bare pg_dump -Fc -f FILE"])
        dump_mb = target.stat().st_size / MB
        rows = [[k, f"{median(v):.2f}", f"{base / median(v):.2f}x"] for k, v in samples.items()]
        header = (f"### PostgreSQL 15, table of ~{size_mb} MiB (dump {dump_mb:.0f} MiB), "
                  f"median of {rounds} interleaved rounds\n\n")  # fmt: skip
        return header + markdown_table(["variant", "seconds", "throughput vs bare pg_dump"], rows)
    finally:
        _psql(PG_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny databases, one round")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--sqlite-mb", type=int, default=None, help="SQLite size (default 1024)")
    parser.add_argument(
        "--pg-mb", type=int, default=None, help="PostgreSQL table size (default 300)"
    )
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    sqlite_mb = args.sqlite_mb or (8 if args.quick else 1024)
    pg_mb = args.pg_mb or (4 if args.quick else 300)
    print(f"# Backup benchmark\n\n{machine_note()}\n")
    with tempfile.TemporaryDirectory(prefix="perfkit-bench-backup-") as tmp:
        work = Path(tmp)
        print(sqlite_section(work, sqlite_mb, rounds), "\n", flush=True)
        print(pg_section(work, pg_mb, rounds), "\n")
    print(f"load average at the end: {load_now()}")


if __name__ == "__main__":
    main()
