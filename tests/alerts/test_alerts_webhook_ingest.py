"""POST /api/alerts/webhook over a real server: the PRS guide's example payload sent verbatim
(strings inside `metrics`), and who may send it (a valid signature alone, or the token)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.alerts.notifiers import sign
from perfkit.wsgi import PerfkitMiddleware
from tests.conftest import serve_wsgi

# The PRS guide's example, byte for byte as a sender would post it.
PRS_EXAMPLE = b"""{
  "name": "high_cpu_usage",
  "severity": "critical",
  "message": "CPU usage above 90% on web-01",
  "labels": {"host": "web-01", "service": "api", "environment": "production"},
  "metrics": {"cpu": "95%", "memory": "72.5%", "load_average": "3.2", "status": "degraded"}
}"""


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


@pytest.fixture
def service() -> Iterator[tuple[Perfkit, str]]:
    kit = Perfkit(PerfkitSettings(token="admin-token", alert_webhook_secret="hook-secret"))
    with serve_wsgi(PerfkitMiddleware(app, kit)) as port:
        yield kit, f"http://127.0.0.1:{port}/perfkit/api/alerts/webhook"
    kit.alerts.stop()


def send(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_guides_example_signed_without_a_token_is_accepted_as_written(
    service: tuple[Perfkit, str],
) -> None:
    """A valid X-Perfkit-Signature alone authenticates; string metrics are read."""
    kit, url = service
    status, body = send(url, PRS_EXAMPLE, {"X-Perfkit-Signature": sign("hook-secret", PRS_EXAMPLE)})
    assert status == 200, body
    accepted = body["accepted"]
    assert (accepted["name"], accepted["severity"], accepted["source"]) == (
        "high_cpu_usage", "critical", "external",
    )  # fmt: skip
    assert accepted["value"] == 95.0  # the first number: "95%"
    assert accepted["metrics"] == {
        "cpu": 95.0, "memory": 72.5, "load_average": 3.2, "status": "degraded",
    }  # fmt: skip
    assert accepted["labels"] == {"host": "web-01", "service": "api", "environment": "production"}
    (active,) = kit.alerts.get_active_alerts()
    assert active.message == "CPU usage above 90% on web-01"


def test_who_may_send(service: tuple[Perfkit, str]) -> None:
    """Unsigned needs the token; a bad signature is refused even with the token."""
    _, url = service
    token = {"Authorization": "Bearer admin-token"}
    assert send(url, PRS_EXAMPLE, {})[0] == 401
    status, body = send(url, PRS_EXAMPLE, {"X-Perfkit-Signature": "sha256=00"})
    assert (status == 401 and body["error"] == "unauthorized") or body["error"] == "bad_signature"
    status, body = send(url, PRS_EXAMPLE, {**token, "X-Perfkit-Signature": "sha256=00"})
    assert (status, body["error"]) == (401, "bad_signature")
    other = sign("hook-secret", PRS_EXAMPLE + b" ")  # signs another body
    assert send(url, PRS_EXAMPLE, {"X-Perfkit-Signature": other})[0] == 401
    assert send(url, PRS_EXAMPLE, {"X-Perfkit-Signature": sign("guess", PRS_EXAMPLE)})[0] == 401
    assert send(url, PRS_EXAMPLE, token)[0] == 200  # unsigned, with the token


def test_without_a_secret_a_signature_is_no_credential() -> None:
    """No alert_webhook_secret: the token is the only way in."""
    kit = Perfkit(PerfkitSettings(token="admin-token"))
    with serve_wsgi(PerfkitMiddleware(app, kit)) as port:
        url = f"http://127.0.0.1:{port}/perfkit/api/alerts/webhook"
        signed = {"X-Perfkit-Signature": sign("anything", PRS_EXAMPLE)}
        assert send(url, PRS_EXAMPLE, signed)[0] == 401
        assert send(url, PRS_EXAMPLE, {"Authorization": "Bearer admin-token"})[0] == 200
    kit.alerts.stop()


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"metrics": {"cpu": [95]}}, "metrics.cpu"),
        ({"metrics": {"cpu": "x" * 201}}, "metric 'cpu'"),
        ({"labels": {"host": {"a": 1}}}, "labels.host"),
        ({"metrics": {"cpu": True}}, "metrics.cpu"),
    ],
)
def test_bad_values_are_a_400_naming_the_field(
    service: tuple[Perfkit, str], payload: dict[str, Any], needle: str
) -> None:
    _, url = service
    body = json.dumps({"name": "x", "severity": "info", "message": "m", **payload}).encode()
    status, answer = send(url, body, {"X-Perfkit-Signature": sign("hook-secret", body)})
    assert status == 400 and needle in answer["detail"], answer
