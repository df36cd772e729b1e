"""Under every server, the wrapped app sends the bare app's bytes and perfkit records the truth.

For each server (conftest.SERVERS) the bare app and the perfkit-wrapped app
run in two processes; a raw-socket client sends both the same requests on a
keep-alive connection and compares the responses byte for byte, status
line, header order and case, framing (Content-Length or chunk sizes) and
body. Only Date and X-Request-ID lines are left out of the comparison
(raw_http.IGNORED_HEADERS); the wrapped app must send exactly one
X-Request-ID and the bare app none. What perfkit recorded is read from the
wrapped server's /perfkit/metrics.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import raw_http
from conftest import SERVERS, Pair

APPS_DIR = Path(__file__).resolve().parents[1] / "apps"
if str(APPS_DIR) not in sys.path:
    sys.path.insert(0, str(APPS_DIR))

import perfkit_sample_http as client  # noqa: E402

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=sorted(SERVERS))
def pair(request: pytest.FixtureRequest, matrix: dict[str, Pair]) -> Pair:
    return matrix[request.param]


def compare(pair: Pair, requests: list[tuple[str, str]]) -> list[bytes]:
    """The same requests to the bare and the wrapped app; the wrapped app's responses."""
    bare = raw_http.exchange(pair.bare.port, requests)
    wrapped = raw_http.exchange(pair.wrapped.port, requests)
    for sent, plain, monitored in zip(requests, bare, wrapped, strict=True):
        assert raw_http.header_values(plain, b"x-request-id") == [], (pair.name, sent)
        assert len(raw_http.header_values(monitored, b"x-request-id")) == 1, (pair.name, sent)
        assert raw_http.normalized(monitored) == raw_http.normalized(plain), (pair.name, sent)
    return wrapped


def recorded(
    pair: Pair,
    before: client.Metrics,
    expected: dict[tuple[str, str, str], float],
    timeout: float = 15.0,
) -> None:
    """Poll the wrapped server's metrics until the requests since `before` are `expected`
    (perfkit's own scrapes left out)."""

    def since() -> dict[tuple[str, str, str], float]:
        delta = client.scrape(pair.wrapped.port).delta(before)
        return {key: n for key, n in delta.items() if not key[1].startswith("/perfkit")}

    client.poll(lambda: since() == expected or None, f"{pair.name} to record {expected}", timeout)
    assert since() == expected


def test_a_reused_module_level_header_list_stays_as_it_was(pair: Pair) -> None:
    """The app's one header list is never extended: every response is the bare app's."""
    before = client.scrape(pair.wrapped.port)
    compare(pair, [("GET", "/shared")] * 3)
    recorded(pair, before, {("GET", "/shared", "200"): 3})


def test_a_one_item_body_without_content_length_is_framed_alike(pair: Pair) -> None:
    """wsgiref and waitress give a one-item list a Content-Length, granian sends it whole."""
    compare(pair, [("GET", "/one"), ("GET", "/one"), ("GET", "/tuple")])


def test_a_streamed_body_is_framed_alike(pair: Pair) -> None:
    before = client.scrape(pair.wrapped.port)
    compare(pair, [("GET", "/stream")] * 2)
    recorded(pair, before, {("GET", "/stream", "200"): 2})


def test_head_is_complete_once_its_headers_are_sent(pair: Pair) -> None:
    """granian closes a HEAD body early (WSGI) or reports a disconnect (ASGI): still a 200."""
    before = client.scrape(pair.wrapped.port)
    compare(pair, [("HEAD", "/stream"), ("HEAD", "/one"), ("GET", "/ready")])
    recorded(
        pair,
        before,
        {("HEAD", "/stream", "200"): 1, ("HEAD", "/one", "200"): 1, ("GET", "/ready", "200"): 1},
    )


# servers that never tell the app its client has gone, and what perfkit records there
DISCONNECT_UNSEEN = {
    # its WSGI mode iterates the body to the end whatever the client does, sending into a
    # queue, and closes it only then: the app (bare or wrapped) cannot know
    "hypercorn-wsgi": "200",
}


@pytest.fixture(scope="module")
def hung_up(matrix: dict[str, Pair]) -> dict[str, client.Metrics]:
    """Every server's client leaves mid-stream at once (servers notice in their own time,
    waitress only after filling its output buffer): the scrapes from before."""
    before = {name: client.scrape(pair.wrapped.port) for name, pair in matrix.items()}
    with ThreadPoolExecutor(len(matrix) * 2) as pool:
        hang_ups = [
            pool.submit(raw_http.hang_up_mid_stream, process.port, "/endless")
            for pair in matrix.values()
            for process in (pair.bare, pair.wrapped)
        ]
        daphne = matrix["daphne"]  # the one that cancels an app blind to its client
        hang_ups += [
            pool.submit(raw_http.hang_up_mid_stream, process.port, "/hang", 1)
            for process in (daphne.bare, daphne.wrapped)
        ]
        for done in hang_ups:
            done.result()
    return before


def test_a_client_leaving_mid_stream_is_499(pair: Pair, hung_up: dict[str, client.Metrics]) -> None:
    """The client resets the connection mid-body: 499, and both servers carry on."""
    status = DISCONNECT_UNSEEN.get(pair.name, "499")
    expected = {("GET", "/endless", status): 1.0}
    if pair.name == "daphne":
        expected[("GET", "/hang", "499")] = 1.0
    recorded(pair, hung_up[pair.name], expected, timeout=40)
    compare(pair, [("GET", "/ready")])


def test_an_app_cancelled_after_the_client_left_is_499_not_an_error(
    matrix: dict[str, Pair], hung_up: dict[str, client.Metrics]
) -> None:
    """daphne cancels an app still running after its client left (here after 1 s)."""
    daphne = matrix["daphne"]

    def hang() -> dict[tuple[str, str, str], float]:
        delta = client.scrape(daphne.wrapped.port).delta(hung_up["daphne"])
        return {key: n for key, n in delta.items() if key[1] == "/hang"}

    client.poll(hang, "daphne to record /hang", timeout=40)
    assert hang() == {("GET", "/hang", "499"): 1}
    errors = client.scrape(daphne.wrapped.port).series("app_errors_total")
    assert [labels for labels, _ in errors if labels.get("type") == "CancelledError"] == []
