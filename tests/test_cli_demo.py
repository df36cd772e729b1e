"""`perfkit demo` as a user runs it."""

from __future__ import annotations

import subprocess
import sys


def test_demo_prints_a_summary_and_prometheus_text() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "perfkit", "demo", "--requests", "150"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "requests: 150" in out.stdout
    assert "GET /users/{id}" in out.stdout
    assert "SELECT name FROM users WHERE id = ?" in out.stdout
    assert "app_requests_total{" in out.stdout


def test_demo_rejects_bad_arguments() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "perfkit", "demo", "--requests", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    assert "--requests must be >= 1" in out.stderr
