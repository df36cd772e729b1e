"""Starlette and FastAPI: route templates read from what the router leaves in the scope.

No ``route_name`` hook anywhere: the plain ASGI middleware, as the README wraps it.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")

from fastapi import APIRouter, FastAPI, HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route

from perfkit import Perfkit
from perfkit.asgi import PerfkitMiddleware
from perfkit.metrics.routes import NOT_FOUND
from perfkit.middleware.framework_routes import scope_route
from tests.frameworks._helpers import statuses, uvicorn_server, wait_until

with warnings.catch_warnings():
    # starlette >= 1 asks for httpx2 behind its TestClient; httpx does the same job here
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from starlette.testclient import TestClient


def build_fastapi() -> FastAPI:
    """Routes for 200, 404 from a route, 405, 422 and 500; a router prefix; two mounts."""
    router = APIRouter(prefix="/api")

    @router.get("/items/{item_id:int}")
    def get_item(item_id: int) -> dict[str, int]:
        if item_id > 10:
            raise HTTPException(status_code=404, detail="no such item")
        return {"id": item_id}

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("broken view")

    app = FastAPI()
    app.include_router(router)

    @app.get("/stream/{n}")
    def stream(n: int) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(n):
                yield b"chunk %d\n" % i
                await asyncio.sleep(0)

        return StreamingResponse(chunks(), media_type="text/plain")

    sub = FastAPI()

    @sub.get("/reports/{report_id}")
    def report(report_id: str) -> dict[str, str]:
        return {"report": report_id}

    app.mount("/orgs/{org}", sub)  # a mount whose own path has a parameter

    def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello " + request.path_params["name"])

    async def files(scope: Any, receive: Any, send: Any) -> None:  # a raw ASGI app, e.g. static
        await PlainTextResponse("file " + scope["path"])(scope, receive, send)

    app.mount(
        "/legacy",
        Starlette(routes=[Route("/hello/{name}", hello, methods=["GET"]), Mount("/f", files)]),
    )
    return app


@pytest.fixture
def client(kit: Perfkit) -> TestClient:
    app = PerfkitMiddleware(build_fastapi(), kit=kit)
    return TestClient(app, raise_server_exceptions=False)


def test_templates_for_200_404_405_and_500(kit: Perfkit, client: TestClient) -> None:
    """A 404 the route itself answers keeps the route; only unmatched paths collapse."""
    assert client.get("/api/items/1").json() == {"id": 1}
    assert client.get("/api/items/2").status_code == 200
    assert client.get("/api/items/99").status_code == 404
    assert client.post("/api/items/1").status_code == 405
    assert client.get("/api/items/x").status_code == 404  # the int converter did not match
    assert client.get("/api/boom").status_code == 500
    assert client.get("/nowhere/at/all").status_code == 404
    table = statuses(kit)
    assert table["GET /api/items/{item_id}"] == {"200": 2, "404": 1}
    assert table["POST /api/items/{item_id}"] == {"405": 1}
    assert table["GET /api/boom"] == {"500": 1}
    assert table[f"GET {NOT_FOUND}"] == {"404": 2}
    assert not any("/items/1" in key or "nowhere" in key for key in table)
    assert kit.snapshot()["requests"]["errors"] == {"RuntimeError": 1}


def test_mounts_keep_their_prefix(kit: Perfkit, client: TestClient) -> None:
    """Sub-apps are named with the mount's template in front of the inner route."""
    assert client.get("/orgs/acme/reports/r1").json() == {"report": "r1"}
    assert client.get("/orgs/initech/reports/r2").status_code == 200
    assert client.get("/orgs/acme/nothing").status_code == 404
    assert client.get("/legacy/hello/ada").text == "hello ada"
    assert client.post("/legacy/hello/ada").status_code == 405
    assert client.get("/legacy/f/a.css").text == "file /legacy/f/a.css"
    assert client.get("/legacy/f/b.css").status_code == 200
    table = statuses(kit)
    assert table["GET /orgs/{org}/reports/{report_id}"] == {"200": 2}
    assert table["GET /legacy/hello/{name}"] == {"200": 1}
    assert table["POST /legacy/hello/{name}"] == {"405": 1}
    assert table["GET /legacy/f/{path}"] == {"200": 2}
    assert table[f"GET {NOT_FOUND}"] == {"404": 1}
    assert not any("acme" in key or "initech" in key for key in table)


