"""Fixtures for the logging tests: a perfkit logging setup torn down after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from perfkit.logs import setup_logging, shutdown_logging


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``logs(**kwargs)`` sets perfkit logging up in a temporary dir and returns the dir."""
    log_dir = tmp_path / "logs"

    def start(**kwargs: Any) -> Path:
        kwargs.setdefault("enable_console", False)
        setup_logging(kwargs.pop("app_name", "app"), log_dir, **kwargs)
        return log_dir

    yield start
    shutdown_logging()
