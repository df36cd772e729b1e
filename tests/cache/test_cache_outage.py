"""Redis outages in auto mode: fallback to memory, recovery, and no stale value afterwards."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from perfkit.cache import CacheManager, cached
from perfkit.testing import FakeClock
from tests.conftest import free_port, service_unavailable, wait_for_port

pytestmark = pytest.mark.services

FAST = {"socket_timeout": 0.3, "socket_connect_timeout": 0.3}


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll `condition` with a deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


class RedisServer:
    """A private redis-server on a fixed port, startable again after a kill."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_unavailable("redis-server binary", "PATH", "not installed")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for_port(self.port, proc=self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    srv = RedisServer(free_port(), tmp_path / "redis.log")
    srv.start()
    yield srv
    srv.kill()


def test_kill_mid_traffic_falls_back_then_returns_to_redis(server: RedisServer) -> None:
    """Killing Redis under traffic: no exception, memory serves, fallbacks counted; back after."""
    url = f"redis://127.0.0.1:{server.port}/0"
    cache = CacheManager(
        backend="auto", redis_url=url, redis_config=FAST, retry_interval=0.05, namespace="o"
    )
    errors: list[BaseException] = []
    stop = threading.Event()
    calls = {"n": 0}

    @cached(cache=cache, ttl=60)
    def compute(i: int) -> int:
        calls["n"] += 1
        return i * 2

    def traffic() -> None:
        i = 0
        while not stop.is_set():
            try:
                assert compute(i % 20) == (i % 20) * 2
                cache.set(f"t{i % 20}", i)
                cache.get(f"t{i % 20}")
            except BaseException as exc:
                errors.append(exc)
                return
            i += 1

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        wait_until(lambda: cache.get_stats()["sets"] > 50)
        assert cache.cache_type == "redis"
        server.kill()
        wait_until(lambda: cache.get_stats()["fallbacks"] > 20)
        assert cache.cache_type == "memory"
        cache.set("during", [1])
        assert cache.get("during") == [1]  # served from memory
        stats = cache.get_stats()
        assert stats["errors"] >= 1 and stats["circuit"] in ("open", "half-open")

        server.start()  # same port, empty data
        wait_until(lambda: cache.cache_type == "redis" and cache.get_stats()["total_keys"] > 0)
        raw = redis.Redis.from_url(url)
        try:
            wait_until(lambda: any(raw.get(f"o:cache:t{i}") is not None for i in range(20)))
        finally:
            raw.close()
        assert cache.get("during") is None  # written during the outage, not in Redis
    finally:
        stop.set()
        worker.join(30)
        cache.close()
    assert errors == []


class Proxy:
    """A TCP proxy to Redis that can be cut: data sent while it is down never arrives."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.closed = False
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._accept)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # timeout: check `closed` again
                continue
            if not self.up:
                conn.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                t = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                if not self.up:
                    break  # dropped: the outage swallows it
                dst.sendall(data)
        except OSError:
            pass  # the other side closed
        finally:
            for s in (src, dst):
                self._close(s)

    def _close(self, s: socket.socket) -> None:
        with contextlib.suppress(OSError):  # already closed
            s.shutdown(socket.SHUT_RDWR)
        s.close()

    def cut(self) -> None:
        self.up = False
        with self.lock:
            socks, self.sockets = self.sockets, []
        for s in socks:
            self._close(s)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.closed = True
        for t in self.threads:
            t.join(10)
        self.listener.close()


@pytest.fixture
def proxy(redis_url: str) -> Iterator[Proxy]:
    from urllib.parse import urlparse

    p = Proxy(urlparse(redis_url).port or 6379)
    yield p
    p.close()


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_changes_during_outage_are_replayed_on_recovery(proxy: Proxy, raw: redis.Redis) -> None:
    """Deleted, invalidated and rewritten keys during an outage are never served stale."""
    ns = f"test-{uuid.uuid4().hex}"
    cache = CacheManager(
        backend="auto",
        redis_url=f"redis://127.0.0.1:{proxy.port}/0",
        redis_config=FAST,
        retry_interval=0.05,
        namespace=ns,
    )
    runs: list[int] = []

    @cached(cache=cache, key_prefix="price")
    def price(item: int) -> int:
        runs.append(item)
        return 100 + len(runs)

    try:
        cache.set_many({"deleted": "old", "rewritten": "old", "kept": "same"})
        first = price(1)
        proxy.cut()
        assert cache.delete("deleted") in (True, False)  # Redis unreachable: no exception
        cache.set("rewritten", "new")
        assert price.invalidate(1) in (True, False)
        assert cache.cache_type == "memory"
        assert raw.get(f"{ns}:cache:deleted") == b'"old"'  # the outage kept Redis unchanged
        proxy.restore()
        wait_until(lambda: cache.get("kept") == "same" and cache.cache_type == "redis")
        assert cache.get("deleted") is None
        assert cache.get("rewritten") is None  # the memory copy is gone; never the old one
        assert raw.get(f"{ns}:cache:rewritten") is None
        assert price(1) != first and len(runs) == 2
    finally:
        cache.close()
        for name in raw.scan_iter(f"{ns}:*"):
            raw.unlink(name)


def test_clear_during_outage_clears_namespace_on_recovery(proxy: Proxy, raw: redis.Redis) -> None:
    """clear() while Redis is unreachable empties the namespace once it is back."""
    ns = f"test-{uuid.uuid4().hex}"
    cache = CacheManager(
        backend="auto",
        redis_url=f"redis://127.0.0.1:{proxy.port}/0",
        redis_config=FAST,
        retry_interval=0.05,
        namespace=ns,
    )
    try:
        cache.set_many({f"k{i}": i for i in range(10)})
        proxy.cut()
        cache.clear()
        proxy.restore()
        wait_until(lambda: cache.exists("k0") is False and cache.cache_type == "redis")
        assert list(raw.scan_iter(f"{ns}:cache:*")) == []
    finally:
        cache.close()


def test_open_circuit_costs_no_timeout_per_call() -> None:
    """Once the breaker opens, calls skip Redis until the retry interval has passed."""
    clock = FakeClock()
    port = free_port()  # nothing listens there
    cache = CacheManager(
        backend="auto",
        redis_url=f"redis://127.0.0.1:{port}/0",
        redis_config=FAST,
        retry_interval=5,
        failure_threshold=2,
        clock=clock,
    )
    with cache:
        for i in range(200):
            cache.set(f"k{i}", i)
            assert cache.get(f"k{i}") == i
        stats: dict[str, Any] = cache.get_stats()
        assert stats["errors"] == 2 and stats["fallbacks"] >= 400
        clock.advance(5)
        cache.get("k1")
        assert cache.get_stats()["errors"] == 3  # exactly one probe after the interval
