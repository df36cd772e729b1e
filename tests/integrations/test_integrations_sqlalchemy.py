"""SQLAlchemy engine events against real SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfkit import MissingDependencyError, Perfkit

sa = pytest.importorskip("sqlalchemy")

from perfkit.integrations.sqlalchemy import instrument_engine  # noqa: E402


def fingerprints(kit: Perfkit) -> dict[str, dict[str, Any]]:
    return {row["fingerprint"]: row for row in kit.snapshot()["queries"]["fingerprints"]}


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def engine(request: pytest.FixtureRequest, tmp_path: Path, table: str) -> Iterator[Any]:
    """An engine with a QueuePool (size 2, overflow 3) on each database; the table dropped after."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    elif request.param == "postgresql":
        pytest.importorskip("psycopg")
        url = request.getfixturevalue("postgres_url").replace(
            "postgresql://", "postgresql+psycopg://"
        )
    else:
        pytest.importorskip("pymysql")
        url = request.getfixturevalue("mysql_url").replace("mysql://", "mysql+pymysql://")
    engine = sa.create_engine(url, poolclass=sa.pool.QueuePool, pool_size=2, max_overflow=3)
    try:
        yield engine
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        engine.dispose()


def test_statements_are_recorded_as_fingerprints(kit: Perfkit, engine: Any, table: str) -> None:
    """Literal and bound values never reach the recorded query; shapes share a series."""
    handle = instrument_engine(engine, kit)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(50))")
        conn.execute(sa.text(f"INSERT INTO {table} (id, name) VALUES (1, 'secret-literal')"))
        conn.execute(sa.text(f"INSERT INTO {table} (id, name) VALUES (:id, :name)"),
                     [{"id": 2, "name": "secret-bound"}, {"id": 3, "name": "x"}])  # fmt: skip
        for user_id in (1, 2, 3):
            conn.execute(sa.text(f"SELECT name FROM {table} WHERE id = :id"), {"id": user_id})
    handle.remove()
    rows = fingerprints(kit)
    assert "secret" not in str(rows)
    selects = [row for f, row in rows.items() if f.startswith(f"SELECT name FROM {table}")]
    assert len(selects) == 1 and selects[0]["count"] == 3
    assert selects[0]["operation"] == "SELECT"
    inserts = [row for f, row in rows.items() if f.startswith(f"INSERT INTO {table}")]
    assert sum(row["count"] for row in inserts) == 2  # one literal INSERT, one executemany
    assert 'app_db_query_duration_seconds_count{operation="INSERT"} 2' in (
        kit.render_metrics()[1].decode()
    )


def test_failed_statements_are_counted_as_errors(kit: Perfkit, engine: Any, table: str) -> None:
    """The driver's error reaches the caller unchanged, and the statement counts as an error."""
    instrument_engine(engine, kit)
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError):
        conn.execute(sa.text(f"SELECT * FROM {table}_missing WHERE id = :id"), {"id": 5})
    row = fingerprints(kit)[f"SELECT * FROM {table}_missing WHERE id = ?"]
    assert (row["count"], row["errors"]) == (1, 1)
    assert kit.snapshot()["queries"]["summary"]["errors"] == 1


def test_pool_figures_feed_the_gauge_and_the_metrics(kit: Perfkit, engine: Any) -> None:
    """Checked-out connections: the db.connections gauge, the alert metric and the family."""
    handle = instrument_engine(engine, kit, name="main")
    conns = [engine.connect() for _ in range(3)]  # pool_size 2: one overflow connection
    try:
        for conn in conns:
            conn.exec_driver_sql("SELECT 1")
        assert kit.registry.gauges["db.connections"] == 3
        assert kit.alert_metrics()["db.connections"] == 3
        pool = kit.snapshot()["database"]["pools"]["main"]
        assert pool == {"checked_out": 3.0, "size": 2.0, "overflow": 1.0, "idle": 0.0}
        text = kit.render_metrics()[1].decode()
        assert 'app_database_connections{pool="main",state="checked_out"} 3' in text
        assert 'app_database_connections{pool="main",state="overflow"} 1' in text
    finally:
        for conn in conns:
            conn.close()
    assert kit.registry.gauges["db.connections"] == 0
    assert kit.snapshot()["database"]["pools"]["main"]["idle"] == 2
    handle.remove()
    assert kit.snapshot()["database"]["pools"] == {}


def test_remove_detaches_every_listener(kit: Perfkit, engine: Any) -> None:
    handle = instrument_engine(engine, kit)
    handle.remove()
    handle.remove()  # twice is fine
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    assert kit.snapshot()["queries"]["summary"]["count"] == 0


def test_two_engines_are_two_pools_and_one_gauge(kit: Perfkit, tmp_path: Path) -> None:
    """Pool names are made unique; the gauge is the total over every pool."""
    engines = [sa.create_engine(f"sqlite:///{tmp_path / f'{n}.db'}") for n in ("a", "b")]
    handles = [instrument_engine(e, kit, name="db") for e in engines]
    assert [h.pool_name for h in handles] == ["db", "db#2"]
    with engines[0].connect() as first, engines[1].connect() as second:
        first.exec_driver_sql("SELECT 1")
        second.exec_driver_sql("SELECT 1")
        assert kit.alert_metrics()["db.connections"] == 2
    for engine in engines:
        engine.dispose()


def test_not_an_engine_is_a_type_error(kit: Perfkit) -> None:
    with pytest.raises(TypeError, match="Engine"):
        instrument_engine(object(), kit)


def test_missing_sqlalchemy_names_the_extra(kit: Perfkit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # import sqlalchemy -> ImportError
    with pytest.raises(MissingDependencyError, match=r"perfkit\[sqlalchemy\]"):
        instrument_engine(object(), kit)
