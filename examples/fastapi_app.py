"""FastAPI example: perfkit added with ``add_middleware``; routes named from the router, no hook.

Run it::

    pip install "perfkit[fastapi,sqlalchemy]" uvicorn
    cd examples && uvicorn fastapi_app:create_app --factory

Requests are recorded as ``GET /users/{user_id}`` (router prefixes included),
queries through SQLAlchemy's engine events, and one endpoint is cached.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, HTTPException

from perfkit import Perfkit, PerfkitSettings
from perfkit.asgi import PerfkitMiddleware
from perfkit.cache import cached
from perfkit.integrations.sqlalchemy import instrument_engine

metadata = sa.MetaData()
items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
)


def create_app(database_url: str | None = None, kit: Perfkit | None = None) -> FastAPI:
    """The application factory (``uvicorn fastapi_app:create_app --factory``)."""
    kit = kit or Perfkit(PerfkitSettings.from_env())
    url = database_url or os.environ.get("EXAMPLE_DATABASE_URL", "sqlite:///fastapi-example.db")
    engine = sa.create_engine(url)
    instrument_engine(engine, kit)
    metadata.create_all(engine)
    with engine.begin() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(items)).scalar_one() == 0:
            conn.execute(items.insert(), [{"name": "pen"}, {"name": "ink"}])

    @cached(ttl=30, key_prefix="item", cache=kit.cache)  # PERFKIT_CACHE_BACKEND etc. apply
    def load_item(item_id: int) -> dict[str, Any] | None:
        with engine.connect() as conn:
            row = conn.execute(sa.select(items).where(items.c.id == item_id)).first()
        return None if row is None else {"id": row.id, "name": row.name}

    router = APIRouter(prefix="/api")

    @router.get("/items/{item_id}")
    def get_item(item_id: int) -> dict[str, Any]:
        item = load_item(item_id)
        if item is None:
            raise HTTPException(status_code=404, detail="no such item")
        return item

    app = FastAPI(title="perfkit FastAPI example")

    @app.get("/")
    def index() -> dict[str, str]:
        return {"service": "fastapi example"}

    @app.get("/users/{user_id}")
    def get_user(user_id: int) -> dict[str, Any]:
        # no table behind users: FastAPI's own validation still gives a 422 for "abc"
        return {"id": user_id}

    app.include_router(router)
    app.add_middleware(PerfkitMiddleware, kit=kit)
    app.state.perfkit = kit
    return app
