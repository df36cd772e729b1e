"""Deeply nested JSON is a 400 on every route that reads a body, never a 500."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfkit import Perfkit, PerfkitSettings
from perfkit._json import JsonDepthError, check_depth, loads
from perfkit.web.api import handle
from perfkit.web.context import ApiRequest

DEEP = b'{"a": ' * 1000 + b"1" + b"}" * 1000  # 7 KB: well under the body limit
DEEP_LIST = b"[" * 1000 + b"]" * 1000


@pytest.mark.parametrize(
    "path", ["/api/config", "/api/maintenance", "/api/alerts/rules", "/api/alerts/webhook"]
)
@pytest.mark.parametrize("body", [DEEP, DEEP_LIST], ids=["objects", "lists"])
def test_deep_json_is_a_clear_400_on_every_body(path: str, body: bytes) -> None:
    kit = Perfkit(PerfkitSettings(token="t", alert_webhook_secret="hook"))
    headers = {"authorization": "Bearer t"}
    if path.endswith("webhook"):
        digest = hmac.new(b"hook", body, hashlib.sha256).hexdigest()
        headers["x-perfkit-signature"] = "sha256=" + digest
    response = handle(kit, ApiRequest("POST", path, "", headers, body, "127.0.0.1"))
    assert response.status == 400, response.body[:300]
    assert b"nested" in response.body and b"levels" in response.body


def test_strings_that_look_like_brackets_do_not_count() -> None:
    assert loads('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')
    assert loads(b'["\\"[[", 1]') == ['"[[', 1]


@given(st.integers(min_value=1, max_value=120))
def test_depth_limit_is_exact(depth: int) -> None:
    text = "[" * depth + "]" * depth
    if depth <= 64:
        assert loads(text) is not None
    else:
        with pytest.raises(JsonDepthError, match=f"{depth} levels"):
            loads(text)


def test_a_python_value_that_contains_itself_is_refused() -> None:
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(JsonDepthError):
        check_depth(looped)
