"""Fixtures for the examples: import path, Django set-up, a fresh kit, a real server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from tests.conftest import free_port, setup_example_django, wait_for_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))


@pytest.fixture
def kit() -> Perfkit:
    return Perfkit(PerfkitSettings())


@pytest.fixture
def default_kit(kit: Perfkit) -> Iterator[Perfkit]:
    """`kit`, also made the process-wide default kit for the test."""
    from perfkit import set_default_kit

    set_default_kit(kit)
    try:
        yield kit
    finally:
        set_default_kit(None)
        kit.stop()  # Django's middleware starts the default kit, as a server loads it


@pytest.fixture
def django_ready() -> Iterator[None]:
    """The example Django project, set up once per process; connections closed after."""
    from django.db import connections

    setup_example_django()
    try:
        yield
    finally:
        connections.close_all()


Serve = Callable[..., str]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """``serve(args, env=...) -> base_url``: run a server from examples/ and stop it after."""
    running: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], env: dict[str, str] | None = None) -> str:
        port = free_port()
        cmd = [a.format(port=port, python=sys.executable) for a in args]
        log = tmp_path / f"server-{port}.log"
        full_env = {**os.environ, **(env or {})}
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(EXAMPLES), str(EXAMPLES.parent), full_env.get("PYTHONPATH", "")]
        )
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=full_env, cwd=tmp_path
            )
        running.append(proc)
        wait_for_port(port, timeout=30.0, proc=proc, log=log)
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in running:
        proc.terminate()
    for proc in running:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def scrape() -> Callable[..., str]:
    """``scrape(client, *needles) -> text``: poll ``/perfkit/metrics`` until all needles show.

    A server may answer the next request before the previous one's recording
    (which runs after its last byte) is done, so read with a deadline.
    """

    def poll(client: Any, *needles: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = str(client.get("/perfkit/metrics").text)
            if all(needle in text for needle in needles) or time.monotonic() > deadline:
                return text
            time.sleep(0.05)  # polling a server against a deadline

    return poll
