"""The DB-API 2 proxy against real sqlite3, PostgreSQL (psycopg 3) and MariaDB (PyMySQL)."""

from __future__ import annotations

import contextlib
import sqlite3
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfkit import Perfkit, PerfkitSettings
from perfkit.integrations.dbapi import (
    InstrumentedConnection,
    InstrumentedCursor,
    instrument_connection,
)


def fingerprints(kit: Perfkit) -> dict[str, dict[str, Any]]:
    return {row["fingerprint"]: row for row in kit.snapshot()["queries"]["fingerprints"]}


@pytest.fixture(params=["sqlite3", "psycopg", "pymysql"])
def driver(request: pytest.FixtureRequest, tmp_path: Path, table: str) -> Iterator[tuple[str, Any]]:
    """``(paramstyle placeholder, raw connection)``; the test table is dropped after."""
    if request.param == "sqlite3":
        raw: Any = sqlite3.connect(tmp_path / "db.sqlite")
        mark = "?"
    elif request.param == "psycopg":
        psycopg = pytest.importorskip("psycopg")
        raw = psycopg.connect(request.getfixturevalue("postgres_url"), autocommit=True)
        mark = "%s"
    else:
        pymysql = pytest.importorskip("pymysql")
        from urllib.parse import urlparse

        url = urlparse(request.getfixturevalue("mysql_url"))
        raw = pymysql.connect(
            host=url.hostname, port=url.port or 3306, user=url.username or "root",
            password=url.password or "", database=url.path.lstrip("/"), autocommit=True,
        )  # fmt: skip
        mark = "%s"
    try:
        yield mark, raw
    finally:
        try:
            cur = raw.cursor()
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.close()
            if request.param == "sqlite3":
                raw.commit()
        finally:
            raw.close()


def test_cursor_statements_are_recorded(kit: Perfkit, driver: tuple[str, Any], table: str) -> None:
    """execute and executemany are timed; results and rowcounts come back unchanged."""
    mark, raw = driver
    conn = instrument_connection(raw, kit)
    with contextlib.closing(conn.cursor()) as cur:  # sqlite3 cursors are no context managers
        assert isinstance(cur, InstrumentedCursor)
        cur.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(50))")
        cur.executemany(
            f"INSERT INTO {table} (id, name) VALUES ({mark}, {mark})",
            [(1, "secret-a"), (2, "secret-b")],
        )
        cur.execute(f"SELECT name FROM {table} WHERE id = {mark}", (2,))
        assert cur.fetchone() == ("secret-b",)
        cur.execute(f"SELECT name FROM {table} WHERE id = 1")
        assert [row[0] for row in cur] == ["secret-a"]  # iteration goes to the driver
        assert cur.rowcount in (1, -1)
    rows = fingerprints(kit)
    assert "secret" not in str(rows)
    select = rows[f"SELECT name FROM {table} WHERE id = ?"]
    assert (select["count"], select["errors"]) == (2, 0)
    assert rows[f"INSERT INTO {table} (id, name) VALUES (?+)"]["count"] == 1


def test_errors_are_counted_and_raised_unchanged(
    kit: Perfkit, driver: tuple[str, Any], table: str
) -> None:
    mark, raw = driver
    conn = instrument_connection(raw, kit)
    cur = conn.cursor()
    error_type = type(raw).__module__.split(".")[0]
    with pytest.raises(Exception) as info:
        cur.execute(f"SELECT * FROM {table}_missing WHERE id = {mark}", (3,))
    cur.close()
    assert type(info.value).__module__.split(".")[0] == error_type  # the driver's own error
    row = fingerprints(kit)[f"SELECT * FROM {table}_missing WHERE id = ?"]
    assert (row["count"], row["errors"]) == (1, 1)


def test_connection_execute_shortcut(kit: Perfkit, tmp_path: Path) -> None:
    """sqlite3's connection.execute is timed and returns a cursor that is timed too."""
    conn = instrument_connection(sqlite3.connect(tmp_path / "x.db"), kit)
    with conn:  # sqlite3's transaction context: the proxy stays the object in use
        cur = conn.execute("SELECT 1 WHERE 2 = ?", (2,))
        assert isinstance(cur, InstrumentedCursor)
        assert cur.fetchall() == [(1,)]
        cur.execute("SELECT 3")
    conn.close()
    rows = fingerprints(kit)
    assert rows["SELECT ? WHERE ? = ?"]["count"] == 1
    assert rows["SELECT ?"]["count"] == 1


def test_psycopg_connection_execute_and_composed_sql(kit: Perfkit, postgres_url: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    from psycopg import sql

    with instrument_connection(psycopg.connect(postgres_url), kit) as conn:
        assert isinstance(conn, InstrumentedConnection)
        assert conn.execute("SELECT %s::int + 1", (41,)).fetchone() == (42,)
        query = sql.SQL("SELECT {} AS answer").format(sql.Literal("secret-composed"))
        with conn.cursor() as cur:
            cur.execute(query)
            assert cur.fetchone() == ("secret-composed",)
    rows = fingerprints(kit)
    assert "secret" not in str(rows)
    assert "SELECT ? AS answer" in rows
    assert rows["SELECT ?::int + ?"]["count"] == 1


def test_pymysql_callproc(kit: Perfkit, mysql_url: str, table: str) -> None:
    """callproc is recorded as ``CALL name``."""
    pymysql = pytest.importorskip("pymysql")
    from urllib.parse import urlparse

    url = urlparse(mysql_url)
    raw = pymysql.connect(
        host=url.hostname, port=url.port or 3306, user=url.username or "root",
        password=url.password or "", database=url.path.lstrip("/"), autocommit=True,
    )  # fmt: skip
    conn = instrument_connection(raw, kit)
    proc = f"{table}_proc"
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE PROCEDURE {proc}(IN x INT) SELECT x + 1")
            cur.callproc(proc, (1,))
            assert cur.fetchone() == (2,)
            while cur.nextset():
                pass
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP PROCEDURE IF EXISTS {proc}")
        conn.close()
    assert fingerprints(kit)[f"CALL {proc}"]["count"] == 1


def test_instrumenting_twice_or_a_non_connection(kit: Perfkit) -> None:
    raw = sqlite3.connect(":memory:")
    conn = instrument_connection(raw, kit)
    assert instrument_connection(conn, kit) is conn
    raw.close()
    with pytest.raises(TypeError, match="DB-API"):
        instrument_connection(object(), kit)


def test_default_kit_is_looked_up_per_statement() -> None:
    from perfkit import set_default_kit

    kit = Perfkit(PerfkitSettings())
    conn = instrument_connection(sqlite3.connect(":memory:"))
    set_default_kit(kit)
    try:
        conn.execute("SELECT 1")
    finally:
        set_default_kit(None)
        conn.close()
    assert kit.snapshot()["queries"]["summary"]["count"] == 1


_LITERALS = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.text(alphabet=string.ascii_letters + string.digits + " '-_", min_size=1, max_size=30),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_LITERALS)
def test_inline_literals_never_reach_the_fingerprint(value: int | str) -> None:
    """Whatever literal a statement embeds, one shape is one series without the value."""
    kit = Perfkit(PerfkitSettings())
    literal = str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"
    conn = instrument_connection(sqlite3.connect(":memory:"), kit)
    try:
        conn.execute(f"SELECT {literal} AS v WHERE 1 = 1")
    finally:
        conn.close()
    rows = fingerprints(kit)
    assert list(rows) == ["SELECT ? AS v WHERE ? = ?"]
