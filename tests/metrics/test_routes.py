"""Route templating and SQL fingerprinting."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfkit.metrics.routes import RouteTemplater, normalize_method
from perfkit.metrics.sql import fingerprint_sql


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/users/123", "/users/{id}"),
        ("/users/123/orders/550e8400-e29b-41d4-a716-446655440000", "/users/{id}/orders/{uuid}"),
        ("/reports/2026-11-22", "/reports/{date}"),
        ("/blobs/9f86d081884c7d659a2feaa0c55ad015", "/blobs/{hash}"),
        ("/t/eyJhbGciOiJIUzI1NiIsInR5cCI6", "/t/{token}"),
        ("/static/app.js", "/static/app.js"),
        ("/api/v1/items", "/api/v1/items"),
        ("/", "/"),
        ("", "/"),
    ],
)
def test_ids_become_placeholders(path: str, expected: str) -> None:
    assert RouteTemplater().template(path) == expected


@given(st.integers(0, 10**18), st.uuids())
def test_any_numeric_or_uuid_id_collapses(number: int, value: uuid.UUID) -> None:
    templater = RouteTemplater()
    assert templater.template(f"/a/{number}/b/{value}") == "/a/{id}/b/{uuid}"
    # without dashes a UUID cannot be told from a 128-bit hash
    assert templater.template(f"/a/{number}/b/{value.hex}") in (
        "/a/{id}/b/{hash}",
        "/a/{id}/b/{id}",
    )


@given(st.text(max_size=5000))
def test_templating_is_bounded_and_idempotent(path: str) -> None:
    """Any input gives a path of bounded length; templating a template changes nothing."""
    templater = RouteTemplater(max_path_length=64)
    result = templater.template(path)
    assert result.startswith("/")
    assert len(result) <= 64
    assert templater.template(result) == result


def test_cache_stays_bounded() -> None:
    templater = RouteTemplater(cache_size=100)
    for i in range(1000):
        templater.template(f"/page-{i}x")
    assert len(templater._cache) <= 100


@pytest.mark.parametrize(
    ("method", "expected"),
    [("GET", "GET"), ("post", "POST"), ("BREW", "OTHER"), ("", "OTHER"), ("G\x00ET", "OTHER")],
)
def test_methods_are_bounded(method: str, expected: str) -> None:
    assert normalize_method(method) == expected


@pytest.mark.parametrize(
    ("sql", "fingerprint", "operation"),
    [
        ("SELECT * FROM t WHERE id = 1", "SELECT * FROM t WHERE id = ?", "SELECT"),
        ("select * from t where name = 'o''brien'", "select * from t where name = ?", "SELECT"),
        ("SELECT a FROM b WHERE c IN (1, 2, 3)", "SELECT a FROM b WHERE c IN (?+)", "SELECT"),
        ("INSERT INTO t VALUES (1, 'a'), (2, 'b')", "INSERT INTO t VALUES (?+)", "INSERT"),
        ("UPDATE t SET a = %s WHERE id = %(id)s", "UPDATE t SET a = ? WHERE id = ?", "UPDATE"),
        ("DELETE FROM t WHERE x = $1 -- note", "DELETE FROM t WHERE x = ?", "DELETE"),
        ("WITH x AS (SELECT 1) DELETE FROM t", "WITH x AS (SELECT ?) DELETE FROM t", "DELETE"),
        ("VACUUM", "VACUUM", "OTHER"),
        ("select * from t2 where y = :name", "select * from t2 where y = ?", "SELECT"),
    ],
)
def test_sql_fingerprints(sql: str, fingerprint: str, operation: str) -> None:
    assert fingerprint_sql(sql) == (fingerprint, operation)


@given(
    st.integers(-(10**12), 10**12),
    st.text(alphabet=st.characters(blacklist_characters="'\\"), max_size=30),
)
def test_literal_values_never_reach_the_fingerprint(number: int, text: str) -> None:
    first, _ = fingerprint_sql(f"SELECT * FROM users WHERE id = {number} AND name = '{text}'")
    second, _ = fingerprint_sql("SELECT * FROM users WHERE id = 7 AND name = 'x'")
    assert first == second
