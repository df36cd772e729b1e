"""PostgreSQL 15 and MariaDB: back up, change data, restore, compare; secrets stay secret."""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from perfkit.backup import DatabaseBackup, _proc
from perfkit.errors import BackupError

pytestmark = pytest.mark.services


def _with_db(url: str, dbname: str, user: str | None = None, password: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.hostname}:{parts.port}"
    if user:
        secret = f":{quote(password, safe='')}" if password else ""
        netloc = f"{quote(user, safe='')}{secret}@{netloc}"
    return urlunsplit((parts.scheme, netloc, "/" + dbname, "", ""))


def psql(url: str, sql: str) -> str:
    parts = urlsplit(url)
    cmd = ["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", str(parts.hostname),
           "-p", str(parts.port or 5432), "-U", parts.username or "postgres",
           "-d", parts.path.lstrip("/"), "-c", sql]  # fmt: skip
    return subprocess.run(
        cmd, check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


def mysql(url: str, sql: str, db: str | None = None) -> str:
    parts = urlsplit(url)
    cmd = ["mysql", "-N", "-B", "-h", str(parts.hostname), "-P", str(parts.port or 3306),
           "-u", parts.username or "root", "-e", sql]  # fmt: skip
    if db:
        cmd.append(db)
    return subprocess.run(
        cmd, check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


@pytest.fixture
def pg_db(postgres_url: str) -> Iterator[str]:
    """A fresh database (so restores never touch anyone else's tables), dropped afterwards."""
    name = f"perfkit_bk_{uuid.uuid4().hex[:12]}"
    psql(postgres_url, f"CREATE DATABASE {name}")
    try:
        yield _with_db(postgres_url, name, urlsplit(postgres_url).username)
    finally:
        psql(postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def my_db(mysql_url: str) -> Iterator[str]:
    name = f"perfkit_bk_{uuid.uuid4().hex[:12]}"
    mysql(mysql_url, f"CREATE DATABASE {name}")
    try:
        yield _with_db(mysql_url, name, urlsplit(mysql_url).username)
    finally:
        mysql(mysql_url, f"DROP DATABASE IF EXISTS {name}")


@pytest.mark.parametrize("compress", [True, False])
def test_postgres_backup_change_restore_compare(pg_db: str, tmp_path: Path, compress: bool) -> None:
    """pg_dump/pg_restore round trip: changed and deleted rows come back as they were."""
    psql(pg_db, "CREATE TABLE items (id int PRIMARY KEY, name text);")
    psql(pg_db, "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g;")
    before = psql(pg_db, "SELECT count(*), md5(string_agg(name, ',' ORDER BY id)) FROM items")
    backups = DatabaseBackup(pg_db, tmp_path / "b", compress=compress)
    info = backups.create_backup()
    assert info.database_type == "postgresql" and info.filename.endswith(".dump")
    assert backups.verify_backup(info.filename)

    psql(pg_db, "UPDATE items SET name = 'changed'; DELETE FROM items WHERE id > 250;")
    result = backups.restore_backup(info.filename)

    assert (
        psql(pg_db, "SELECT count(*), md5(string_agg(name, ',' ORDER BY id)) FROM items") == before
    )
    assert result["safety_backup"] is not None
    # The safety backup holds the state just before the restore.
    backups.restore_backup(result["safety_backup"], safety_backup=False)
    assert psql(pg_db, "SELECT count(*) FROM items") == "250"


def test_mysql_backup_change_restore_compare(my_db: str, tmp_path: Path) -> None:
    """mysqldump/mysql round trip on MariaDB."""
    db = urlsplit(my_db).path.lstrip("/")
    mysql(my_db, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50)) ENGINE=InnoDB;"
                 "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');", db)  # fmt: skip
    before = mysql(my_db, "SELECT GROUP_CONCAT(name ORDER BY id) FROM items", db)
    backups = DatabaseBackup(my_db, tmp_path / "b")
    info = backups.create_backup()
    assert info.database_type == "mysql" and info.filename.endswith(".sql.gz")
    assert backups.verify_backup(info.filename)

    mysql(my_db, "UPDATE items SET name = 'zzz'; DELETE FROM items WHERE id = 1;", db)
    backups.restore_backup(info.filename)
    assert mysql(my_db, "SELECT GROUP_CONCAT(name ORDER BY id) FROM items", db) == before


class _Recorder:
    """Wraps subprocess.Popen to record every argv and environment a tool gets."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []
        real = subprocess.Popen

        def popen(argv: list[str], *args: Any, **kwargs: Any) -> Any:
            self.calls.append((list(argv), dict(kwargs.get("env") or {})))
            return real(argv, *args, **kwargs)

        monkeypatch.setattr(_proc.subprocess, "Popen", popen)


def _assert_secret_absent(secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text


def test_postgres_password_never_in_argv_logs_errors_or_info(
    pg_db: str, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """The password reaches pg_dump only via PGPASSWORD; never argv, logs, errors or files."""
    role = f"perfkit_role_{uuid.uuid4().hex[:8]}"
    secret = f"S3cret-{uuid.uuid4().hex}"
    dbname = urlsplit(pg_db).path.lstrip("/")
    psql(postgres_url, f"CREATE ROLE {role} LOGIN PASSWORD '{secret}'")
    try:
        psql(postgres_url, f"ALTER DATABASE {dbname} OWNER TO {role}")
        psql(pg_db, f"CREATE TABLE t (x int); ALTER TABLE t OWNER TO {role}")
        url = _with_db(postgres_url, dbname, role, secret)
        recorder = _Recorder(monkeypatch)
        caplog.set_level(logging.DEBUG)
        backups = DatabaseBackup(url, tmp_path / "b")
        info = backups.create_backup()
        backups.restore_backup(info.filename)
        failing = DatabaseBackup(
            _with_db(postgres_url, "no_such_db_x", role, secret), tmp_path / "c"
        )
        with pytest.raises(BackupError) as excinfo:
            failing.create_backup()
        assert "no_such_db_x" in str(excinfo.value)

        assert any(env.get("PGPASSWORD") == secret for _, env in recorder.calls)
        side_files = [p.read_text() for p in (tmp_path / "b").glob("*.*json")]
        _assert_secret_absent(
            secret, caplog.text, str(excinfo.value), repr(info), repr(info.to_dict()),
            str(backups.get_backup_stats()), *side_files,
            *(" ".join(argv) for argv, _ in recorder.calls),
        )  # fmt: skip
    finally:
        psql(postgres_url, f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
        psql(postgres_url, f"DROP ROLE IF EXISTS {role}")


def test_mysql_password_goes_through_an_option_file(
    my_db: str, mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """MariaDB checks passwords: a backup that works proves the option file carried it."""
    db = urlsplit(my_db).path.lstrip("/")
    user = f"pk_{uuid.uuid4().hex[:10]}"
    secret = f'p"w\\{uuid.uuid4().hex[:8]}#;'  # quotes, backslash, comment chars
    sql_secret = secret.replace("\\", "\\\\").replace("'", "\\'")
    mysql(mysql_url, f"CREATE USER '{user}'@'%' IDENTIFIED BY '{sql_secret}';"
                     f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{sql_secret}';"
                     f"GRANT ALL ON {db}.* TO '{user}'@'%';"
                     f"GRANT ALL ON {db}.* TO '{user}'@'localhost';")  # fmt: skip
    try:
        mysql(mysql_url, "CREATE TABLE t (x INT); INSERT INTO t VALUES (7);", db)
        recorder = _Recorder(monkeypatch)
        caplog.set_level(logging.DEBUG)
        backups = DatabaseBackup(_with_db(mysql_url, db, user, secret), tmp_path / "b")
        info = backups.create_backup()
        assert backups.verify_backup(info.filename)
        wrong = DatabaseBackup(_with_db(mysql_url, db, user, secret + "x"), tmp_path / "c")
        with pytest.raises(BackupError, match="Access denied") as excinfo:
            wrong.create_backup()
        _assert_secret_absent(
            secret, caplog.text, str(excinfo.value), repr(info),
            *(" ".join(argv) for argv, _ in recorder.calls),
        )  # fmt: skip
        _assert_secret_absent(secret + "x", caplog.text, str(excinfo.value))
    finally:
        mysql(
            mysql_url,
            f"DROP USER IF EXISTS '{user}'@'%'; DROP USER IF EXISTS '{user}'@'localhost';",
        )


def test_restoring_into_another_engine_is_refused(pg_db: str, tmp_path: Path) -> None:
    """A SQLite backup restored into PostgreSQL is refused before anything runs."""
    from _helpers_backup import make_sqlite

    make_sqlite(tmp_path / "a.db")
    info = DatabaseBackup(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "b").create_backup()
    pg = DatabaseBackup(pg_db, tmp_path / "b")
    with pytest.raises(BackupError, match="sqlite backup"):
        pg.restore_backup(info.filename)
    assert [b.filename for b in pg.list_backups()] == [info.filename]  # no safety backup either


def test_postgres_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    """A server that does not answer gives a BackupError quoting pg_dump, and stores nothing."""
    backups = DatabaseBackup("postgresql://postgres@127.0.0.1:1/test", tmp_path / "b")
    with pytest.raises(BackupError, match="pg_dump exited with code 1"):
        backups.create_backup()
    assert backups.list_backups() == []


def test_postgres_truncated_dump_with_exit_0_is_refused(
    pg_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pg_dump output cut short by a pipe that still exits 0: pg_restore catches it."""
    import shutil
    import stat

    psql(pg_db, "CREATE TABLE big AS SELECT g, md5(g::text) FROM generate_series(1, 20000) g")
    real = shutil.which("pg_dump")
    assert real is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "pg_dump"
    wrapper.write_text(f'#!/bin/sh\n"{real}" "$@" | head -c 30000\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    backups = DatabaseBackup(pg_db, tmp_path / "b")
    with pytest.raises(BackupError, match="pg_restore"):
        backups.create_backup()
    assert backups.list_backups() == []


def test_postgres_backup_truncated_on_disk_fails_verification(pg_db: str, tmp_path: Path) -> None:
    """Even with its checksum rewritten, a cut archive fails verify (pg_restore reads it all)."""
    import hashlib
    import json

    psql(pg_db, "CREATE TABLE big AS SELECT g, md5(g::text) FROM generate_series(1, 20000) g")
    backups = DatabaseBackup(pg_db, tmp_path / "b")
    info = backups.create_backup()
    data = info.path.read_bytes()[: info.size_bytes // 2]
    info.path.write_bytes(data)
    meta = info.path.with_name(info.filename + ".meta.json")
    body = json.loads(meta.read_text())
    body.update(size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    meta.write_text(json.dumps(body))
    assert backups.verify_backup(info.filename) is False
    with pytest.raises(BackupError):
        backups.restore_backup(info.filename)


def test_postgres_quick_check_mode_round_trips(pg_db: str, tmp_path: Path) -> None:
    """check="quick" (pg_dump straight to a file, pg_restore --list) still restores."""
    psql(pg_db, "CREATE TABLE q (x int); INSERT INTO q VALUES (1), (2)")
    backups = DatabaseBackup(pg_db, tmp_path / "b", check="quick")
    info = backups.create_backup()
    assert backups.verify_backup(info.filename)
    psql(pg_db, "DELETE FROM q")
    backups.restore_backup(info.filename)
    assert psql(pg_db, "SELECT count(*) FROM q") == "2"
