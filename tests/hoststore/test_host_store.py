"""The host store on a real SQLite file: exact merges, idempotent batches, reads that never go
backwards, gone workers, and the kit's choice of store and scope."""

from __future__ import annotations

import io
import logging
import math
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.metrics.record import RequestRecord
from perfkit.metrics.registry import Registry
from perfkit.metrics.stores.codec import delta_ops
from perfkit.metrics.stores.host import HostStore, host_store_path
from perfkit.metrics.stores.host_codec import KEYS
from perfkit.metrics.stores.host_db import HostDb
from perfkit.metrics.stores.memory import MemoryStore
from perfkit.wsgi import PerfkitMiddleware

ROOT = Path(__file__).resolve().parents[2]


def record(registry: Registry, n: int, duration: float = 0.01, route: str = "/a") -> None:
    for _ in range(n):
        registry.record_request(RequestRecord("GET", route, 200, duration, 10))


def count(view: Registry) -> int:
    return sum(int(s.sketch.count) for s in view.endpoints.values())


def worker(tmp_path: Path, **settings: Any) -> tuple[Registry, HostStore]:
    registry = Registry(PerfkitSettings(data_dir=str(tmp_path), **settings))
    return registry, HostStore(registry, flush_interval=0.05, retry_interval=0.0)


def test_workers_merge_exactly_with_quantiles_from_merged_sketches(tmp_path: Path) -> None:
    rng = random.Random(7)
    durations: list[float] = []
    stores = []
    for _ in range(3):
        registry, store = worker(tmp_path)
        for _ in range(700):
            d = rng.lognormvariate(-4, 1)
            durations.append(d)
            status = 500 if rng.random() < 0.1 else 200
            registry.record_request(RequestRecord("GET", "/a", status, d, 10, user="u1"))
        assert store.flush()
        stores.append(store)
    for store in stores:  # any worker answers for the host
        stats = store.fleet_registry().endpoints[("GET", "/a")]
        assert stats.sketch.count == 2100
        assert stats.statuses[200] + stats.statuses[500] == 2100
        assert math.isclose(stats.total, sum(durations), rel_tol=1e-9)
        durations.sort()
        exact = durations[math.floor(0.99 * (len(durations) - 1))]
        assert abs(stats.sketch.quantile(0.99) - exact) <= 0.01 * exact


def test_a_resent_batch_is_not_counted_twice(tmp_path: Path) -> None:
    registry, store = worker(tmp_path)
    record(registry, 5)
    batch = registry.take_delta()
    ops = delta_ops(batch, KEYS, 3600)
    db = HostDb(store.path)
    me = {"id": "w1", "host": "h", "pid": 1, "figures": {}}
    assert db.apply(me, 1, ops, time.time()) is True
    assert db.apply(me, 1, ops, time.time()) is False  # the answer was lost; resent as it was
    assert db.apply(me, 2, ops, time.time()) is True
    assert count(store.fleet_registry()) == 10


def test_reads_never_go_backwards_during_flushes(tmp_path: Path) -> None:
    """Writers, 20 Hz background flushes and readers through both workers at once."""
    pairs = [worker(tmp_path) for _ in range(2)]
    for _, store in pairs:
        store.start()
    stop = threading.Event()
    sent = [0, 0]
    problems: list[str] = []

    def write(i: int) -> None:
        registry = pairs[i][0]
        while not stop.is_set() and sent[i] < 4000:
            record(registry, 10)
            sent[i] += 10
            time.sleep(0.001)  # a trickle of traffic, so flushes interleave with it

    def read() -> None:
        last = 0
        while not stop.is_set():
            for _, store in pairs:
                seen = count(store.fleet_registry())
                if seen < last:
                    problems.append(f"{last} -> {seen}")
                last = max(last, seen)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    threads.append(threading.Thread(target=read))
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while sum(sent) < 8000 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    for _, store in pairs:
        store.stop()
    assert not problems, problems[:5]
    assert count(pairs[0][1].fleet_registry()) == sum(sent) == 8000


def test_a_gone_workers_figures_stay_and_its_row_goes(tmp_path: Path) -> None:
    """A worker that flushed and died without saying goodbye (os._exit, like SIGKILL)."""
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from perfkit import PerfkitSettings
        from perfkit.metrics.record import RequestRecord
        from perfkit.metrics.registry import Registry
        from perfkit.metrics.stores.host import HostStore
        registry = Registry(PerfkitSettings(data_dir={str(tmp_path)!r}))
        store = HostStore(registry)
        for _ in range(100):
            registry.record_request(RequestRecord("GET", "/a", 200, 0.01))
        assert store.flush()
        print(os.getpid(), flush=True)
        os._exit(0)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    gone = int(done.stdout)
    registry, store = worker(tmp_path)
    record(registry, 1)
    view = store.fleet_registry()
    assert count(view) == 101
    assert gone not in [w["pid"] for w in store.workers]
    assert [r["pid"] for r in HostDb(store.path).read().workers] == [os.getpid()]
    store.stop()  # a worker that stops leaves no row either
    assert HostDb(store.path).read().workers == []
    assert count(worker(tmp_path)[1].fleet_registry()) == 101


