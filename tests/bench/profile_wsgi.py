"""Where perfkit's WSGI overhead goes: cProfile, then ablations timed like the benchmark.

Run: ``python tests/bench/profile_wsgi.py`` (``--quick`` for a smoke run).
Each ablation switches one part of the request path or of the aggregation
off (by patching it for the duration of its batch only) and the table
shows what the full middleware costs more than the ablated one, paired per
round. The parts are not independent, so the savings need not add up.
This is a diagnostic for developers, not a supported configuration.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import sys
from collections.abc import Callable, Iterator
from time import process_time_ns
from typing import Any

import _common as c
import apps
from bench_wsgi import drive


class _NoContextVar:
    def set(self, value: Any) -> None:
        return None

    def reset(self, token: Any) -> None:
        return None


def drive_cold(app: Any, environs: list[dict[str, Any]], n: int, junk: bytearray) -> float:
    """Seconds of CPU per request, with the CPU caches evicted before each request.

    A real server runs the middleware between a socket accept, a parse and a
    send, so its code and data are rarely in cache; a tight loop keeps them hot.
    Only the request itself is timed, not the eviction.
    """
    fill = b"\1" * (len(junk) // 64)
    total = 0
    for i in range(n):
        junk[::64] = fill  # touch one byte per cache line of a buffer larger than the caches
        t0 = process_time_ns()
        body = app(environs[i % len(environs)].copy(), _start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
        total += process_time_ns() - t0
    return total / n / 1e9


def _start_response(status: str, headers: Any, exc_info: Any = None) -> None:
    return None


@contextlib.contextmanager
def _patched(target: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, saved)


def main() -> int:
    args = c.bench_args(__doc__.splitlines()[0], "3 rounds of 1,024 requests")
    rounds = args.rounds or (3 if args.quick else 21)
    n = args.requests or (1024 if args.quick else 5120)
    import perfkit.middleware.core as core_mod
    import perfkit.middleware.wsgi as wsgi_mod
    from perfkit import Perfkit
    from perfkit.wsgi import PerfkitMiddleware

    print(f"machine: {c.machine_note()}")
    environs = apps.wsgi_environs(apps.request_paths(1000))
    kit = Perfkit()
    app = PerfkitMiddleware(apps.wsgi_app, kit=kit)

    def total() -> float:
        t0 = c.now()
        drive(app, environs, n)
        kit.registry.drain()
        return (c.now() - t0) / n

    profiler = cProfile.Profile()
    profiler.enable()
    total()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    print(out.getvalue())

    def without(*patches: tuple[Any, str, Any]) -> Callable[[], float]:
        def run() -> float:
            with contextlib.ExitStack() as stack:
                for target, name, value in patches:
                    stack.enter_context(_patched(target, name, value))
                return total()

        return run

    def noop(*_args: Any, **_kwargs: Any) -> None:
        return None

    import perfkit.metrics.sketch as sketch_mod

    registry = kit.registry

    def discard_pending() -> int:
        registry._pending.clear()
        return 0

    # (label, [(object, attribute, replacement)]); skipped when the attribute is gone
    candidates: list[tuple[str, list[tuple[Any, str, Any]]]] = [
        ("- all aggregation (drain discards)", [(registry, "drain", discard_pending)]),
        (
            "- quantile sketches",
            [
                (sketch_mod.QuantileSketch, "add", noop),
                (sketch_mod.QuantileSketch, "add_many", noop),
            ],
        ),
        (
            "- in-flight gauge (begin/end)",
            [(core_mod.RequestCore, "begin", noop), (core_mod.RequestCore, "end", noop)],
        ),
        ("- request-id context variable", [(wsgi_mod, "request_id_var", _NoContextVar())]),
        ("- generated request id", [(core_mod.RequestCore, "new_id", lambda self: "fixed-id")]),
        ("- clock.time() per record", [(registry.clock, "time", lambda: 1e9)]),
        ("- method normalisation", [(core_mod, "normalize_method", lambda method: method)]),
        ("- path decoding", [(wsgi_mod, "_decode_path", lambda raw: raw)]),
    ]
    ablations: dict[str, Callable[[], float]] = {
        "full perfkit (total)": total,
        "bare app": lambda: drive(apps.wsgi_app, environs, n) / n,
    }
    for label, patches in candidates:
        if all(hasattr(target, name) for target, name, _ in patches):
            ablations[label] = without(*patches)
        else:
            print(f"skipped {label!r}: not in this version of perfkit")
    samples = c.interleave(ablations, rounds, seed=args.seed)
    savings = c.paired_overheads(
        {name: [-v for v in values] for name, values in samples.items()},
        "full perfkit (total)",
    )
    rows = []
    for name, values in savings.items():
        if name == "bare app":
            continue
        low, high = c.quartiles(values)
        rows.append([name, c.fmt_us(c.median(values)), f"{c.fmt_us(low)} – {c.fmt_us(high)}"])
    overhead = c.median(
        [t - b for t, b in zip(samples["full perfkit (total)"], samples["bare app"], strict=True)]
    )
    print(f"{rounds} rounds x {n} requests; load at end {c.load_now()}")
    print(f"full perfkit overhead over the bare app: {c.fmt_us(overhead)} µs/request\n")
    print(c.markdown_table(["switched off", "saves µs/request", "IQR µs"], rows))

    junk = bytearray(16 << 20)
    cold_n = 200 if args.quick else 2000
    cold = c.interleave(
        {
            "bare app": lambda: drive_cold(apps.wsgi_app, environs, cold_n, junk),
            "perfkit": lambda: drive_cold(app, environs, cold_n, junk),
        },
        3 if args.quick else 9,
        seed=args.seed,
    )
    kit.registry.drain()
    cold_overhead = c.median(c.paired_overheads(cold, "bare app")["perfkit"])
    print(
        f"\ncold caches (16 MB evicted before each request, {cold_n} requests x "
        f"{len(cold['perfkit'])} rounds): bare {c.fmt_us(c.median(cold['bare app']))} µs, "
        f"perfkit {c.fmt_us(c.median(cold['perfkit']))} µs, overhead "
        f"{c.fmt_us(cold_overhead)} µs/request (vs {c.fmt_us(overhead)} µs with hot caches)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
