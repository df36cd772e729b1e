"""SQL fingerprints keep no literal, whatever the quoting; the memo stays small in bytes."""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfkit.metrics.sql import fingerprint_sql


@pytest.mark.parametrize(
    ("sql", "fingerprint"),
    [
        (
            'SELECT * FROM u WHERE name = "alice" AND age > 3',
            "SELECT * FROM u WHERE name = ? AND age > ?",
        ),
        (
            'SELECT * FROM u WHERE name = "bob" OR id = 2',
            "SELECT * FROM u WHERE name = ? OR id = ?",
        ),
        (
            'SELECT * FROM u WHERE name = "carol" LIMIT 1',
            "SELECT * FROM u WHERE name = ? LIMIT ?",
        ),
        (
            "SELECT * FROM n WHERE body = 'it\\'s secret' AND id = 1",
            "SELECT * FROM n WHERE body = ? AND id = ?",
        ),
        (
            "SELECT $tag$very secret$tag$ AS x",
            "SELECT ? AS x",
        ),
        (
            "SELECT $$ secret $$, 1",
            "SELECT ?, ?",
        ),
        (
            "SELECT E'a\\'secret' FROM t",
            "SELECT ? FROM t",
        ),
        (
            "SELECT 'never closed secret",
            "SELECT ?",
        ),
        (
            "SELECT 1 /* 'secret' */ FROM t",
            "SELECT ? FROM t",
        ),
        (
            "SELECT '--not a comment' FROM t WHERE a = 'x'",
            "SELECT ? FROM t WHERE a = ?",
        ),
        (
            'SELECT "name" FROM "users" WHERE "users"."id" = 1',
            'SELECT "name" FROM "users" WHERE "users"."id" = ?',
        ),
        (
            'SELECT * FROM t WHERE x IN ("a", "b") ORDER BY "c" DESC',
            'SELECT * FROM t WHERE x IN (?+) ORDER BY "c" DESC',
        ),
    ],
)
def test_literals_in_every_quoting_are_replaced(sql: str, fingerprint: str) -> None:
    assert fingerprint_sql(sql)[0] == fingerprint


_secret = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=6, max_size=20)
_forms = st.sampled_from(
    [
        "SELECT * FROM t WHERE a = '{s}' AND b = 1",
        'SELECT * FROM t WHERE a = "{s}" AND b = 1',
        'SELECT * FROM t WHERE a = "{s}" OR b = 1',
        'SELECT * FROM t WHERE a LIKE "%{s}%" LIMIT 5',
        "SELECT * FROM t WHERE a = 'x\\'{s}' AND b = 1",
        "SELECT * FROM t WHERE a = 'x''{s}' AND b = 1",
        "SELECT $q${s}$q$",
        "SELECT $${s}$$ FROM t",
        "INSERT INTO t (a, b) VALUES (\"{s}\", '{s}')",
        'UPDATE t SET a = "{s}" WHERE id = 3',
        "SELECT CASE WHEN a THEN \"{s}\" ELSE 'z' END FROM t",
        'SELECT * FROM t WHERE a BETWEEN "{s}" AND "{s}"',
    ]
)


@given(_forms, _secret)
def test_no_literal_ever_reaches_the_fingerprint(form: str, secret: str) -> None:
    """Property: the literal text never appears in the fingerprint."""
    assert secret not in fingerprint_sql(form.format(s=secret))[0]


def test_the_memo_is_bounded_in_bytes_not_only_in_count() -> None:
    """300 distinct 64 KiB statements: the memo keeps digests, not the texts (19 MiB)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(300):
            statement = f"INSERT INTO big VALUES ({n}, '" + "x" * 65_536 + "')"
            assert fingerprint_sql(statement)[0] == "INSERT INTO big VALUES (?+)"
            del statement
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 4 * 1024 * 1024, f"the memo kept {grown / 2**20:.1f} MiB"


def test_a_long_statement_is_still_remembered() -> None:
    """Keyed by digest: the same long text gives the same answer (from the memo)."""
    statement = "SELECT * FROM t WHERE a IN (" + ", ".join(map(str, range(5000))) + ")"
    assert fingerprint_sql(statement) == fingerprint_sql(statement)
    assert fingerprint_sql(statement)[0] == "SELECT * FROM t WHERE a IN (?+)"
