"""Redaction: nested extras and audit details, headers, query strings, configurable keys."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logs_support import flushed, read_lines

from perfkit.logs import REDACTED, Redactor, log_audit, log_request

SECRET = "s3cr3t-value-Zq"
redactor = Redactor()

_plain_keys = st.sampled_from(["name", "id", "items", "a", "count", "author", "path_info"])
_secret_keys = st.sampled_from(
    ["password", "db_password", "X-Api-Key", "Authorization", "refresh_token", "Set-Cookie",
     "client_secret", "PASSWD", "cookie"]
)  # fmt: skip
_leaves = st.one_of(st.integers(), st.text(max_size=5), st.none(), st.booleans())


def _tree(depth: int = 4) -> st.SearchStrategy[Any]:
    """Nested dicts/lists where every secret key holds SECRET (possibly inside structures)."""
    secret_value = st.one_of(
        st.just(SECRET), st.just([SECRET]), st.just({"inner": SECRET}), st.just((SECRET, 1))
    )
    return st.recursive(
        _leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(_plain_keys, children, max_size=4),
            st.dictionaries(_secret_keys, secret_value, min_size=1, max_size=2),
        ),
        max_leaves=depth * 5,
    )


@given(_tree())
def test_no_secret_survives_redaction_at_any_depth(value: Any) -> None:
    """Whatever the nesting (dicts, lists, tuples), values under secret keys are gone."""
    out = redactor.redact({"details": value})
    assert SECRET not in json.dumps(out)


@given(st.dictionaries(_plain_keys, _leaves, max_size=5))
def test_plain_data_is_unchanged(value: dict[str, Any]) -> None:
    """Nothing is hidden where no key is sensitive."""
    assert redactor.redact(value) == value


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "token", "api_key", "q", "page"]), st.text(max_size=8)),
        max_size=6,
    )
)
def test_query_strings_hide_secret_parameters(pairs: list[tuple[str, str]]) -> None:
    """Each secret parameter's value is replaced; the others keep their values."""
    from urllib.parse import parse_qsl, urlencode

    query = urlencode(pairs)
    out = redactor.redact_url("/search?" + query)
    assert out.startswith("/search?")
    parsed = parse_qsl(out.partition("?")[2], keep_blank_values=True)
    assert [k for k, _ in parsed] == [k for k, _ in pairs]
    for (key, value), (_, shown) in zip(pairs, parsed, strict=True):
        expected = REDACTED if key in ("token", "api_key") else value
        assert shown == expected


def test_headers_as_mapping_and_as_pairs() -> None:
    """Header dicts and WSGI/ASGI header lists (bytes too) hide auth and cookies."""
    pairs = [(b"authorization", b"Bearer abc"), (b"accept", b"*/*"), ("Cookie", "sid=1")]
    assert redactor.redact_headers(pairs) == {
        "authorization": REDACTED, "accept": "*/*", "Cookie": REDACTED
    }  # fmt: skip
    assert redactor.redact_headers({"X-Auth-Token": "t", "Host": "h"}) == {
        "X-Auth-Token": REDACTED, "Host": "h"
    }  # fmt: skip


def test_custom_key_list_replaces_the_default() -> None:
    """A configured list decides alone which keys are secret."""
    custom = Redactor(["ssn"])
    assert custom.redact({"user_ssn": 1, "password": 2}) == {"user_ssn": REDACTED, "password": 2}


def test_audit_details_and_request_lines_are_redacted_in_the_files(logs) -> None:
    """Nested audit details, extras, request headers and query strings in the written files."""
    log_dir = logs()
    log_audit(
        "user.update", "u1", "update", "user:1",
        {"changes": [{"field": "password", "new": {"password": SECRET}}], "api_key": SECRET},
    )  # fmt: skip
    log_request(
        "POST", f"/login?next=/home&token={SECRET}", 302, 8.0,
        headers=[("Authorization", f"Bearer {SECRET}"), ("Accept", "text/html")],
    )  # fmt: skip
    logging.getLogger("tests.logs.redaction").warning(
        "config loaded", extra={"config": {"db": {"url": "x", "password": SECRET}}}
    )
    flushed()
    for name in ("app_audit.log", "app_requests.log", "app.log"):
        text = (log_dir / name).read_text()
        assert text and SECRET not in text, name
    (audit,) = read_lines(log_dir / "app_audit.log")
    assert audit["details"]["changes"][0]["field"] == "password"  # values, not words, hidden
    assert audit["details"]["changes"][0]["new"]["password"] == REDACTED
    (request,) = read_lines(log_dir / "app_requests.log")
    assert request["path"] == f"/login?next=%2Fhome&token={REDACTED}"
    assert request["headers"] == [["Authorization", REDACTED], ["Accept", "text/html"]]


@pytest.mark.parametrize(
    "key",
    ["passphrase", "db_pwd", "access_key", "AWS_ACCESS_KEY_ID", "jwt", "x-auth", "basic_auth",
     "sessionid", "signature", "sentry_dsn", "DSN"],
)  # fmt: skip
def test_common_secret_names_are_hidden_by_default(key: str) -> None:
    """The default words cover the usual spellings of secrets."""
    assert Redactor().redact({key: "s3cr3t"}) == {key: REDACTED}


@pytest.mark.parametrize("key", ["author", ":authority", "authors_count", "dsname"])
def test_short_words_match_only_whole_parts(key: str) -> None:
    """``auth`` hides ``x-auth`` but not ``author``."""
    assert Redactor().redact({key: "v"}) == {key: "v"}
