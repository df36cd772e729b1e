"""Django: perfkit's app and middleware with Django's own test Client (WSGI and ASGI).

The project with PostgreSQL, gunicorn and the management commands as
subprocesses is in test_django_project.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("django")

from perfkit import Perfkit, PerfkitSettings
from perfkit.errors import ConfigError
from perfkit.integrations.django.conf import perfkit_settings
from perfkit.metrics.routes import NOT_FOUND
from tests.frameworks._helpers import statuses


def test_templates_for_200_404_405_and_500(django_site: Perfkit) -> None:
    """``resolver_match.route`` names requests; an Http404 from the view keeps its route."""
    from django.test import Client

    client = Client(raise_request_exception=False)
    assert client.get("/items/1").json() == {"id": 1, "next": 2}
    assert client.get("/items/99").status_code == 404
    assert client.post("/items/1").status_code == 405
    assert client.get("/boom").status_code == 500
    assert client.get("/shop/products/blue-shoes").json() == {"slug": "blue-shoes"}
    assert client.get("/no/such/page").status_code == 404
    table = statuses(django_site)
    assert table["GET /items/<int:item_id>"] == {"200": 1, "404": 1}
    assert table["POST /items/<int:item_id>"] == {"405": 1}
    assert table["GET /boom"] == {"500": 1}
    assert table["GET /shop/products/<slug:slug>"] == {"200": 1}
    assert table[f"GET {NOT_FOUND}"] == {"404": 1}
    # Http404 is Django's answer, the RuntimeError a failure
    assert django_site.snapshot()["requests"]["errors"] == {"RuntimeError": 1}


def test_request_body_sizes_are_recorded(django_site: Perfkit) -> None:
    """The declared Content-Length reaches the record under Django too (as under plain WSGI)."""
    from django.test import Client

    def received() -> int:
        rows = django_site.snapshot()["requests"]["endpoints"]
        row = next((r for r in rows if r["key"] == "POST /items/<int:item_id>"), None)
        return 0 if row is None else int(row["bytes_received"])

    before = received()
    body = b"x" * 321
    Client().post("/items/1", data=body, content_type="application/octet-stream")
    assert received() - before == len(body)


def test_queries_are_timed_without_setup(django_site: Perfkit) -> None:
    """The app wired query timing: the view's SQL is in the kit, without its values."""
    from django.test import Client

    Client().get("/items/5")
    fingerprints = [r["fingerprint"] for r in django_site.snapshot()["queries"]["fingerprints"]]
    assert any(f.startswith("SELECT ?") for f in fingerprints), fingerprints


def test_users_come_from_request_user(django_site: Perfkit) -> None:
    from django.test import Client

    client = Client()
    client.get("/me", headers={"X-User": "u-7"})
    client.get("/items/1", headers={"X-User": "u-7"})
    client.get("/me")  # anonymous
    users = {row["id"]: row["count"] for row in django_site.snapshot()["requests"]["users"]}
    assert users == {"u-7": 2}


def test_streaming_is_timed_to_the_last_chunk(django_site: Perfkit) -> None:
    from django.test import Client

    response = Client().get("/stream/3")
    assert b"".join(response.streaming_content) == b"chunk 0\nchunk 1\nchunk 2\n"
    response.close()
    [row] = [r for r in django_site.snapshot()["requests"]["endpoints"] if "stream" in r["key"]]
    assert row["key"] == "GET /stream/<int:n>" and row["statuses"] == {"200": 1}
    assert row["bytes_sent"] == len(b"chunk 0\nchunk 1\nchunk 2\n")


def test_the_perfkit_endpoints_are_served_by_the_middleware(django_site: Perfkit) -> None:
    from django.test import Client

    client = Client()
    client.get("/items/2")
    metrics = client.get("/perfkit/metrics")
    assert metrics.status_code == 200
    assert 'endpoint="/items/<int:item_id>"' in metrics.content.decode()
    assert client.get("/perfkit/health").json()["status"]
    # no token, not loopback (the test client's REMOTE_ADDR is 127.0.0.1: use another)
    denied = client.get("/perfkit/api/snapshot", REMOTE_ADDR="203.0.113.9")
    assert denied.status_code == 403 and denied.json()["error"] == "forbidden"
    assert "GET /perfkit" not in str(statuses(django_site))  # perfkit's own are not counted


