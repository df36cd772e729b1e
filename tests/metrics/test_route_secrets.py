"""Secret-looking path segments never reach an endpoint name; readable ones stay readable."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfkit import Perfkit, PerfkitSettings
from perfkit.metrics.routes import RouteTemplater
from perfkit.wsgi import PerfkitMiddleware

PLACEHOLDERS = {"{token}", "{email}", "{uuid}", "{hash}", "{id}", "{date}"}
ORDINARY = st.sampled_from(["api", "v1", "users", "reset", "blog", "my-first-post", "static"])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# random bytes as token generators make them (secrets.token_urlsafe, token_hex):
# at least 8 distinct byte values, so not a run of one repeated character
random_bytes = st.binary(min_size=15, max_size=64).filter(lambda b: len(set(b)) >= 8)

jwts = st.builds(
    lambda alg, claims, signature: ".".join(
        [
            b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode()),
            b64url(json.dumps(claims).encode()),
            b64url(signature),
        ]
    ),
    st.sampled_from(["HS256", "RS256", "ES256", "none"]),
    st.dictionaries(st.sampled_from(["sub", "email", "exp", "iat"]), st.text(max_size=20)),
    st.binary(max_size=64),
)
base64_tokens = st.builds(
    lambda data, padded: base64.urlsafe_b64encode(data).decode() if padded else b64url(data),
    random_bytes,
    st.booleans(),
)
hex_tokens = st.binary(min_size=8, max_size=40).map(bytes.hex)
uuids = st.builds(
    lambda value, upper: str(value).upper() if upper else str(value), st.uuids(), st.booleans()
)
emails = st.emails().filter(lambda address: "/" not in address)
secrets = st.one_of(jwts, base64_tokens, hex_tokens, uuids, emails)


@given(st.lists(ORDINARY, max_size=3), secrets, st.lists(ORDINARY, max_size=3))
def test_secrets_always_become_placeholders(
    before: list[str], secret: str, after: list[str]
) -> None:
    path = "/" + "/".join([*before, secret, *after])
    result = RouteTemplater().template(path)
    assert secret not in result
    assert result.split("/")[len(before) + 1] in PLACEHOLDERS, (path, result)


@given(secrets)
def test_a_secret_cut_by_the_path_limit_shows_nothing_of_itself(secret: str) -> None:
    """The middleware cuts long paths (``...``): what is left of the last segment is dropped."""
    raw = "/reset/" + secret
    templater = RouteTemplater()
    for cut in range(len("/reset/") + 1, len(raw)):
        assert templater.template(raw[:cut] + "...") == "/reset/..."


words = st.from_regex(r"[a-z]{1,12}", fullmatch=True)
numbers = st.integers(0, 99_999).map(str)


@given(st.lists(st.one_of(words, words, numbers), min_size=1, max_size=8).filter(
    lambda parts: any(part.isalpha() for part in parts)
))  # fmt: skip
def test_slugs_stay_readable(parts: list[str]) -> None:
    """``/blog/my-first-post``-like slugs (lowercase words and numbers) are kept as they are."""
    slug = "-".join(parts)
    assert RouteTemplater().template(f"/blog/{slug}") == f"/blog/{slug}"


@given(st.lists(st.from_regex(r"[A-Z][a-z]{2,10}", fullmatch=True), min_size=1, max_size=5))
def test_capitalised_words_stay_readable(parts: list[str]) -> None:
    name = "".join(parts)
    assert RouteTemplater().template(f"/docs/{name}") == f"/docs/{name}"


@given(st.integers(-(10**30), 10**30))
def test_numbers_are_ids_as_before(number: int) -> None:
    assert RouteTemplater().template(f"/orders/{number}/items") == "/orders/{id}/items"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/reset/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "/reset/{token}"),
        ("/u/alice@example.com/profile", "/u/{email}/profile"),
        ("/u/alice%40example.com", "/u/{email}"),
        ("/keys/AKIAIOSFODNN7EXAMPLE", "/keys/{token}"),
        ("/files/deadbeefcafebabe", "/files/{hash}"),
        ("/blog/the-10-best-tips-for-2024", "/blog/the-10-best-tips-for-2024"),
        ("/docs/HTTPServerConfiguration", "/docs/HTTPServerConfiguration"),
        ("/u/@alice", "/u/@alice"),
        ("/static/jquery.min.js", "/static/jquery.min.js"),
    ],
)
def test_examples(path: str, expected: str) -> None:
    assert RouteTemplater().template(path) == expected


def test_public_metrics_never_show_a_token_or_an_address() -> None:
    """Through the middleware to /perfkit/metrics, as a scraper sees it."""
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    kit = Perfkit(PerfkitSettings(metrics_public=True))

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    wrapped = PerfkitMiddleware(app, kit)

    def get(path: str) -> bytes:
        environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
        setup_testing_defaults(environ)
        body = wrapped(environ, lambda *args: None)
        return b"".join(body)

    for path in (f"/reset/{jwt}", "/u/alice@example.com", f"/s/{uuid.uuid4()}"):
        get(path)
    exposition = get("/perfkit/metrics").decode()
    assert 'endpoint="/reset/{token}"' in exposition
    assert 'endpoint="/u/{email}"' in exposition
    assert 'endpoint="/s/{uuid}"' in exposition
    assert "eyJ" not in exposition and "alice" not in exposition
