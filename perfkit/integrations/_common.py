"""What the database integrations share: turning a statement into text and recording it."""

from __future__ import annotations

from typing import Any

from ..kit import Perfkit, get_kit

__all__ = ["record_query", "statement_text"]


def statement_text(statement: Any, context: Any = None) -> str:
    """The SQL of `statement` as text (str, bytes or a psycopg ``sql.Composable``)."""
    if isinstance(statement, str):
        return statement
    if isinstance(statement, (bytes, bytearray)):
        return bytes(statement).decode("utf-8", "replace")
    as_string = getattr(statement, "as_string", None)
    if callable(as_string) and context is not None:
        try:
            # psycopg composes with the connection's quoting; literals are stripped later
            return str(as_string(context))
        except Exception:
            pass  # an unusable context: fall back to str() below
    return str(statement)


def record_query(
    kit: Perfkit | None,
    statement: Any,
    duration: float,
    error: bool,
    context: Any = None,
) -> None:
    """Record one statement (only its fingerprint is kept); never raises into the caller."""
    target = kit if kit is not None else get_kit()
    try:
        text = statement_text(statement, context)
    except Exception as exc:
        target.errors.report("query text", exc)
        return
    target.record_query_performance(text, duration, error=error)
