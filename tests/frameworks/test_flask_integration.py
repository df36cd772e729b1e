"""Flask: ``init_app`` with Flask's test client and under gunicorn; plain WSGI wrapping too."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

pytest.importorskip("flask")
pytest.importorskip("flask_login")

from perfkit import Perfkit, PerfkitSettings
from perfkit.metrics.routes import NOT_FOUND
from perfkit.wsgi import PerfkitMiddleware
from tests.frameworks._helpers import gunicorn_server, metrics_after_leaving_a_stream, statuses

APPS = Path(__file__).resolve().parent / "apps"
sys.path.insert(0, str(APPS))

import flask_sample  # noqa: E402


def test_templates_for_200_404_405_and_500(kit: Perfkit) -> None:
    """The url rule names the request, also for abort(404) in the route and for a 405."""
    with flask_sample.create_app(kit=kit).test_client() as client:
        assert client.get("/items/1", buffered=True).get_json() == {"id": 1}
        assert client.get("/items/99", buffered=True).status_code == 404
        assert client.post("/items/1", buffered=True).status_code == 405
        assert client.get("/boom", buffered=True).get_json() == {"error": "sorry"}
        assert client.get("/shop/products/blue-shoes", buffered=True).status_code == 200
        assert client.get("/no/such/page", buffered=True).status_code == 404
    table = statuses(kit)
    assert table["GET /items/<int:item_id>"] == {"200": 1, "404": 1}
    assert table["POST /items/<int:item_id>"] == {"405": 1}
    assert table["GET /boom"] == {"500": 1}
    assert table["GET /shop/products/<slug>"] == {"200": 1}
    assert table[f"GET {NOT_FOUND}"] == {"404": 1}
    assert not any("blue-shoes" in key or "/items/1" in key for key in table)


def test_exception_types_even_when_an_error_handler_answers(kit: Perfkit) -> None:
    """Flask turns the exception into a 500 itself; its signal still names the type."""
    with flask_sample.create_app(kit=kit).test_client() as client:
        for _ in range(3):
            client.get("/boom", buffered=True)
        client.get("/unhandled", buffered=True)
        client.get("/items/99", buffered=True)  # an HTTP error is an answer, not an exception
    assert kit.snapshot()["requests"]["errors"] == {"RuntimeError": 3, "KeyError": 1}
    assert 'app_errors_total{type="RuntimeError"} 3' in kit.render_metrics()[1].decode()


def test_the_flask_login_user_is_recorded(kit: Perfkit) -> None:
    with flask_sample.create_app(kit=kit).test_client() as client:
        client.get("/me", buffered=True)  # anonymous: 401, no user
        client.get("/login/ada", buffered=True)
        assert client.get("/me", buffered=True).status_code == 200
    users = {row["id"]: row["count"] for row in kit.snapshot()["requests"]["users"]}
    assert users == {"ada": 2}  # the login request itself and /me


def test_users_are_pseudonymised_when_configured() -> None:
    kit = Perfkit(PerfkitSettings(user_id_hash_key="k" * 32))
    with flask_sample.create_app(kit=kit).test_client() as client:
        client.get("/login/ada", buffered=True)
    [user] = kit.snapshot()["requests"]["users"]
    assert user["id"] != "ada" and "ada" not in str(kit.snapshot())


def test_the_perfkit_endpoints_are_served(kit: Perfkit) -> None:
    with flask_sample.create_app(kit=kit).test_client() as client:
        client.get("/items/2", buffered=True)
        metrics = client.get("/perfkit/metrics", buffered=True)
        health = client.get("/perfkit/health/live", buffered=True)
    assert 'endpoint="/items/<int:item_id>"' in metrics.get_data(as_text=True)
    assert health.status_code == 200 and health.get_json()


def test_init_app_twice_is_refused(kit: Perfkit) -> None:
    from perfkit.errors import ConfigError
    from perfkit.integrations.flask import init_app

    app = flask_sample.create_app(kit=kit)
    with pytest.raises(ConfigError, match="init_app was already called for the Flask app"):
        init_app(app, kit=kit)


def test_plain_wsgi_wrapping_reads_the_rule_werkzeug_left(kit: Perfkit) -> None:
    """No init_app: the WSGI middleware alone finds Flask's url rule in the environ."""
    app = flask_sample.create_app(monitored=False)
    app.wsgi_app = PerfkitMiddleware(app.wsgi_app, kit=kit)  # type: ignore[method-assign]
    with app.test_client() as client:
        client.get("/items/3", buffered=True)
        client.get("/items/30", buffered=True)
        client.get("/nothing", buffered=True)
    table = statuses(kit)
    assert table["GET /items/<int:item_id>"] == {"200": 1, "404": 1}
    assert table[f"GET {NOT_FOUND}"] == {"404": 1}


def test_responses_are_byte_identical_with_and_without_perfkit(kit: Perfkit) -> None:
    plain = flask_sample.create_app(monitored=False).test_client()
    wrapped = flask_sample.create_app(kit=kit).test_client()
    for method, path in [
        ("GET", "/items/1"), ("GET", "/items/99"), ("POST", "/items/1"), ("GET", "/boom"),
        ("GET", "/unhandled"), ("GET", "/stream/5"), ("GET", "/nothing"), ("HEAD", "/items/1"),
    ]:  # fmt: skip
        a = plain.open(path, method=method, buffered=True)
        b = wrapped.open(path, method=method, buffered=True)
        assert (a.status, a.get_data()) == (b.status, b.get_data()), path
        b_headers = [(k, v) for k, v in b.headers if k != "X-Request-ID"]
        assert list(a.headers) == b_headers, path


def test_under_gunicorn_streaming_and_disconnects(tmp_path: Path) -> None:
    """A real server: templates, errors, a streamed body, a client leaving mid-body."""
    with (
        gunicorn_server("flask_sample:create_app(True)", APPS, tmp_path) as base,
        httpx.Client(base_url=base, timeout=10) as http,
    ):
        assert http.get("/items/4").json() == {"id": 4}
        assert http.get("/items/44").status_code == 404
        assert http.post("/items/4").status_code == 405
        assert http.get("/boom").status_code == 500
        text = metrics_after_leaving_a_stream(http, 2000000)
    assert text, "the disconnect was never recorded"
    for needle in [
        'endpoint="/items/<int:item_id>",status="200"} 1',
        'endpoint="/items/<int:item_id>",status="404"} 1',
        'endpoint="/items/<int:item_id>",status="405"} 1',
        'endpoint="/boom",status="500"} 1',
        'endpoint="/stream/<int:n>",status="200"} 1',
        'endpoint="/stream/<int:n>",status="499"} 1',
        'app_errors_total{type="RuntimeError"} 1',
    ]:
        assert needle in text, needle
