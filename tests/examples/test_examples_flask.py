"""The Flask example: Flask's test client and gunicorn; routes named by Flask's url rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from perfkit import Perfkit

pytest.importorskip("flask")
pytest.importorskip("sqlalchemy")

import flask_app

# buffered=True: the test client reads and closes each response, as a server does;
# perfkit records a request when its body has been sent


def endpoint_keys(kit: Perfkit) -> dict[str, dict[str, object]]:
    return {row["key"]: row for row in kit.snapshot()["requests"]["endpoints"]}


def test_requests_are_named_by_the_url_rule(kit: Perfkit, tmp_path: Path) -> None:
    """Two users are one series, ``GET /users/<int:user_id>``; the 404 of a user too."""
    app = flask_app.create_app(f"sqlite:///{tmp_path / 'app.db'}", kit=kit)
    with app.test_client() as client:
        assert client.get("/users/1", buffered=True).get_json() == {"id": 1, "name": "ada"}
        assert client.get("/users/2", buffered=True).status_code == 200
        assert client.get("/users/999", buffered=True).status_code == 404
        assert client.get("/no/such/page", buffered=True).status_code == 404
    endpoints = endpoint_keys(kit)
    users = endpoints["GET /users/<int:user_id>"]
    assert users["count"] == 3
    assert users["statuses"] == {"200": 2, "404": 1}
    assert not any("/users/1" in key for key in endpoints)
    assert "/no/such/page" not in str(endpoints)  # unmatched paths collapse to one series


def test_queries_are_timed_with_fingerprints(kit: Perfkit, tmp_path: Path) -> None:
    """The SQLAlchemy engine's statements are recorded without their values."""
    app = flask_app.create_app(f"sqlite:///{tmp_path / 'app.db'}", kit=kit)
    with app.test_client() as client:
        assert client.post("/users", json={"name": "secret-name"}, buffered=True).status_code == 201
        assert client.get("/users/3", buffered=True).get_json()["name"] == "secret-name"
    fingerprints = [row["fingerprint"] for row in kit.snapshot()["queries"]["fingerprints"]]
    assert any(f.startswith("INSERT INTO users") for f in fingerprints), fingerprints
    assert any("FROM users" in f and "WHERE users.id = ?" in f for f in fingerprints)
    assert "secret-name" not in str(fingerprints)
    assert kit.snapshot()["database"]["pools"]  # the engine's pool is reported


def test_the_user_view_is_cached(kit: Perfkit, tmp_path: Path) -> None:
    """The second read of one user runs no query."""
    app = flask_app.create_app(f"sqlite:///{tmp_path / 'app.db'}", kit=kit)
    with app.test_client() as client:
        client.get("/users/2", buffered=True)
        before = kit.snapshot()["queries"]["summary"]["count"]
        client.get("/users/2", buffered=True)
    assert kit.snapshot()["queries"]["summary"]["count"] == before
    assert kit.cache.get_stats()["hits"] == 1  # the kit's cache, seen in its snapshot too


def test_identify_names_users_and_organizations(kit: Perfkit, tmp_path: Path) -> None:
    """The example passes its own identify hook to init_app."""
    app = flask_app.create_app(f"sqlite:///{tmp_path / 'app.db'}", kit=kit)
    assert app.extensions["perfkit"] is kit
    with app.test_client() as client:
        client.get("/", headers={"X-User-ID": "u1", "X-Org-ID": "acme"}, buffered=True)
    requests = kit.snapshot()["requests"]
    assert [row["id"] for row in requests["users"]] == ["u1"]
    assert [row["id"] for row in requests["organizations"]] == ["acme"]


@pytest.mark.slow
def test_under_gunicorn(
    serve: Callable[..., str], scrape: Callable[..., str], tmp_path: Path
) -> None:
    """Served by gunicorn, the metrics carry the url rule and the query operations."""
    base = serve(
        ["{python}", "-m", "gunicorn", "--workers", "1", "--bind", "127.0.0.1:{port}",
         "flask_app:create_app()"],
        env={"EXAMPLE_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}"},
    )  # fmt: skip
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/users/1").json() == {"id": 1, "name": "ada"}
        assert client.get("/users/2").status_code == 200
        expected = [
            'app_requests_total{method="GET",endpoint="/users/<int:user_id>",status="200"} 2',
            'app_db_query_duration_seconds_count{operation="SELECT"}',
            "app_database_connections{",
        ]
        metrics = scrape(client, *expected)
    for needle in expected:
        assert needle in metrics
