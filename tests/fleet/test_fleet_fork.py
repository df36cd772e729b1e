"""Forked workers (gunicorn --preload): nothing counted twice, no inherited locks, no leaks."""

from __future__ import annotations

import gc
import os
import threading
import weakref
from pathlib import Path

import pytest

from perfkit import Perfkit, PerfkitSettings

# Python 3.12+ warns about fork() in a threaded process; forking is what is tested here
pytestmark = pytest.mark.filterwarnings("ignore:This process.*fork:DeprecationWarning")


def in_child(body: object) -> int:
    """Run `body()` in a forked child; returns the child's exit code (0: no exception)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's exit code carries the result
        code = 1
        try:
            body()  # type: ignore[operator]
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_worker_does_not_ship_the_parents_figures(redis_url: str, namespace: str) -> None:
    kit = Perfkit(
        PerfkitSettings(redis_url=redis_url, redis_namespace=namespace, flush_interval=60)
    )
    for _ in range(10):
        kit.record_request("GET", "/f", 200, 0.01)

    def child() -> None:
        kit.record_request("GET", "/f", 200, 0.01)
        assert kit.store.flush()

    assert in_child(child) == 0
    assert kit.store.flush()
    with kit.store.load()[0].locked():
        assert kit.store.load()[0].endpoints[("GET", "/f")].count == 11


def test_a_fork_while_a_thread_holds_the_registry_lock_does_not_deadlock() -> None:
    kit = Perfkit()
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with kit.registry.locked():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(10)
    try:

        def child() -> None:
            kit.record_request("GET", "/x", 200, 0.01)
            assert kit.snapshot()["requests"]["summary"]["count"] == 1

        assert in_child(child) == 0
    finally:
        release.set()
        thread.join()


def test_the_file_store_is_loaded_once_per_registry(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    settings = PerfkitSettings(metrics_file=str(path), flush_interval=60)
    kit = Perfkit(settings).start()
    for _ in range(10):
        kit.record_api_performance("/a", "GET", 0.1, 200)
    kit.stop()
    kit.start()  # a restart of the same kit must not add the file on top
    assert kit.snapshot()["requests"]["summary"]["count"] == 10

    def child() -> None:  # a forked worker restarts its parts: no reload either
        assert kit.snapshot()["requests"]["summary"]["count"] == 10

    assert in_child(child) == 0
    kit.stop()


def test_kits_are_not_kept_alive_by_fork_hooks() -> None:
    kit = Perfkit()
    ref = weakref.ref(kit)
    del kit
    gc.collect()
    assert ref() is None
