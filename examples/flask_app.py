"""Flask example: ``init_app(app, kit=kit)``; routes are named by Flask's own url rules.

Run it::

    pip install "perfkit[flask,sqlalchemy]" gunicorn
    cd examples && gunicorn "flask_app:create_app()"
    curl localhost:8000/users/1 && curl localhost:8000/perfkit/metrics

Requests are recorded as ``GET /users/<int:user_id>`` (one series for every
user, the view's own 404s included), exceptions by type even when Flask answers
them, queries through SQLAlchemy's engine events, and one view is cached.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from flask import Flask, abort, jsonify, request
from flask.typing import ResponseReturnValue

from perfkit import Perfkit, PerfkitSettings
from perfkit.cache import cached
from perfkit.integrations.flask import init_app
from perfkit.integrations.sqlalchemy import instrument_engine

metadata = sa.MetaData()
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
)


def identify(environ: dict[str, Any]) -> tuple[str | None, str | None]:
    """Who is asking; a real app reads its session or token here."""
    return environ.get("HTTP_X_USER_ID"), environ.get("HTTP_X_ORG_ID")


def create_app(database_url: str | None = None, kit: Perfkit | None = None) -> Flask:
    """The application factory (gunicorn: ``"flask_app:create_app()"``)."""
    kit = kit or Perfkit(PerfkitSettings.from_env())
    url = database_url or os.environ.get("EXAMPLE_DATABASE_URL", "sqlite:///flask-example.db")
    engine = sa.create_engine(url)
    instrument_engine(engine, kit)
    metadata.create_all(engine)
    with engine.begin() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one() == 0:
            conn.execute(users.insert(), [{"name": "ada"}, {"name": "grace"}])

    app = Flask(__name__)

    @cached(ttl=30, key_prefix="user", cache=kit.cache)  # PERFKIT_CACHE_BACKEND etc. apply
    def load_user(user_id: int) -> dict[str, Any] | None:
        with engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
        return None if row is None else {"id": row.id, "name": row.name}

    @app.get("/")
    def index() -> ResponseReturnValue:
        return jsonify(service="flask example")

    @app.get("/users/<int:user_id>")
    def get_user(user_id: int) -> ResponseReturnValue:
        user = load_user(user_id)
        if user is None:
            abort(404)
        return jsonify(user)

    @app.post("/users")
    def create_user() -> ResponseReturnValue:
        name = (request.get_json(silent=True) or {}).get("name")
        if not isinstance(name, str) or not name:
            return jsonify(error="name is required"), 400
        with engine.begin() as conn:
            new_id = conn.execute(users.insert().values(name=name)).inserted_primary_key[0]
        return jsonify(id=new_id, name=name), 201

    # wraps app.wsgi_app and connects to Flask's signals; the kit is app.extensions["perfkit"]
    init_app(app, kit=kit, identify=identify)
    return app


if __name__ == "__main__":
    create_app().run(port=8000)
