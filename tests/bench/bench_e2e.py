"""End to end under wrk on 127.0.0.1: real servers, bare vs a peer vs perfkit.

- gunicorn -w 2 (sync): bare WSGI app, the hand-written prometheus_client
  middleware (Counter + Histogram), perfkit (defaults, ``kit.start()``);
- uvicorn (one worker): bare Starlette, starlette-exporter, perfkit.

Run: ``python tests/bench/bench_e2e.py`` (``--quick``: one 2 s round each).
Needs ``wrk`` (``apt-get install wrk``), gunicorn and uvicorn. Every server runs
for the whole benchmark; wrk visits them in a fresh shuffled order each round
and the tables give medians of req/s, wrk's p99 latency, and server CPU
µs per request (psutil, user + system, over the server process and its
workers), which moves less than req/s when the shared machine's load varies.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as c

HERE = Path(__file__).resolve().parent
URL_PATHS = ("/users/17", "/users/42/orders", "/health")
_LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)  # polling a server we started, with a deadline
    raise RuntimeError(f"the server did not listen on 127.0.0.1:{port} within {timeout} s")


def start_server(target: str, port: int) -> subprocess.Popen[bytes]:
    """gunicorn -w 2 for ``gunicorn:module:factory()``, uvicorn for ``uvicorn:module:factory``."""
    server, _, app = target.partition(":")
    if server == "gunicorn":
        cmd = [
            sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
            "--bind", f"127.0.0.1:{port}", "--chdir", str(HERE), "--log-level", "warning", app,
        ]  # fmt: skip
    else:
        cmd = [
            sys.executable, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1",
            "--port", str(port), "--app-dir", str(HERE), "--log-level", "warning",
            "--no-access-log",
        ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parents[1]), str(HERE)]))
    proc = subprocess.Popen(cmd, env=env)
    wait_for_port(port, proc)
    return proc


def server_cpu(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) used so far by a server process and its workers."""
    import psutil

    master = psutil.Process(proc.pid)
    total = sum(master.cpu_times()[:2])
    for child in master.children():
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue  # a worker restarted mid-run; its successor is counted next time
        total += times.user + times.system
    return total


def run_wrk(port: int, seconds: float, script: Path) -> tuple[float, int, float, str]:
    """Requests/s, requests done and p99 latency (s) of one wrk run, plus any error line."""
    url = f"http://127.0.0.1:{port}"
    out = subprocess.run(
        ["wrk", "-t2", "-c16", "--latency", f"-d{seconds:g}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    if match is None or done is None or p99 is None:
        raise RuntimeError(f"no Requests/sec or p99 in wrk output:\n{out}")
    latency = float(p99.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[p99.group(2)]
    errors = " ".join(
        line.strip() for line in out.splitlines() if "errors" in line or "Non-2xx" in line
    )
    return float(match.group(1)), int(done.group(1)), latency, errors


GROUPS = {
    "gunicorn -w 2": {
        "bare": "gunicorn:apps:make_wsgi_bare()",
        "prometheus_client hand-written": "gunicorn:apps:make_wsgi_prometheus()",
        "perfkit": "gunicorn:apps:make_wsgi_started()",
    },
    "uvicorn": {
        "bare": "uvicorn:apps:make_asgi_bare",
        "starlette-exporter": "uvicorn:apps:make_asgi_exporter",
        "perfkit": "uvicorn:apps:make_asgi_started",
    },
}


def main() -> int:
    args = c.bench_args(__doc__.splitlines()[0], "one 2 s wrk run per server (smoke test)")
    # many short rounds track the shared machine's drifting load better than few long ones
    rounds = args.rounds or (1 if args.quick else 6)
    seconds = 2.0 if args.quick else 4.0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    print(f"machine: {c.machine_note()}")
    scratch = tempfile.TemporaryDirectory(prefix="perfkit-bench-")
    script = Path(scratch.name) / "paths.lua"
    script.write_text(_LUA % ", ".join(f'"{p}"' for p in URL_PATHS))
    targets = {(g, name): t for g, variants in GROUPS.items() for name, t in variants.items()}
    ports = {key: free_port() for key in targets}
    procs: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
    errors: dict[tuple[str, str], list[str]] = {key: [] for key in targets}
    cpu: dict[tuple[str, str], list[float]] = {key: [] for key in targets}
    p99: dict[tuple[str, str], list[float]] = {key: [] for key in targets}
    try:
        for key, target in targets.items():
            procs[key] = start_server(target, ports[key])
        for port in ports.values():
            run_wrk(port, 1, script)  # warm every server up

        def one(key: tuple[str, str]) -> float:
            before = server_cpu(procs[key])
            rps, done, latency, err = run_wrk(ports[key], seconds, script)
            cpu[key].append((server_cpu(procs[key]) - before) / max(done, 1))
            p99[key].append(latency)
            if err:
                errors[key].append(err)
            return rps

        samples = c.interleave(
            {f"{g}|{n}": (lambda k=(g, n): one(k)) for g, n in targets}, rounds, args.seed,
            warmup=0,
        )  # fmt: skip
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        scratch.cleanup()
    print(
        f"\n{rounds} interleaved rounds x {seconds:g} s, wrk -t2 -c16; load at end {c.load_now()}\n"
    )
    headers = [
        "server", "median req/s", "req/s vs bare", "p99 ms", "server CPU µs/request",
        "CPU overhead µs/request",
    ]  # fmt: skip
    for group, variants in GROUPS.items():
        rps_bare = c.median(samples[f"{group}|bare"])
        cpu_bare = c.median(cpu[(group, "bare")])
        rows = []
        overheads = {}
        for name in variants:
            rps = c.median(samples[f"{group}|{name}"])
            used = c.median(cpu[(group, name)])
            overheads[name] = used - cpu_bare
            rows.append([
                f"{group}, {name}", f"{rps:,.0f}", f"{rps / rps_bare:.3f}",
                f"{c.median(p99[(group, name)]) * 1e3:.2f}", c.fmt_us(used),
                "" if name == "bare" else c.fmt_us(used - cpu_bare),
            ])  # fmt: skip
        print(c.markdown_table(headers, rows))
        peer = next(n for n in variants if n not in ("bare", "perfkit"))
        if overheads[peer] > 0:
            print(
                f"\n{group}: perfkit CPU overhead / {peer}'s = "
                f"{overheads['perfkit'] / overheads[peer]:.2f}\n"
            )
        else:
            print(f"\n{group}: {peer}'s CPU overhead is within the noise (<= 0)\n")
    for key, errs in errors.items():
        if errs:
            print(f"wrk reported for {key}: {' | '.join(errs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
