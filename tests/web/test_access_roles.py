"""Access roles: every operation of the route table, called with no token, the read token
and the admin token, gets what the role the OpenAPI document states allows; and the
audit lines of a read and of an admin action."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.testing import FakeClock
from perfkit.web.api import build_routes, handle
from perfkit.web.context import ApiRequest
from perfkit.web.openapi import document

ADMIN, READER = "admin-s3cret", "read-s3cret"
REMOTE = "203.0.113.9"
DENIED = (401, 403)


def call(
    kit: Perfkit, method: str, path: str, token: str | None = None, client: str = REMOTE
) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = handle(kit, ApiRequest(method, path, "", headers, b"", client))
    body = json.loads(response.body) if response.content_type == "application/json" else None
    return response.status, body


def concrete(template: str) -> str:
    """A path of the operation: each {argument} filled with a name nothing has."""
    return re.sub(r"\{[^}]+\}", "nothing-here", template)


def operations(settings: PerfkitSettings) -> list[tuple[str, str, str]]:
    """(method, path, role) of every operation, the role read from the OpenAPI document."""
    doc = document(build_routes(), "", settings.metrics_public, settings.retention_hours)
    return [
        (method.upper(), concrete(path), op["x-perfkit-role"])
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    ]


def test_the_document_states_a_role_for_every_operation_and_only_gets_are_reads() -> None:
    found = operations(PerfkitSettings(metrics_public=False))
    assert len(found) == len(build_routes().routes)
    for method, path, role in found:
        assert role in ("public", "read", "admin"), (method, path)
        if method != "GET":
            assert role == "admin", f"{method} {path} changes state but is {role}"
        else:
            assert role != "admin", f"GET {path} changes nothing but is admin"


@pytest.mark.parametrize("metrics_public", [True, False])
def test_every_operation_answers_each_token_as_its_role_says(metrics_public: bool) -> None:
    settings = PerfkitSettings(token=ADMIN, read_token=READER, metrics_public=metrics_public)
    kit = Perfkit(settings)
    for method, path, role in operations(settings):
        where = f"{method} {path} ({role})"
        none, _ = call(kit, method, path)
        read, read_body = call(kit, method, path, READER)
        admin, _ = call(kit, method, path, ADMIN)
        wrong, _ = call(kit, method, path, "not-a-token")
        assert admin not in DENIED, where
        if role == "public":
            assert none not in DENIED and read not in DENIED, where
        elif role == "read":
            assert none == 401 and wrong == 401, where
            assert read not in DENIED, where
        else:
            assert none == 401 and wrong == 401, where
            assert read == 403 and "PERFKIT_TOKEN" in read_body["detail"], where


def test_with_no_token_reads_open_to_loopback_and_admin_needs_the_explicit_setting() -> None:
    strict = Perfkit(PerfkitSettings())
    relaxed = Perfkit(PerfkitSettings(allow_unauthenticated_admin=True))
    for method, path, role in operations(strict.settings):
        where = f"{method} {path} ({role})"
        local, body = call(strict, method, path, client="127.0.0.1")
        if role == "admin":
            assert local == 403 and "ALLOW_UNAUTHENTICATED_ADMIN" in body["detail"], where
            assert call(relaxed, method, path, client="127.0.0.1")[0] not in DENIED, where
            assert call(relaxed, method, path, client=REMOTE)[0] == 403, where
        else:
            assert local not in DENIED, where
        if role != "public":
            assert call(strict, method, path, client=REMOTE)[0] == 403, where


def test_a_proxy_that_says_so_is_not_loopback_even_with_the_setting() -> None:
    kit = Perfkit(PerfkitSettings(allow_unauthenticated_admin=True))
    body = json.dumps({"action": "cleanup"}).encode()
    direct = ApiRequest("POST", "/api/maintenance", "", {}, body, "127.0.0.1")
    proxied = ApiRequest(
        "POST", "/api/maintenance", "", {"x-forwarded-for": "198.51.100.7"}, body, "127.0.0.1"
    )
    assert handle(kit, direct).status == 200
    assert handle(kit, proxied).status == 403
    get = ApiRequest("GET", "/api/snapshot", "", {"x-real-ip": "198.51.100.7"}, b"", "::1")
    assert handle(kit, get).status == 403


def test_the_authorize_hook_is_told_the_role() -> None:
    seen: list[tuple[str, str]] = []

    def authorize(request: Any) -> bool:
        seen.append((request.path, request.role))
        return bool(request.role == "read")

    kit = Perfkit(authorize=authorize)
    assert call(kit, "GET", "/api/snapshot")[0] == 200
    assert call(kit, "POST", "/api/cache/clear")[0] == 403
    assert seen == [("/api/snapshot", "read"), ("/api/cache/clear", "admin")]


def test_access_tells_the_dashboard_what_the_caller_may_do() -> None:
    kit = Perfkit(PerfkitSettings(token=ADMIN, read_token=READER))
    assert call(kit, "GET", "/api/access", READER)[1] == {
        "role": "read",
        "via": "read_token",
        "admin": False,
    }
    assert call(kit, "GET", "/api/access", ADMIN)[1] == {
        "role": "admin",
        "via": "token",
        "admin": True,
    }
    local = Perfkit(PerfkitSettings())
    assert call(local, "GET", "/api/access", client="127.0.0.1")[1]["admin"] is False
    demo = Perfkit(PerfkitSettings(allow_unauthenticated_admin=True))
    assert call(demo, "GET", "/api/access", client="127.0.0.1")[1]["admin"] is True


def audit_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "perfkit.audit"]


def test_reads_with_a_token_are_audited_once_per_client_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    kit = Perfkit(
        PerfkitSettings(token=ADMIN, read_token=READER, audit_read_interval=60), clock=clock
    )
    with caplog.at_level(logging.INFO, logger="perfkit.audit"):
        for _ in range(3):
            assert call(kit, "GET", "/api/snapshot", READER)[0] == 200
        assert call(kit, "GET", "/api/snapshot", READER, client="198.51.100.4")[0] == 200
        clock.advance(61)
        assert call(kit, "GET", "/api/requests/summary", READER)[0] == 200
        assert call(Perfkit(), "GET", "/api/snapshot", client="127.0.0.1")[0] == 200
    lines = audit_records(caplog)
    assert [(r.ip_address, r.action, r.role, r.via, r.details) for r in lines] == [  # type: ignore[attr-defined]
        (REMOTE, "get_api_snapshot", "read", "read_token", {"reads": 1}),
        ("198.51.100.4", "get_api_snapshot", "read", "read_token", {"reads": 1}),
        # the two reads folded into the interval are counted in the next line
        (REMOTE, "get_api_requests_summary", "read", "read_token", {"reads": 3}),
    ]  # the tokenless loopback read proves no one: not audited
    assert lines[0].getMessage() == (
        f"read get_api_snapshot /api/snapshot by {REMOTE} as read via read_token reads=1"
    )


def test_admin_actions_are_audited_with_client_operation_and_role(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kit = Perfkit(PerfkitSettings(token=ADMIN, read_token=READER))
    with caplog.at_level(logging.INFO, logger="perfkit.audit"):
        assert call(kit, "POST", "/api/cache/clear", ADMIN)[0] == 200
        assert call(kit, "POST", "/api/cache/clear", READER)[0] == 403
    admin = [r for r in audit_records(caplog) if r.event_type == "admin"]  # type: ignore[attr-defined]
    assert [(r.ip_address, r.action, r.role, r.via, r.details) for r in admin] == [  # type: ignore[attr-defined]
        (REMOTE, "post_api_cache_clear", "admin", "token", {"status": 200}),
        (REMOTE, "post_api_cache_clear", "none", "refused", {"status": 403}),
    ]
    assert admin[0].getMessage() == (
        f"admin post_api_cache_clear /api/cache/clear by {REMOTE} as admin via token status=200"
    )
    # the handler's own line, with what was done, is still there
    assert any(getattr(r, "event_type", None) == "cache" for r in audit_records(caplog))


def test_tokenless_admin_is_refused_to_another_sites_page() -> None:
    """A page elsewhere cannot make a local browser reset a tokenless dev service."""
    kit = Perfkit(PerfkitSettings(allow_unauthenticated_admin=True))

    def post(headers: dict[str, str]) -> int:
        request = ApiRequest("POST", "/api/cache/clear", "", headers, b"", "127.0.0.1")
        return handle(kit, request).status

    assert post({"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:8000"}) == 200
    assert post({"host": "127.0.0.1:8000", "origin": "https://evil.example"}) == 403
    assert post({"host": "127.0.0.1:8000", "origin": "null"}) == 403
    assert post({"host": "127.0.0.1:8000", "sec-fetch-site": "cross-site"}) == 403
