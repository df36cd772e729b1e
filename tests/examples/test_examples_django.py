"""The Django example: Django's test Client, the wrapped wsgi.py/asgi.py apps, gunicorn, uvicorn."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from perfkit import Perfkit

pytest.importorskip("django")

DJANGO_ENV = {"DJANGO_SETTINGS_MODULE": "django_project.settings"}


@pytest.fixture
def views(django_ready: None) -> Iterator[object]:
    from django_project import views

    views.load_user.clear_cache()  # the cache is module-level: start every test cold
    yield views
    views.load_user.clear_cache()


# `views` (Django set up, its app making a default kit) before `default_kit` replaces it


def endpoints(kit: Perfkit) -> dict[str, dict[str, object]]:
    return {row["key"]: row for row in kit.snapshot()["requests"]["endpoints"]}


def test_requests_are_named_by_the_url_pattern(views: object, default_kit: Perfkit) -> None:
    """perfkit's middleware (settings.MIDDLEWARE) names requests by the resolver's route."""
    from django.test import Client

    client = Client()
    assert client.get("/users/1").status_code == 200
    assert client.get("/users/2").status_code == 200
    assert client.get("/users/404").status_code == 404  # the view's own 404 keeps its route
    assert client.get("/api/status").json() == {"users": 2}
    assert client.get("/missing/9").status_code == 404
    rows = endpoints(default_kit)
    assert rows["GET /users/<int:user_id>"]["statuses"] == {"200": 2, "404": 1}
    assert rows["GET /api/status"]["count"] == 1
    assert "/missing" not in str(rows)


def test_test_client_queries_are_recorded(views: object, default_kit: Perfkit) -> None:
    """Django's own Client: the app config's instrument_django() times the raw SQL."""
    from django.test import Client

    client = Client()
    assert client.get("/users/1").json() == {"id": 1, "name": "ada"}
    assert client.get("/users/1").status_code == 200  # cached: no second SELECT
    assert client.get("/users/404").status_code == 404
    rows = {row["fingerprint"]: row for row in default_kit.snapshot()["queries"]["fingerprints"]}
    assert rows["SELECT id, name FROM users WHERE id = ?"]["count"] == 2  # ids 1 and 404


def test_wsgi_application_is_monitored(views: object, default_kit: Perfkit) -> None:
    """The app of wsgi.py is Django's own handler: the middleware inside it records."""
    from django_project.wsgi import application

    transport = httpx.WSGITransport(app=application)
    with httpx.Client(transport=transport, base_url="http://testserver") as client:
        assert client.get("/users/2").json() == {"id": 2, "name": "grace"}
        assert client.get("/perfkit/health/live").status_code == 200  # served by the middleware
    assert endpoints(default_kit)["GET /users/<int:user_id>"]["count"] == 1


def test_asgi_application_is_monitored(views: object, default_kit: Perfkit) -> None:
    """The app of asgi.py, driven by an ASGI test client (the middleware runs async)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from starlette.testclient import TestClient
    from django_project.asgi import application

    # not `with TestClient(...)`: that sends lifespan events, which Django refuses
    client = TestClient(application, base_url="http://testserver")
    try:
        assert client.get("/users/2").status_code == 200
        assert client.get("/users/1").status_code == 200
    finally:
        client.close()
    assert endpoints(default_kit)["GET /users/<int:user_id>"]["statuses"] == {"200": 2}


@pytest.mark.slow
def test_wsgi_py_under_gunicorn(serve: Callable[..., str], scrape: Callable[..., str]) -> None:
    base = serve(
        ["{python}", "-m", "gunicorn", "--workers", "1", "--bind", "127.0.0.1:{port}",
         "django_project.wsgi"],
        env=DJANGO_ENV,
    )  # fmt: skip
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/users/1").json() == {"id": 1, "name": "ada"}
        assert client.get("/users/2").status_code == 200
        expected = [
            'endpoint="/users/<int:user_id>",status="200"} 2',
            'app_db_query_duration_seconds_count{operation="SELECT"}',
        ]
        metrics = scrape(client, *expected)
    for needle in expected:
        assert needle in metrics


@pytest.mark.slow
def test_asgi_py_under_uvicorn(
    serve: Callable[..., str], scrape: Callable[..., str], tmp_path: Path
) -> None:
    base = serve(
        ["{python}", "-m", "uvicorn", "django_project.asgi:application",
         "--host", "127.0.0.1", "--port", "{port}"],
        env={**DJANGO_ENV, "EXAMPLE_DATABASE": str(tmp_path / "served.db")},
    )  # fmt: skip
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/users/2").json() == {"id": 2, "name": "grace"}
        expected = [
            'endpoint="/users/<int:user_id>",status="200"} 1',
            'app_db_query_duration_seconds_count{operation="SELECT"}',
        ]
        metrics = scrape(client, *expected)
    for needle in expected:
        assert needle in metrics
