"""CLI conventions as docs/cli.md states them, run as subprocesses against a live server:
every exit code (0, 1, 2, 130, 141), --json on every command, human text by default,
the --url prefix retry, plurals and human durations."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.alerts import AlertRule
from perfkit.health import HealthChecks
from perfkit.wsgi import PerfkitMiddleware
from tests.conftest import serve_wsgi

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "conventions-token"
pytestmark = pytest.mark.timeout(120)


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The host app: answers 404 (plain text) for anything outside its one page."""
    found = environ["PATH_INFO"] == "/"
    start_response("200 OK" if found else "404 Not Found", [("Content-Type", "text/plain")])
    return [b"home" if found else b"not here"]


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[str, Perfkit]]:
    kit = Perfkit(PerfkitSettings(token=TOKEN))
    kit.register_component("health", HealthChecks(cache_ttl=0))  # healthy whatever the load
    kit.alerts.add_alert_rule(AlertRule("many_requests", "requests.rate", 1000, 10000))
    with serve_wsgi(PerfkitMiddleware(app, kit)) as port:
        yield f"http://127.0.0.1:{port}", kit


def env() -> dict[str, str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "PERFKIT_TOKEN": TOKEN}
    full.pop("PERFKIT_URL", None)
    return full


def perfkit(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfkit", *args],
        capture_output=True, text=True, timeout=60, check=False, env=env(), input=stdin,
    )  # fmt: skip


def assert_clean(out: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in out.stderr, out.stderr


def test_every_service_command_prints_text_by_default_and_json_on_request(
    service: tuple[str, Perfkit], tmp_path: Path
) -> None:
    base, kit = service
    url = base + "/perfkit"
    commands: list[list[str]] = [
        ["status"],
        ["summary", "--hours", "1"],
        ["alerts"],
        ["test-alert", "--rule-name", "many_requests"],
        ["export-metrics", "--output-file", str(tmp_path / "out.json")],
        ["cleanup"],
        ["health-check"],
    ]
    for command in commands:
        text = perfkit(*command, "--url", url)
        assert text.returncode == 0, (command, text.stderr)
        assert_clean(text)
        if command[0] != "export-metrics":  # it writes a file; its note goes to stderr
            assert text.stdout.strip() and not text.stdout.lstrip().startswith(("{", "[")), (
                command,
                text.stdout,
            )
        as_json = perfkit(*command, "--url", url, "--json")
        assert as_json.returncode == 0, (command, as_json.stderr)
        json.loads(as_json.stdout)  # one JSON document, nothing else on stdout

    evaluated = perfkit("test-alert", "--rule-name", "many_requests", "--url", url)
    assert evaluated.stdout.startswith("many_requests: would ")
    assert perfkit("cleanup", "--url", url).stdout.startswith("cleanup done")

    # plurals: one request reads "1 request"
    kit.reset()
    kit.record_request("GET", "/one", 200, 0.0042)
    status = perfkit("status", "--url", url).stdout
    assert "1 request," in status and "1 requests" not in status, status
    assert "4.2 ms" in status, status  # durations in human units


def test_a_url_without_the_prefix_is_retried_with_it(service: tuple[str, Perfkit]) -> None:
    base, _ = service
    out = perfkit("status", "--url", base)
    assert out.returncode == 0, out.stderr
    assert f"using {base}/perfkit" in out.stderr and "health:" in out.stdout
    # elsewhere on the host app: no guess, a hint naming the prefix
    wrong = perfkit("status", "--url", base + "/admin")
    assert wrong.returncode == 2
    assert "must be the perfkit prefix URL" in wrong.stderr and "/admin/perfkit" in wrong.stderr
    assert_clean(wrong)


def test_exit_code_2_for_usage_bad_values_and_unreachable(service: tuple[str, Perfkit]) -> None:
    base, _ = service
    url = base + "/perfkit"
    cases = [
        (["summary", "--hours", "0", "--url", url], "hours in 1..720"),  # argparse usage
        (["test-alert", "--rule-name", "no_such_rule", "--url", url], "no_such_rule"),
        (["status", "--url", "http://127.0.0.1:9/perfkit"], "cannot reach"),
        (["status", "--url", "ftp://example.org/perfkit"], "must start with http"),
    ]
    for args, message in cases:
        out = perfkit(*args)
        assert out.returncode == 2, (args, out.returncode, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert_clean(out)


def _backup(tmp_path: Path) -> tuple[list[str], str]:
    database = tmp_path / "app.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    db.close()
    opts = ["--database-url", f"sqlite:///{database}", "--backup-dir", str(tmp_path / "bk")]
    created = perfkit("backup", "create", "--json", "--no-compress", *opts)
    assert created.returncode == 0, created.stderr
    return opts, json.loads(created.stdout)["filename"]


def test_exit_code_1_when_a_check_fails_and_backup_stats_reads_well(tmp_path: Path) -> None:
    opts, name = _backup(tmp_path)
    stats = perfkit("backup", "stats", *opts)
    assert stats.returncode == 0, stats.stderr
    text = stats.stdout
    assert "1 backup," in text and name in text and "last success:" in text, text
    assert "ago)" in text and "{" not in text and "e-0" not in text, text  # no dicts, no 7.5e-05
    assert "successes" not in text  # this process's run counters: always 0 here

    declined = perfkit("backup", "restore", name, *opts, stdin="n\n")
    assert declined.returncode == 1 and "cancelled" in declined.stderr
    path = tmp_path / "bk" / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    failed = perfkit("backup", "verify", *opts)
    assert failed.returncode == 1 and "FAILED" in failed.stdout
    unknown = perfkit("backup", "verify", "backup_nope.sqlite3", *opts)
    assert unknown.returncode == 2 and "no backup named" in unknown.stderr


def test_exit_code_130_when_interrupted(tmp_path: Path) -> None:
    """Ctrl-C at the restore prompt: exit 130, no traceback."""
    opts, name = _backup(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfkit", "backup", "restore", name, *opts],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
    )  # fmt: skip
    assert proc.stdout is not None
    prompt = b""
    while b"[y/N]" not in prompt:  # input() writes its prompt, then waits on stdin
        chunk = os.read(proc.stdout.fileno(), 256)
        assert chunk, f"exited before the prompt: {prompt!r}"
        prompt += chunk
    # A signal that lands between the prompt's write and the read() is only seen once read()
    # returns, so keep stdin open and repeat the signal until the process ends (a person's
    # Ctrl-C comes long after the prompt)
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.5)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err


def test_exit_code_141_and_no_traceback_on_a_broken_pipe(tmp_path: Path) -> None:
    """`perfkit backup stats --json | head -0`: the reader is gone before the output."""
    opts, _ = _backup(tmp_path)
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: the first write gets EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "perfkit", "backup", "stats", "--json", *opts],
            stdout=write_end, stderr=subprocess.PIPE, env=env(), timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == b"", proc.stderr