def test_the_asgi_handler_uses_the_async_path(django_site: Perfkit) -> None:
    """Under Django's ASGI handler the middleware runs async (no thread hop of its own)."""
    from django.test import AsyncClient

    async def run() -> None:
        client = AsyncClient(raise_request_exception=False)
        assert (await client.get("/items/3")).status_code == 200
        assert (await client.get("/items/30")).status_code == 404
        assert (await client.get("/boom")).status_code == 500
        assert (await client.get("/me", headers={"X-User": "async-user"})).status_code == 200

    asyncio.run(run())
    table = statuses(django_site)
    assert table["GET /items/<int:item_id>"] == {"200": 1, "404": 1}
    assert table["GET /boom"] == {"500": 1}
    snap = django_site.snapshot()["requests"]
    assert snap["errors"] == {"RuntimeError": 1}
    assert [row["id"] for row in snap["users"]] == ["async-user"]


def test_responses_are_byte_identical_with_and_without_perfkit(django_site: Perfkit) -> None:
    from django.test import Client
    from django.test.utils import override_settings

    paths = ["/items/1", "/items/99", "/boom", "/stream/4", "/nowhere", "/shop/products/x"]
    paths.append("/download")
    wrapped = [Client(raise_request_exception=False).get(p) for p in paths]
    with override_settings(MIDDLEWARE=["djsite.views.HeaderUser"]):
        plain = [Client(raise_request_exception=False).get(p) for p in paths]
    for path, a, b in zip(paths, plain, wrapped, strict=True):
        body_a = b"".join(a.streaming_content) if a.streaming else a.content
        body_b = b"".join(b.streaming_content) if b.streaming else b.content
        assert (a.status_code, body_a) == (b.status_code, body_b), path
        headers_b = {k: v for k, v in b.headers.items() if k != "X-Request-ID"}
        assert dict(a.headers) == headers_b, path
        assert b.headers["X-Request-ID"]


def test_settings_come_from_settings_perfkit_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PERFKIT_SLOW_REQUEST_THRESHOLD", "3")
    monkeypatch.setenv("PERFKIT_APP_NAME", "from-env")
    settings = perfkit_settings(SimpleNamespace(PERFKIT={"SLOW_REQUEST_THRESHOLD": 0.5}))
    assert (settings.slow_request_threshold, settings.app_name) == (0.5, "from-env")
    assert perfkit_settings(SimpleNamespace()) == PerfkitSettings.from_env()
    with pytest.raises(ConfigError, match="unknown key 'TOKN'"):
        perfkit_settings(SimpleNamespace(PERFKIT={"TOKN": "x"}))
    with pytest.raises(ConfigError, match=r"settings\.PERFKIT: .*max_endpoints"):
        perfkit_settings(SimpleNamespace(PERFKIT={"max_endpoints": "many"}))
    with pytest.raises(ConfigError, match="must be a dict"):
        perfkit_settings(SimpleNamespace(PERFKIT=["token"]))


def test_manage_py_perfkit_answers_locally(
    django_site: Perfkit, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``call_command("perfkit", ...)``: the CLI's commands against the project's kit,
    with no HTTP and no token (even when a token is configured)."""
    from django.core.management import call_command
    from django.test import Client

    django_site.update_settings(token="s3cret-token-for-the-api")
    Client().get("/items/1")
    Client(raise_request_exception=False).get("/boom")

    call_command("perfkit", "summary", "--json")
    summary = json.loads(capsys.readouterr().out)
    assert {row["key"] for row in summary["top_endpoints"]} == {
        "GET /items/<int:item_id>",
        "GET /boom",
    }

    exported = tmp_path / "export.json"
    call_command("perfkit", "export-metrics", "--output-file", str(exported))
    assert json.loads(exported.read_text())["snapshot"]["requests"]["errors"] == {"RuntimeError": 1}

    call_command(
        "perfkit", "export-metrics", "--format", "prometheus", "--output-file", str(exported)
    )
    assert 'endpoint="/boom",status="500"} 1' in exported.read_text()

    call_command("perfkit", "reset-counters")
    assert django_site.snapshot()["requests"]["summary"]["count"] == 0

    with pytest.raises(SystemExit) as exited:
        call_command("perfkit", "test-alert", "--rule-name", "no-such-rule")
    assert exited.value.code != 0
    assert "no alert rule named 'no-such-rule'" in capsys.readouterr().err

    with pytest.raises(SystemExit) as exited:
        call_command("perfkit", "summary", "--hours", "0")
    assert exited.value.code == 2 and "expected hours in 1..720, got 0" in capsys.readouterr().err
