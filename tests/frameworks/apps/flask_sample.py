"""A Flask app for the integration tests: routes for every outcome, a blueprint, flask-login.

gunicorn: ``gunicorn "flask_sample:create_app(True)"`` (with perfkit) or ``create_app(False)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, jsonify, stream_with_context
from flask_login import LoginManager, UserMixin, login_required, login_user

from perfkit import Perfkit, PerfkitSettings
from perfkit.integrations.flask import init_app


class User(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def create_app(monitored: bool = True, kit: Perfkit | None = None) -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "tests-only"
    logins = LoginManager(app)
    logins.user_loader(User)

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> Any:
        if item_id > 10:
            abort(404)
        return jsonify(id=item_id)

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("broken view")

    @app.get("/unhandled")
    def unhandled() -> Any:
        raise KeyError("no handler for this one")

    @app.errorhandler(500)
    def server_error(error: Exception) -> Any:
        # the app's own answer to its failures: perfkit still learns the exception type
        return jsonify(error="sorry"), 500

    @app.get("/login/<name>")
    def login(name: str) -> Any:
        login_user(User(name))
        return jsonify(ok=True)

    @app.get("/me")
    @login_required
    def me() -> Any:
        return jsonify(me=True)

    @app.get("/stream/<int:n>")
    def stream(n: int) -> Response:
        def chunks() -> Iterator[bytes]:
            for i in range(n):
                yield b"chunk %d\n" % i

        return Response(stream_with_context(chunks()), mimetype="text/plain")

    shop = Blueprint("shop", __name__, url_prefix="/shop")

    @shop.get("/products/<slug>")
    def product(slug: str) -> Any:
        return jsonify(slug=slug)

    app.register_blueprint(shop)
    if monitored:
        init_app(app, kit=kit or Perfkit(PerfkitSettings.from_env()))
    return app
