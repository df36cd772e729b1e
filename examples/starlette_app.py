"""Starlette example: perfkit added with ``add_middleware``; routes named from the router, no hook.

Run it::

    pip install perfkit starlette uvicorn
    cd examples && uvicorn starlette_app:create_app --factory

Requests are recorded as ``GET /users/{user_id}``; the sqlite3 connection is
wrapped by `perfkit.integrations.dbapi` so every statement is timed; one view
is cached.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from perfkit import Perfkit, PerfkitSettings
from perfkit.asgi import PerfkitMiddleware
from perfkit.cache import cached
from perfkit.integrations.dbapi import instrument_connection


def identify(scope: MutableMapping[str, Any]) -> tuple[str | None, str | None]:
    """Who is asking; a real app reads its session or token here."""
    headers = dict(scope.get("headers") or ())
    user, org = headers.get(b"x-user-id"), headers.get(b"x-org-id")
    return (user.decode("latin-1") if user else None), (org.decode("latin-1") if org else None)


def create_app(database: str | None = None, kit: Perfkit | None = None) -> Starlette:
    """Build the app around a SQLite file (``EXAMPLE_DATABASE`` or ``starlette-example.db``)."""
    kit = kit or Perfkit(PerfkitSettings.from_env())
    path = database or os.environ.get("EXAMPLE_DATABASE", "starlette-example.db")

    def connect() -> Any:
        # one connection per call: sync endpoints run in a thread pool
        return instrument_connection(sqlite3.connect(path), kit)

    conn = connect()
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT)")
        if conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0:
            conn.executemany("INSERT INTO users (name) VALUES (?)", [("ada",), ("grace",)])
    conn.close()

    @cached(ttl=30, key_prefix="user", cache=kit.cache)  # PERFKIT_CACHE_BACKEND etc. apply
    def load_user(user_id: int) -> dict[str, Any] | None:
        conn = connect()
        try:
            row = conn.execute("SELECT id, name FROM users WHERE id = ?", (user_id,)).fetchone()
        finally:
            conn.close()
        return None if row is None else {"id": row[0], "name": row[1]}

    def index(request: Request) -> JSONResponse:
        return JSONResponse({"service": "starlette example"})

    def get_user(request: Request) -> JSONResponse:
        try:
            user_id = int(request.path_params["user_id"])
        except ValueError:
            return JSONResponse({"error": "user_id must be an integer"}, status_code=400)
        user = load_user(user_id)
        if user is None:
            return JSONResponse({"error": "no such user"}, status_code=404)
        return JSONResponse(user)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/users/{user_id}", get_user),
        ]
    )
    app.add_middleware(PerfkitMiddleware, kit=kit, identify=identify)
    app.state.perfkit = kit
    return app
