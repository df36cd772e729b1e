"""Fleet counters never go backwards: gunicorn -w 3 on real Redis, traffic from three clients,
flushes every 50 ms, and /perfkit/metrics scraped in a loop through whichever worker answers."""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path

from tests.fleet.test_fleet_servers import fleet_env, get, gunicorn  # noqa: F401 - fixture

_COUNTERS = ("app_requests_total{", "app_request_duration_seconds_count{")


def counters(port: int) -> dict[str, float]:
    """Every request counter and histogram count of one scrape, by series."""
    status, body = get(port, "/perfkit/metrics")
    assert status == 200
    out: dict[str, float] = {}
    for line in body.decode().splitlines():
        if line.startswith(_COUNTERS):
            series, _, value = line.rpartition(" ")
            out[series] = float(value)
    return out


def test_scraped_counters_never_decrease(fleet_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    env = dict(fleet_env, PERFKIT_FLUSH_INTERVAL="0.05")
    server = gunicorn(3, env, tmp_path)
    sent = [0, 0, 0]
    stop = threading.Event()
    errors: list[BaseException] = []

    def client(n: int) -> None:
        try:
            while not stop.is_set():
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                conn.request(
                    "GET", f"/items/{n * 1_000_000 + sent[n]}", headers={"Connection": "close"}
                )
                response = conn.getresponse()
                response.read()
                conn.close()
                assert response.status == 200
                sent[n] += 1
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    clients = [threading.Thread(target=client, args=(n,)) for n in range(3)]
    highest: dict[str, float] = {}
    drops: list[str] = []
    scrapes = 0
    try:
        for _ in range(6):  # warm every worker up (the first scrape of each imports its readers)
            counters(server.port)
        for t in clients:
            t.start()
        deadline = time.monotonic() + 12.0
        while scrapes < 150 and time.monotonic() < deadline:
            for series, value in counters(server.port).items():
                if value < highest.get(series, 0.0):
                    drops.append(f"scrape {scrapes}: {series} {highest[series]} -> {value}")
                highest[series] = max(value, highest.get(series, 0.0))
            scrapes += 1
            time.sleep(0.01)  # a scrape loop, as Prometheus would run it (faster)
        stop.set()
        for t in clients:
            t.join(timeout=30)
        assert not errors, errors[0]
        # once the last flushes are in, every worker reports exactly what was sent
        total = sum(sent)
        key = 'app_request_duration_seconds_count{method="GET",endpoint="/items/{id}"}'
        settle = time.monotonic() + 20
        while counters(server.port).get(key) != total:
            assert time.monotonic() < settle, (counters(server.port).get(key), total)
            time.sleep(0.05)
    finally:
        stop.set()
        server.stop()
    assert scrapes >= 20 and total >= 100, (scrapes, total)  # a loaded machine scrapes slower
    assert not drops, f"{len(drops)} decreases in {scrapes} scrapes: {drops[:5]}"
