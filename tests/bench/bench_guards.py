"""Request guards: per-request cost of a rate limit (memory, Redis) and a body limit (WSGI).

Run: ``python tests/bench/bench_guards.py`` (``--quick`` for a smoke run).
Everything runs in this process with synthetic environs from 10,000 client
addresses, so no client reaches the limit (the allowed path is what every
normal request pays). Rounds are interleaved; medians are shown. Guard
overhead = (perfkit with guards) - (perfkit without guards), paired per
round; the goal compares it with perfkit's own overhead over the bare app.
"""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlparse

import _common as c
import apps
from bench_wsgi import drive

REDIS_URL = "redis://127.0.0.1:6379/0"
CLIENTS = 10_000
LIMIT = "1000/minute"  # far above what one client sends here: every request is allowed


def environs(count: int) -> list[dict[str, Any]]:
    """Requests from `count` distinct clients, spread over a few paths (no /health)."""
    paths = [p for p in apps.request_paths(1000) if p[1] != "/health"]
    base = apps.wsgi_environs(paths)
    out = []
    for i in range(count):
        env = dict(base[i % len(base)])
        env["REMOTE_ADDR"] = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        out.append(env)
    return out


def redis_up(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


def main() -> int:
    args = c.bench_args(__doc__.splitlines()[0], "3 rounds of 1,024 requests (a few seconds)")
    rounds = args.rounds or (3 if args.quick else 21)
    n = args.requests or (1024 if args.quick else 4096)
    from perfkit import Perfkit, PerfkitSettings
    from perfkit.guards import Guards
    from perfkit.wsgi import PerfkitMiddleware

    print(f"machine: {c.machine_note()}")
    envs = environs(CLIENTS)
    bare = apps.wsgi_app
    kits: list[Any] = []

    def wrapped(guards: Guards | None, **settings: Any) -> Callable[..., Iterable[bytes]]:
        kit = Perfkit(PerfkitSettings(**settings))
        kits.append(kit)
        return PerfkitMiddleware(bare, kit=kit, guards=guards)

    def timed(app: Callable[..., Iterable[bytes]], kit_index: int) -> Callable[[], float]:
        def run() -> float:
            elapsed = drive(app, envs, n)
            kits[kit_index].registry.drain()  # keep queues short; not part of the figure
            return elapsed / n

        return run

    variants: dict[str, Callable[[], float]] = {"bare app": lambda: drive(bare, envs, n) / n}
    notes: dict[str, str] = {}
    specs: list[tuple[str, Guards | None, dict[str, Any], str]] = [
        ("perfkit, no guards", None, {}, "the base middleware"),
        ("+ body limit (16 MiB)", Guards(max_content_length="16MiB"), {}, "Content-Length check"),
        (
            "+ rate limit, memory",
            Guards(LIMIT),
            {},
            "moving window, RateLimit-* headers (default)",
        ),
        (
            "+ rate limit, memory, no headers",
            Guards(LIMIT, headers=False),
            {},
            "moving window, acquire only",
        ),
        (
            "+ rate limit, memory, sliding counter",
            Guards(LIMIT, strategy="sliding-window-counter"),
            {},
            "two counters per key, headers",
        ),
    ]
    namespace = f"perfkit-bench-guards-{uuid.uuid4().hex}"
    has_redis = redis_up(REDIS_URL)
    if has_redis:
        specs.append(
            (
                "+ rate limit, Redis",
                Guards(LIMIT, storage=REDIS_URL, namespace=namespace),
                {},
                "moving window (Lua), hit + headers in 1 pipelined round trip",
            )
        )
        specs.append(
            (
                "+ rate limit, Redis, no headers",
                Guards(LIMIT, storage=REDIS_URL, namespace=namespace, headers=False),
                {},
                "1 round trip (EVALSHA)",
            )
        )
    for name, guards, settings, note in specs:
        app = wrapped(guards, **settings)
        variants[name] = timed(app, len(kits) - 1)
        notes[name] = note
    try:
        samples = c.interleave(variants, rounds, seed=args.seed)
    finally:
        if has_redis:
            import redis

            conn = redis.Redis.from_url(REDIS_URL)
            keys = list(conn.scan_iter(match=namespace + "*", count=1000))
            for i in range(0, len(keys), 1000):
                conn.delete(*keys[i : i + 1000])
            conn.close()
        for spec in specs:
            if spec[1] is not None:
                spec[1].stop()
    table, overheads = c.overhead_table(samples, "bare app", notes)
    print(f"\n{rounds} interleaved rounds x {n} requests; load at end {c.load_now()}\n")
    print(table)
    base = overheads["perfkit, no guards"]
    rows = []
    for name in variants:
        if name.startswith("+"):
            guard = overheads[name] - base
            goal = "<= 1" if "memory" in name else "(reported)"
            ratio = guard / base if base > 0 else float("inf")
            verdict = ("met" if ratio <= 1 else "NOT met") if "memory" in name else "—"
            rows.append([name, c.fmt_us(guard), c.fmt_us(base), f"{ratio:.2f}", goal, verdict])
    print()
    headers = ["guards", "guard µs", "base middleware µs", "ratio", "goal", "verdict"]
    print(c.markdown_table(headers, rows))
    if not has_redis:
        print(f"\n(Redis at {REDIS_URL} unreachable: the Redis rows were skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
