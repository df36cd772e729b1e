"""End to end: gunicorn (2 sync workers) + wrk on 127.0.0.1, perfkit-wrapped vs bare app.

Run: ``python tests/bench/bench_e2e.py`` (``--quick``: one 2 s round each).
Needs ``wrk`` (``apt-get install wrk``) and gunicorn. Both servers run side by
side for the whole benchmark; wrk alternates between them (the order
flips every round) and the table gives median requests/s. The machine's
cores are shared by wrk, the 4 workers and anything else running.
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
            raise RuntimeError(f"gunicorn exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)  # polling a server we started, with a deadline
    raise RuntimeError(f"gunicorn did not listen on 127.0.0.1:{port} within {timeout} s")


def start_gunicorn(target: str, port: int) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}", "--chdir", str(HERE), "--log-level", "warning",
        target,
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parents[1]), str(HERE)]))
    proc = subprocess.Popen(cmd, env=env)
    wait_for_port(port, proc)
    return proc


def worker_cpu(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) used so far by a gunicorn master's workers."""
    import psutil

    total = 0.0
    for child in psutil.Process(proc.pid).children():
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue  # a worker restarted mid-run; its successor is counted next time
        total += times.user + times.system
    return total


def run_wrk(port: int, seconds: float, script: Path) -> tuple[float, int, str]:
    """Requests/s and requests done in one wrk run, plus any error line wrk printed."""
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds:g}s", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    if match is None or done is None:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")
    errors = " ".join(
        line.strip() for line in out.splitlines() if "errors" in line or "Non-2xx" in line
    )
    return float(match.group(1)), int(done.group(1)), errors


def main() -> int:
    args = c.bench_args(__doc__.splitlines()[0], "one 2 s wrk run per server (smoke test)")
    # many short paired rounds track the shared machine's drifting load better than few long ones
    rounds = args.rounds or (1 if args.quick else 10)
    seconds = 2.0 if args.quick else 5.0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    print(f"machine: {c.machine_note()}")
    scratch = tempfile.TemporaryDirectory(prefix="perfkit-bench-")
    script = Path(scratch.name) / "paths.lua"
    script.write_text(_LUA % ", ".join(f'"{p}"' for p in URL_PATHS))
    targets = {
        "bare": "apps:make_wsgi_bare()",
        "bare + X-Request-ID header": "apps:make_wsgi_bare_with_header()",
        "perfkit": "apps:make_wsgi_wrapped()",
    }
    servers = {name: free_port() for name in targets}
    procs = {}
    errors: dict[str, list[str]] = {name: [] for name in servers}
    cpu: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for name, target in targets.items():
            procs[name] = start_gunicorn(target, servers[name])
        for port in servers.values():
            run_wrk(port, 1, script)  # warm both servers' workers up

        def one(name: str) -> float:
            before = worker_cpu(procs[name])
            rps, done, err = run_wrk(servers[name], seconds, script)
            cpu[name].append((worker_cpu(procs[name]) - before) / max(done, 1))
            if err:
                errors[name].append(err)
            return rps

        samples = c.interleave(
            {name: (lambda n=name: one(n)) for name in servers}, rounds, args.seed, warmup=0
        )
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
    bare = c.median(samples["bare"])
    cpu_bare = c.median(cpu["bare"])
    rows = []
    for name in targets:
        rps = c.median(samples[name])
        cpu_used = c.median(cpu[name])
        rows.append(
            [
                name if name != "perfkit" else "perfkit-wrapped",
                f"{rps:,.0f}",
                ", ".join(f"{v:,.0f}" for v in samples[name]),
                "" if name == "bare" else f"{rps / bare:.3f}",
                c.fmt_us(cpu_used),
                ", ".join(f"{v * 1e6:.0f}" for v in cpu[name]),
                "" if name == "bare" else f"{cpu_bare / cpu_used:.3f}",
            ]
        )
    ratios = [w / b for w, b in zip(samples["perfkit"], samples["bare"], strict=True)]
    print(
        f"\n{rounds} rounds x {seconds:g} s, wrk -t2 -c16, gunicorn -w 2 (sync); "
        f"load at end {c.load_now()}\n"
    )
    headers = [
        "server",
        "median req/s",
        "per round",
        "req/s ratio",
        "worker CPU µs/request",
        "per round",
        "CPU capacity ratio",
    ]
    print(c.markdown_table(headers, rows))
    print(
        f"\nperfkit/bare per-round req/s ratios: {', '.join(f'{r:.3f}' for r in ratios)}; "
        f"median {c.median(ratios):.3f} (goal >= 0.95). CPU capacity ratio = bare worker "
        f"CPU per request / this server's: the req/s ratio the workers would reach if they "
        f"alone were the bottleneck"
    )
    for name, errs in errors.items():
        if errs:
            print(f"wrk reported for {name}: {' | '.join(errs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
