"""The Starlette example: Starlette's TestClient and uvicorn; routes named by the router."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from perfkit import Perfkit

pytest.importorskip("starlette")

import starlette_app

with warnings.catch_warnings():
    # starlette >= 1 asks for httpx2 behind its TestClient; httpx does the same job here
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from starlette.testclient import TestClient


def endpoints(kit: Perfkit) -> dict[str, dict[str, object]]:
    return {row["key"]: row for row in kit.snapshot()["requests"]["endpoints"]}


def test_requests_are_named_by_the_route_path(kit: Perfkit, tmp_path: Path) -> None:
    """``/users/1`` and ``/users/2`` are one series, ``GET /users/{user_id}``."""
    app = starlette_app.create_app(str(tmp_path / "app.db"), kit=kit)
    with TestClient(app) as client:
        assert client.get("/users/1").json() == {"id": 1, "name": "ada"}
        assert client.get("/users/2").status_code == 200
        assert client.get("/users/abc").status_code == 400
        assert client.get("/nothing/here/7").status_code == 404
    rows = endpoints(kit)
    assert rows["GET /users/{user_id}"]["statuses"] == {"200": 2, "400": 1}
    assert not any(key.startswith("GET /users/1") for key in rows)
    assert "/nothing/here" not in str(rows)


def test_dbapi_queries_are_timed_and_the_view_cached(kit: Perfkit, tmp_path: Path) -> None:
    """The sqlite3 statements are recorded as fingerprints; a cached read runs none."""
    app = starlette_app.create_app(str(tmp_path / "app.db"), kit=kit)
    with TestClient(app) as client:
        client.get("/users/2")
        count = kit.snapshot()["queries"]["summary"]["count"]
        client.get("/users/2")
    queries = kit.snapshot()["queries"]
    assert queries["summary"]["count"] == count
    fingerprints = {row["fingerprint"] for row in queries["fingerprints"]}
    assert "SELECT id, name FROM users WHERE id = ?" in fingerprints
    assert "INSERT INTO users (name) VALUES (?)" in fingerprints


def test_identify_reads_the_headers(kit: Perfkit, tmp_path: Path) -> None:
    app = starlette_app.create_app(str(tmp_path / "app.db"), kit=kit)
    with TestClient(app) as client:
        client.get("/", headers={"X-User-ID": "u7", "X-Org-ID": "acme"})
    requests = kit.snapshot()["requests"]
    assert [row["id"] for row in requests["users"]] == ["u7"]
    assert [row["id"] for row in requests["organizations"]] == ["acme"]


@pytest.mark.slow
def test_under_uvicorn(
    serve: Callable[..., str], scrape: Callable[..., str], tmp_path: Path
) -> None:
    """Served by uvicorn, the metrics carry the route path template."""
    base = serve(
        ["{python}", "-m", "uvicorn", "--factory", "starlette_app:create_app",
         "--host", "127.0.0.1", "--port", "{port}"],
        env={"EXAMPLE_DATABASE": str(tmp_path / "served.db")},
    )  # fmt: skip
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/users/1").json() == {"id": 1, "name": "ada"}
        assert client.get("/users/2").status_code == 200
        expected = [
            'app_requests_total{method="GET",endpoint="/users/{user_id}",status="200"} 2',
            'app_db_query_duration_seconds_count{operation="SELECT"}',
        ]
        metrics = scrape(client, *expected)
    for needle in expected:
        assert needle in metrics