def test_the_demo_reaches_its_rate_prints_prometheus_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    """--duration: the summary, the rate reached, and the Prometheus text; SIGTERM: the
    summary, as Ctrl-C gives it."""
    out = subprocess.run(
        [sys.executable, "-m", "perfkit", "demo", "--port", "0", "--duration", "4",
         "--rate", "30", "--json"],
        capture_output=True, text=True, timeout=60, check=False, env=env(), cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    # a pool of clients keeps the schedule although /report takes up to 0.6 s; the
    # bound is loose for a loaded 2-core machine, where a waiting client got about 11/s
    assert data["traffic"]["rate"] >= 30 * 0.7, data["traffic"]
    assert "# TYPE app_requests_total counter" in data["prometheus"]
    assert "dashboard: http://127.0.0.1:" in out.stderr

    proc = subprocess.Popen(
        [sys.executable, "-m", "perfkit", "demo", "--port", "0", "--rate", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=tmp_path,
    )  # fmt: skip
    assert proc.stdout is not None
    banner = b""
    while b"stop with Ctrl-C" not in banner:
        chunk = os.read(proc.stdout.fileno(), 1024)
        assert chunk, banner
        banner += chunk
    time.sleep(1.0)  # let the generated traffic run for a moment: the summary lists it
    proc.send_signal(signal.SIGTERM)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert b"requests: " in rest and b"generated: " in rest, rest
    assert b"Traceback" not in err
