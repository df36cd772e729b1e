"""Helpers shared by the logging tests (a unique module name: tests have no packages)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perfkit.logs import flush_logging

DOCUMENTED = (
    "timestamp", "level", "logger", "message", "module", "function", "line", "process",
    "request_id", "user_id", "organization_id",
)  # fmt: skip


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of `path` parsed as JSON (fails the test on a line that is not)."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            out.append(json.loads(line))
        except ValueError:
            pytest.fail(f"{path.name}:{number} is not JSON: {line[:200]!r}")
    return out


def flushed() -> None:
    assert flush_logging(timeout=30), "the log writer did not catch up within 30 s"
