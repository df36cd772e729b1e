"""Flask example: perfkit wraps ``app.wsgi_app``; routes are named by Flask's own url rules.

Run it::

    pip install "perfkit[flask,sqlalchemy]" gunicorn
    cd examples && gunicorn "flask_app:create_app()"
    curl localhost:8000/users/1 && curl localhost:8000/perfkit/metrics

Requests are recorded as ``GET /users/<int:user_id>`` (one series for every
user), queries through SQLAlchemy's engine events, and one view is cached.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, abort, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from perfkit import Perfkit, PerfkitSettings
from perfkit.cache import cached
from perfkit.integrations.sqlalchemy import instrument_engine
from perfkit.wsgi import PerfkitMiddleware

ROUTE_KEY = "perfkit.route"  # where the before_request hook leaves the matched rule

metadata = sa.MetaData()
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
)


def flask_route_name(app: Flask) -> Callable[[dict[str, Any]], str | None]:
    """``route_name`` hook: the url rule Flask matched (``/users/<int:user_id>``).

    The rule is remembered in the environ by a ``before_request`` hook; requests
    that never got there (e.g. an earlier hook aborted) are matched again.
    """

    def route_name(environ: dict[str, Any]) -> str | None:
        rule = environ.get(ROUTE_KEY)
        if rule is not None:
            return str(rule)
        try:
            matched, _ = app.url_map.bind_to_environ(environ).match(return_rule=True)
        except HTTPException:
            return None  # 404 and 405: perfkit collapses unmatched paths itself
        return str(matched.rule)

    return route_name


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
    app.extensions["perfkit"] = kit

    @app.before_request
    def remember_route() -> None:
        if request.url_rule is not None:
            request.environ[ROUTE_KEY] = request.url_rule.rule

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

    # the idiomatic place: wrap the WSGI callable, keep `app` a Flask object
    app.wsgi_app = PerfkitMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, kit=kit, route_name=flask_route_name(app), identify=identify
    )
    return app


if __name__ == "__main__":
    create_app().run(port=8000)
