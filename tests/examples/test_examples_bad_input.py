"""What a user sees for a bad ``PERFKIT_*`` value: a ConfigError naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfkit import ConfigError, PerfkitSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PERFKIT_SLOW_REQUEST_THRESHOLD", "fast", "a number"),
        ("PERFKIT_MAX_BACKUPS", "0", "an integer (must be >= 1)"),
        ("PERFKIT_METRICS_PUBLIC", "maybe", "one of true/false"),
        ("PERFKIT_PREFIX", "perfkit", "a path starting with '/'"),
        ("PERFKIT_CACHE_BACKEND", "memcached", "one of auto, memory, redis"),
    ],
)
def test_bad_env_value_names_the_variable(variable: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        PerfkitSettings.from_env({variable: value})
    message = str(info.value)
    assert variable in message
    assert value in message
    assert expected in message


@pytest.mark.parametrize("module", ["flask_app", "starlette_app", "fastapi_app"])
def test_an_example_refuses_to_start_with_a_bad_value(module: str, tmp_path: Path) -> None:
    """The app factory fails at start-up, with the variable in the last line of the traceback."""
    pytest.importorskip(module.split("_")[0])
    env = {
        **os.environ,
        "PERFKIT_SLOW_REQUEST_THRESHOLD": "2s",
        "PYTHONPATH": os.pathsep.join([str(EXAMPLES), str(EXAMPLES.parent)]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}; {module}.create_app()"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0
    last_line = proc.stderr.strip().splitlines()[-1]
    assert last_line == (
        "perfkit.errors.ConfigError: PERFKIT_SLOW_REQUEST_THRESHOLD='2s' is not valid: "
        "expected a number"
    )
    assert list(tmp_path.iterdir()) == []  # failed before creating its database
