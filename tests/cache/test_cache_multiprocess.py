"""Single flight across processes: 4 processes missing one key through Redis compute once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

pytestmark = pytest.mark.services

WORKER = r"""
import json, sys, time
import redis
from perfkit.cache import CacheManager, cached

url, ns = sys.argv[1], sys.argv[2]
raw = redis.Redis.from_url(url)
cache = CacheManager(backend="redis", redis_url=url, namespace=ns)

@cached(cache=cache, key_prefix="shared", lock_ttl=30)
def compute(x):
    raw.incr(ns + ":calls")
    time.sleep(1.0)  # the slow function whose stampede the lock prevents
    return {"x": x, "pid": __import__("os").getpid()}

raw.incr(ns + ":ready")
deadline = time.monotonic() + 60
while raw.get(ns + ":go") is None and time.monotonic() < deadline:
    time.sleep(0.005)  # polling the start signal with a deadline
result = compute(7)
print(json.dumps({"result": result, "stats": cache.get_stats()}))
cache.close()
raw.close()
"""


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_four_processes_compute_once(redis_url: str, raw: redis.Redis, tmp_path: Path) -> None:
    """Four processes that miss one key at the same moment run the function once."""
    ns = f"test-{uuid.uuid4().hex}"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), redis_url, ns],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for _ in range(4)
    ]
    try:
        deadline = time.monotonic() + 60
        while int(raw.get(f"{ns}:ready") or 0) < 4:
            assert time.monotonic() < deadline, "workers did not start"
            assert all(p.poll() is None for p in procs), "a worker exited early"
            time.sleep(0.01)
        raw.set(f"{ns}:go", 1)
        outputs = [p.communicate(timeout=90) for p in procs]
        assert all(p.returncode == 0 for p in procs), [err.decode() for _, err in outputs]
        reports = [json.loads(out) for out, _ in outputs]
        assert int(raw.get(f"{ns}:calls") or 0) == 1
        results = [r["result"] for r in reports]
        assert all(r == results[0] for r in results) and results[0]["x"] == 7
        assert sum(r["stats"]["misses"] for r in reports) >= 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
        for name in raw.scan_iter(f"{ns}:*"):
            raw.unlink(name)