def test_root_path_is_not_part_of_the_template(kit: Perfkit) -> None:
    """Behind a proxy prefix (``root_path``) the route template is the app's own."""
    client = TestClient(PerfkitMiddleware(build_fastapi(), kit=kit), root_path="/proxy")
    assert client.get("/proxy/api/items/3").status_code == 200
    assert client.get("/proxy/orgs/a/reports/x").status_code == 200
    table = statuses(kit)
    assert table["GET /api/items/{item_id}"] == {"200": 1}
    assert table["GET /orgs/{org}/reports/{report_id}"] == {"200": 1}


def test_a_route_name_hook_still_wins(kit: Perfkit) -> None:
    app = PerfkitMiddleware(build_fastapi(), kit=kit, route_name=lambda scope: "named")
    TestClient(app).get("/api/items/1")
    assert statuses(kit) == {"GET named": {"200": 1}}


def test_starlette_before_1_0_is_found_by_endpoint() -> None:
    """Older Starlette leaves only the endpoint and the outermost router: found in its tree."""

    def leaf(request: Request) -> PlainTextResponse:
        return PlainTextResponse("")

    inner = Route("/v/{n:int}", leaf)
    outer = Starlette(routes=[Mount("/m/{tenant}", routes=[inner])])
    scope = {"endpoint": leaf, "router": outer.router, "root_path": "/m/x"}
    assert scope_route(scope, 200) == "/m/{tenant}/v/{n}"
    assert scope_route({"endpoint": object(), "router": outer.router}, 200) is None
    assert scope_route({}, 404) is None


def test_responses_are_byte_identical_with_and_without_perfkit(kit: Perfkit) -> None:
    """Status, headers (but the added X-Request-ID) and body are the app's own."""
    plain = TestClient(build_fastapi(), raise_server_exceptions=False)
    wrapped = TestClient(PerfkitMiddleware(build_fastapi(), kit=kit), raise_server_exceptions=False)
    for method, path in [
        ("GET", "/api/items/1"), ("GET", "/api/items/99"), ("POST", "/api/items/1"),
        ("GET", "/api/boom"), ("GET", "/stream/3"), ("GET", "/legacy/f/x"), ("GET", "/nope"),
        ("HEAD", "/api/items/1"),
    ]:  # fmt: skip
        a, b = plain.request(method, path), wrapped.request(method, path)
        assert (a.status_code, a.content) == (b.status_code, b.content), path
        b_headers = [(k, v) for k, v in b.headers.multi_items() if k != "x-request-id"]
        assert a.headers.multi_items() == b_headers, path
        assert b.headers["x-request-id"]


def test_fastapi_under_uvicorn_streams_and_sees_disconnects(kit: Perfkit) -> None:
    """A real server: templates, a streamed body chunk by chunk, and a client leaving early."""
    with uvicorn_server(PerfkitMiddleware(build_fastapi(), kit=kit)) as base:
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/api/items/7").json() == {"id": 7}
            assert http.get("/api/items/70").status_code == 404
            assert http.get("/orgs/o1/reports/9").status_code == 200
            with http.stream("GET", "/stream/4") as response:
                assert list(response.iter_lines()) == [f"chunk {i}" for i in range(4)]
            with http.stream("GET", "/stream/100000") as response:
                next(response.iter_bytes())  # then leave in the middle of the body
        # uvicorn closes the connection after an app error: a connection of its own
        assert httpx.get(base + "/api/boom", timeout=10).status_code == 500
        expected = {
            "GET /api/items/{item_id}": {"200": 1, "404": 1},
            "GET /orgs/{org}/reports/{report_id}": {"200": 1},
            "GET /api/boom": {"500": 1},
            "GET /stream/{n}": {"200": 1, "499": 1},
        }
        # each request is recorded after its last byte: the client may be faster
        wait_until(lambda: statuses(kit) == expected, timeout=30)
        table = statuses(kit)
    assert table == expected
    rows = {row["key"]: row for row in kit.snapshot()["requests"]["endpoints"]}
    assert rows["GET /stream/{n}"]["bytes_sent"] >= len(b"chunk 0\n") * 4
