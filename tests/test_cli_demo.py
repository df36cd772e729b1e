"""`perfkit demo` as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_serves_traffic_and_prints_a_summary(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "perfkit", "demo", "--port", "0", "--duration", "3", "--rate", "50"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=str(tmp_path),
    )
    assert out.returncode == 0, out.stderr
    assert "dashboard: http://127.0.0.1:" in out.stdout
    assert "GET /users/{id}" in out.stdout
    assert "SELECT name FROM users WHERE id = ?" in out.stdout
    count = int(out.stdout.split("requests: ", 1)[1].split()[0])
    assert count > 10
    assert "Traceback" not in out.stderr
    backups = list((tmp_path / "perfkit-data" / "backups").glob("demo_*.sqlite3.gz"))
    assert len(backups) == 1  # the demo backs up its database on embedded defaults


def test_demo_rejects_bad_arguments() -> None:
    for args, message in (
        (["--port", "70000"], "--port must be in 0..65535"),
        (["--duration", "0"], "--duration must be > 0"),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "perfkit", "demo", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 2
        assert message in out.stderr