def test_caps_hold_across_workers(tmp_path: Path) -> None:
    names = iter(range(100))
    for _ in range(3):
        registry, store = worker(tmp_path, max_endpoints=4)
        for _ in range(3):
            record(registry, 2, route=f"/r{next(names)}")
        assert store.flush()
    view = store.fleet_registry()
    assert len(view.endpoints) <= 5  # four names and the overflow series
    assert count(view) == 18


def test_reset_forgets_the_hosts_figures(tmp_path: Path) -> None:
    registry, store = worker(tmp_path)
    record(registry, 3)
    assert count(store.fleet_registry()) == 3
    store.reset()
    assert count(store.fleet_registry()) == 0


def test_the_kit_picks_host_from_the_setting_and_states_the_scope(tmp_path: Path) -> None:
    kit = Perfkit(PerfkitSettings(metrics_store="host", data_dir=str(tmp_path)))
    assert isinstance(kit.store, HostStore)
    assert kit.store.path == host_store_path(str(tmp_path))
    kit.record_request("GET", "/a", 200, 0.01)
    snap = kit.snapshot()
    assert (snap["scope"], snap["scope_note"]) == ("host", None)
    assert snap["requests"]["summary"]["count"] == 1
    assert snap["fleet"]["workers"][0]["pid"] == os.getpid()
    assert "perfkit_worker_rss_bytes{worker=" in kit.render_metrics()[1].decode()


def test_one_process_gets_memory_and_says_process(tmp_path: Path) -> None:
    kit = Perfkit(PerfkitSettings(data_dir=str(tmp_path)))
    assert isinstance(kit.store, MemoryStore)
    snap = kit.snapshot()
    assert (snap["scope"], snap["scope_note"]) == ("process", None)
    assert not os.listdir(tmp_path)  # nothing was created


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def call(wrapped: Any, multiprocess: bool) -> None:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/a", "wsgi.input": io.BytesIO(),
               "wsgi.multiprocess": multiprocess}  # fmt: skip
    for _ in wrapped(environ, lambda *a: None):
        pass


def test_wsgi_multiprocess_moves_auto_to_the_host_store(tmp_path: Path) -> None:
    kit = Perfkit(PerfkitSettings(data_dir=str(tmp_path)))
    wrapped = PerfkitMiddleware(app, kit)
    call(wrapped, multiprocess=True)
    assert isinstance(kit.store, HostStore)
    kit.registry.drain()
    snap = kit.snapshot()
    assert snap["scope"] == "host" and snap["requests"]["summary"]["count"] == 1


def test_memory_with_several_workers_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kit = Perfkit(PerfkitSettings(metrics_store="memory", data_dir=str(tmp_path)))
    wrapped = PerfkitMiddleware(app, kit)
    with caplog.at_level(logging.WARNING, logger="perfkit.store"):
        call(wrapped, multiprocess=True)
        call(wrapped, multiprocess=True)
        other = PerfkitMiddleware(app, kit)
        call(other, multiprocess=True)
    assert isinstance(kit.store, MemoryStore)
    lines = [r.getMessage() for r in caplog.records if "own figures" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "PERFKIT_METRICS_STORE" in lines[0]
    snap = kit.snapshot()
    assert snap["scope"] == "process"
    assert snap["scope_note"].startswith("this worker only")


def test_one_notification_and_one_sampler_per_host(tmp_path: Path) -> None:
    (_, a), (_, b) = worker(tmp_path), worker(tmp_path)
    assert a.fleet.claim_notification("cpu_high:firing", 0.3) is True
    assert b.fleet.claim_notification("cpu_high:firing", 0.3) is False
    assert a.fleet.claim_notification("cpu_high:firing", 0.3) is False  # once per window
    deadline = time.monotonic() + 10
    while not b.fleet.claim_notification("cpu_high:firing", 0.3):
        assert time.monotonic() < deadline, "the claim never expired"
        time.sleep(0.05)  # waiting for the 0.3 s window to pass
    sampler, neighbour = a.fleet.host_samples(), b.fleet.host_samples()
    assert sampler.claim(10.0) and sampler.claim(10.0)  # held across intervals
    assert not neighbour.claim(10.0)
    assert neighbour.fetch() is None
    sampler.publish({"cpu_percent": 12.5})
    assert neighbour.fetch() == {"cpu_percent": 12.5}


def test_the_kit_wires_the_host_coordination(tmp_path: Path) -> None:
    kit = Perfkit(PerfkitSettings(metrics_store="host", data_dir=str(tmp_path)))
    assert kit.alerts.fleet_gate is not None
    assert kit.system.shared is not None
    assert kit.alerts.fleet_gate("rule:firing", 60) is True
    assert kit.alerts.fleet_gate("rule:firing", 60) is False
