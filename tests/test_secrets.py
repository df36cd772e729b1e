"""Secrets stay hidden: settings' repr/str, GET /api/config, URLs, the health check's argv."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfkit import Perfkit, PerfkitSettings
from perfkit._secrets import mask_url
from perfkit.health import database_check
from perfkit.web.api import handle
from perfkit.web.context import ApiRequest

PASSWORD = "Pw-s3cr3t-Zq"


def _settings() -> PerfkitSettings:
    return PerfkitSettings(
        token="tok-" + PASSWORD,
        database_url=f"postgresql://app:{PASSWORD}@db:5432/shop?sslmode=require&password={PASSWORD}",
        cache_signing_key="k-" + PASSWORD,
        alert_webhook_secret="w-" + PASSWORD,
        user_id_hash_key="h-" + PASSWORD,
    )


def test_repr_and_str_of_the_settings_hide_every_secret() -> None:
    """A settings object printed in a log or a traceback shows no secret."""
    settings = _settings()
    for text in (repr(settings), str(settings), f"{settings}", repr([settings])):
        assert PASSWORD not in text
        assert "sslmode=require" in text and "token='***'" in text


def test_the_redis_url_password_is_masked_in_repr() -> None:
    settings = PerfkitSettings(redis_url=f"redis://:{PASSWORD}@127.0.0.1:6379/0")
    assert PASSWORD not in repr(settings) and "6379/0" in repr(settings)


def test_get_api_config_masks_query_string_passwords() -> None:
    """``?password=`` in a URL setting is masked like ``user:pass@``."""
    kit = Perfkit(_settings())
    request = ApiRequest(
        "GET", "/api/config", "", {"authorization": f"Bearer tok-{PASSWORD}"}, b"", "127.0.0.1"
    )
    response = handle(kit, request)
    assert response.status == 200
    body = json.loads(response.body)
    assert PASSWORD not in response.body.decode()
    url = body["settings"]["database_url"]
    assert url == "postgresql://app:***@db:5432/shop?sslmode=require&password=***"


_part = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=12)


@given(_part, _part, st.sampled_from(["password", "sslpassword", "token", "api_key", "auth"]))
def test_mask_url_never_shows_the_secret(user: str, host: str, name: str) -> None:
    """Whatever the spelling, neither the user-part password nor a secret parameter survives."""
    url = f"redis://{user}:{PASSWORD}@{host}:1/0?{name}={PASSWORD}&db=2"
    masked = mask_url(url)
    assert PASSWORD not in masked
    assert masked.startswith(f"redis://{user}:***@{host}:1/0?") and masked.endswith("&db=2")


def test_mask_url_keeps_urls_without_secrets() -> None:
    assert mask_url("redis://127.0.0.1:6379/0?db=1") == "redis://127.0.0.1:6379/0?db=1"
    assert mask_url("redis://h:6379?password=x") == "redis://h:6379?password=***"


def _silent_server() -> tuple[socket.socket, int]:
    """A TCP port that accepts and never answers: pg_isready waits there for its timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    return server, server.getsockname()[1]


def _pg_isready_argv() -> list[str] | None:
    """The argv of a running pg_isready child of this process, read from /proc."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[1] == me and argv[0].endswith(b"pg_isready"):
            return [a.decode() for a in argv if a]
    return None


def test_the_postgres_health_check_keeps_the_password_off_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real pg_isready run: neither /proc/<pid>/cmdline nor ps shows the password."""
    import shutil
    import sys

    if shutil.which("pg_isready") is None:
        pytest.skip("pg_isready is not installed (postgresql-client)")
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as without psycopg: pg_isready is used
    server, port = _silent_server()
    url = f"postgresql://app:{PASSWORD}@127.0.0.1:{port}/shop?password={PASSWORD}x"
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            database_check(url, timeout=2)()
            outcome.append(None)
        except BaseException as exc:  # reported to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        argv = None
        deadline = time.monotonic() + 20
        while argv is None and time.monotonic() < deadline and thread.is_alive():
            argv = _pg_isready_argv()
        assert argv is not None, "pg_isready was never seen running"
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
        assert "pg_isready" in ps.stdout
        assert PASSWORD not in ps.stdout
        assert not any(PASSWORD in a for a in argv), argv
        assert any(f"127.0.0.1:{port}/shop" in a for a in argv), argv
    finally:
        thread.join(30)
        server.close()
    assert outcome and outcome[0] is not None  # nothing answers there: the check fails
    assert PASSWORD not in str(outcome[0])


def test_an_unsupported_database_url_error_hides_the_password() -> None:
    with pytest.raises(ValueError) as caught:
        database_check(f"oracle://u:{PASSWORD}@h/db")
    assert PASSWORD not in str(caught.value) and "oracle" in str(caught.value)


def test_an_api_request_shown_to_an_authorize_hook_hides_its_credentials() -> None:
    """The request handed to `authorize` may be logged: no token, cookie or ?token= in it."""
    request = ApiRequest(
        "GET", "/api/snapshot", f"token={PASSWORD}&hours=1",
        {"authorization": f"Bearer {PASSWORD}", "cookie": f"s={PASSWORD}", "accept": "*/*"},
        b"{}", "127.0.0.1",
    )  # fmt: skip
    shown = repr(request)
    assert PASSWORD not in shown and str(request) == shown
    assert "hours=1" in shown and "'accept': '*/*'" in shown
