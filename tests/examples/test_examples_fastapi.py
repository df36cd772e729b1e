"""The FastAPI example: the TestClient and uvicorn; routes (with router prefixes) named."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from perfkit import Perfkit

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

import fastapi_app

with warnings.catch_warnings():
    # starlette >= 1 asks for httpx2 behind its TestClient; httpx does the same job here
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient


def endpoints(kit: Perfkit) -> dict[str, dict[str, object]]:
    return {row["key"]: row for row in kit.snapshot()["requests"]["endpoints"]}


def test_requests_are_named_by_the_route_path(kit: Perfkit, tmp_path: Path) -> None:
    """Path parameters and router prefixes give one series per route."""
    app = fastapi_app.create_app(f"sqlite:///{tmp_path / 'app.db'}", kit=kit)
    with TestClient(app) as client:
        assert client.get("/users/1").json() == {"id": 1}
        assert client.get("/users/2").status_code == 200
        assert client.get("/users/abc").status_code == 422
        assert client.get("/api/items/1").json() == {"id": 1, "name": "pen"}
        assert client.get("/api/items/99").status_code == 404
    rows = endpoints(kit)
    assert rows["GET /users/{user_id}"]["statuses"] == {"200": 2, "422": 1}
    assert rows["GET /api/items/{item_id}"]["statuses"] == {"200": 1, "404": 1}


def test_queries_are_timed_and_the_pool_reported(kit: Perfkit, tmp_path: Path) -> None:
    app = fastapi_app.create_app(f"sqlite:///{tmp_path / 'app.db'}", kit=kit)
    with TestClient(app) as client:
        client.get("/api/items/2")
        count = kit.snapshot()["queries"]["summary"]["count"]
        client.get("/api/items/2")  # cached: no query
    snap = kit.snapshot()
    assert snap["queries"]["summary"]["count"] == count
    fingerprints = [row["fingerprint"] for row in snap["queries"]["fingerprints"]]
    assert any("FROM items WHERE items.id = ?" in f for f in fingerprints), fingerprints
    assert snap["database"]["checked_out"] == 0
    assert "app_database_connections{" in kit.render_metrics()[1].decode()


@pytest.mark.slow
def test_under_uvicorn(
    serve: Callable[..., str], scrape: Callable[..., str], tmp_path: Path
) -> None:
    """Served by uvicorn, the metrics carry the route path template."""
    base = serve(
        ["{python}", "-m", "uvicorn", "--factory", "fastapi_app:create_app",
         "--host", "127.0.0.1", "--port", "{port}"],
        env={"EXAMPLE_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}"},
    )  # fmt: skip
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/api/items/1").json() == {"id": 1, "name": "pen"}
        expected = 'endpoint="/api/items/{item_id}",status="200"} 1'
        metrics = scrape(client, expected)
    assert expected in metrics
