"""Django's execute wrappers against real SQLite and PostgreSQL.

(MariaDB is covered by the DB-API and SQLAlchemy tests: Django's MySQL backend
needs mysqlclient, which the test environment does not build.)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from perfkit import MissingDependencyError, Perfkit

pytest.importorskip("django")

from perfkit.integrations.django_db import instrument_django, record_queries


def fingerprints(kit: Perfkit) -> dict[str, dict[str, Any]]:
    return {row["fingerprint"]: row for row in kit.snapshot()["queries"]["fingerprints"]}


@pytest.fixture(params=["sqlite", "postgresql"])
def connection(request: pytest.FixtureRequest, django_ready: None, table: str) -> Iterator[Any]:
    """A Django connection (not yet connected) to each database; the table dropped after."""
    from django.db.utils import ConnectionHandler

    if request.param == "sqlite":
        databases = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    else:
        pytest.importorskip("psycopg")
        from urllib.parse import urlparse

        url = urlparse(request.getfixturevalue("postgres_url"))
        databases = {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": url.path.lstrip("/"),
                "USER": url.username or "postgres",
                "PASSWORD": url.password or "",
                "HOST": url.hostname,
                "PORT": str(url.port or 5432),
            }
        }
    # a handler of our own: the example project's settings stay untouched
    handler = ConnectionHandler(databases)
    conn = handler["default"]
    try:
        yield conn
    finally:
        if conn.connection is not None:
            with conn.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()


def run(conn: Any, sql: str, params: Any = None) -> list[Any]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall()) if cur.description else []


def test_instrument_django_times_every_new_connection(
    kit: Perfkit, connection: Any, table: str
) -> None:
    """Connections made after instrument_django() carry the timer; values stay out."""
    with instrument_django(kit) as handle:
        run(connection, f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(50))")
        run(connection, f"INSERT INTO {table} (id, name) VALUES (%s, %s)", [1, "secret-name"])
        assert run(connection, f"SELECT name FROM {table} WHERE id = %s", [1]) == [("secret-name",)]
        run(connection, f"SELECT name FROM {table} WHERE id = %s", [2])
        assert handle.timer in connection.execute_wrappers
    assert handle.timer not in connection.execute_wrappers  # removed on exit
    run(connection, f"SELECT name FROM {table} WHERE id = %s", [3])  # no longer recorded
    rows = fingerprints(kit)
    assert "secret" not in str(rows)
    assert rows[f"SELECT name FROM {table} WHERE id = ?"]["count"] == 2
    assert rows[f"INSERT INTO {table} (id, name) VALUES (?+)"]["operation"] == "INSERT"


def test_errors_are_counted(kit: Perfkit, connection: Any, table: str) -> None:
    from django.db import DatabaseError

    handle = instrument_django(kit)
    try:
        with pytest.raises(DatabaseError):
            run(connection, f"SELECT * FROM {table}_missing WHERE id = %s", [9])
    finally:
        handle.remove()
    row = fingerprints(kit)[f"SELECT * FROM {table}_missing WHERE id = ?"]
    assert (row["count"], row["errors"]) == (1, 1)


def test_record_queries_only_inside_the_block(kit: Perfkit, django_ready: None) -> None:
    """The context manager wraps this thread's connections for the block only."""
    from django.db import connection

    run(connection, "SELECT 1")
    with record_queries(kit, using="default") as timer:
        run(connection, "SELECT 2 WHERE 3 = %s", [3])
        assert timer in connection.execute_wrappers
    run(connection, "SELECT 4 WHERE 5 = %s", [5])
    assert timer not in connection.execute_wrappers
    assert fingerprints(kit)["SELECT ? WHERE ? = ?"]["count"] == 1
    assert kit.snapshot()["queries"]["summary"]["count"] == 1


def test_already_connected_connections_are_instrumented(kit: Perfkit, django_ready: None) -> None:
    from django.db import connection

    connection.ensure_connection()
    handle = instrument_django(kit)
    try:
        run(connection, "SELECT 6")
    finally:
        handle.remove()
    assert fingerprints(kit)["SELECT ?"]["count"] == 1


def test_missing_django_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "django.db", None)
    with pytest.raises(MissingDependencyError, match=r"perfkit\[django\]"):
        instrument_django()
