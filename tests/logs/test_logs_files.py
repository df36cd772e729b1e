"""The five log files: fields, levels, routing, idempotence, bad input."""

from __future__ import annotations

import io
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logs_support import DOCUMENTED, flushed, read_lines

from perfkit.config import PerfkitSettings
from perfkit.errors import ConfigError
from perfkit.logs import (
    log_audit,
    log_files,
    log_request,
    setup_logging,
    setup_logging_from_settings,
    shutdown_logging,
)
from perfkit.logs.formatter import iso_utc, truncate
from perfkit.logs.listener import PerfkitQueueHandler

log = logging.getLogger("tests.logs.files")


def _emit_everything() -> None:
    log.debug("debug line")
    log.info("info line %d", 1)
    log.warning("warning line")
    try:
        raise KeyError("missing")
    except KeyError:
        log.exception("failed to look up")
    log.critical("critical line")
    log_request("GET", "/items/1", 200, 3.5, user_id="u1", ip_address="10.0.0.1")
    log_audit("auth", "u1", "login", "session", {"method": "password"})


def test_every_line_of_every_file_is_json_with_the_documented_fields(logs) -> None:
    """All five files exist and each line carries the documented fields."""
    log_dir = logs(app_name="svc", log_level="DEBUG")
    _emit_everything()
    flushed()
    names = {p.name for p in log_dir.iterdir() if not p.name.startswith(".")}
    assert names == {
        "svc.log", "svc_errors.log", "svc_debug.log", "svc_requests.log", "svc_audit.log"
    }  # fmt: skip
    for name in names:
        lines = read_lines(log_dir / name)
        assert lines, name
        for entry in lines:
            assert set(DOCUMENTED) <= entry.keys(), (name, entry)
            assert entry["timestamp"].endswith("Z") and "T" in entry["timestamp"]
            assert entry["process"] == os.getpid()


def test_levels_and_routing(logs) -> None:
    """INFO+ in the main file, ERROR+ in errors, all in debug, requests and audit apart."""
    log_dir = logs(app_name="svc", log_level="DEBUG")
    _emit_everything()
    flushed()

    def messages(name: str) -> list[str]:
        return [e["message"] for e in read_lines(log_dir / name)]

    assert messages("svc.log") == [
        "info line 1", "warning line", "failed to look up", "critical line"
    ]  # fmt: skip
    assert messages("svc_errors.log") == ["failed to look up", "critical line"]
    assert messages("svc_debug.log")[0] == "debug line"
    assert messages("svc_requests.log") == ["GET /items/1 200 3.5ms"]
    assert messages("svc_audit.log") == ["auth: login session"]
    request = read_lines(log_dir / "svc_requests.log")[0]
    assert request["status_code"] == 200 and request["response_time_ms"] == 3.5
    assert request["user_id"] == "u1" and request["ip_address"] == "10.0.0.1"


def test_errors_reach_the_errors_file_with_the_traceback(logs) -> None:
    """exception = {type, message, traceback} naming the raising line."""
    log_dir = logs()

    def fail() -> None:
        raise ValueError("bad value 42")

    try:
        fail()
    except ValueError:
        log.error("could not do it", exc_info=True)
    flushed()
    (entry,) = read_lines(log_dir / "app_errors.log")
    exc = entry["exception"]
    assert exc["type"] == "ValueError" and exc["message"] == "bad value 42"
    assert exc["traceback"].startswith("Traceback (most recent call last)")
    assert "in fail" in exc["traceback"] and 'raise ValueError("bad value 42")' in exc["traceback"]
    assert entry["function"] == "test_errors_reach_the_errors_file_with_the_traceback"


def test_no_debug_file_above_debug_level(logs) -> None:
    """The debug file exists only when the level is DEBUG; debug records go nowhere."""
    log_dir = logs(log_level="INFO")
    log.debug("hidden")
    log.info("shown")
    flushed()
    assert not (log_dir / "app_debug.log").exists()
    assert [e["message"] for e in read_lines(log_dir / "app.log")] == ["shown"]


def test_second_setup_reconfigures_without_duplicating(logs, tmp_path: Path) -> None:
    """Calling setup twice leaves one perfkit handler and writes each line once."""
    logs()
    log_dir = logs(log_level="WARNING")
    root = logging.getLogger()
    assert sum(isinstance(h, PerfkitQueueHandler) for h in root.handlers) == 1
    assert root.level == logging.WARNING
    log.warning("once")
    log.info("filtered")
    flushed()
    assert [e["message"] for e in read_lines(log_dir / "app.log")] == ["once"]


def test_shutdown_removes_handlers_and_restores_the_level(tmp_path: Path) -> None:
    """After shutdown_logging nothing of perfkit remains on the root logger."""
    root = logging.getLogger()
    before = root.level
    returned = setup_logging("app", tmp_path, "ERROR", enable_console=False)
    assert returned is root
    log.error("written before shutdown")
    shutdown_logging()
    assert not any(isinstance(h, PerfkitQueueHandler) for h in root.handlers)
    assert root.level == before and log_files() == {}
    (entry,) = read_lines(tmp_path / "app.log")  # shutdown flushed the queue
    assert entry["message"] == "written before shutdown"
    shutdown_logging()  # a second shutdown is harmless


def test_console_is_json_off_a_tty_and_text_when_json_is_off(logs) -> None:
    """The console gets JSON unless enable_json is False (then human-readable text)."""
    stream = io.StringIO()
    logs(enable_console=True, enable_file=False, console_stream=stream)
    log.info("to the console")
    flushed()
    assert '"message": "to the console"' in stream.getvalue()
    text = io.StringIO()
    logs(enable_console=True, enable_file=False, enable_json=False, console_stream=text)
    log.warning("plain %s", "text")
    flushed()
    line = text.getvalue().strip()
    assert line.endswith("WARNING  tests.logs.files [-] plain text"), line

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    logs(enable_console=True, enable_file=False, console_stream=terminal)
    log.error("for humans")
    flushed()
    assert terminal.getvalue().strip().endswith("ERROR    tests.logs.files [-] for humans")


@given(st.text(max_size=300), st.integers(min_value=1, max_value=400))
def test_truncate_keeps_a_valid_prefix_within_the_limit(text: str, limit: int) -> None:
    """Truncation never splits a character and says how many bytes went."""
    out = truncate(text, limit)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size <= limit:
        assert out == text
    else:
        kept, marker = out.rsplit("...[truncated ", 1)
        assert text.startswith(kept) and len(kept.encode("utf-8", "surrogatepass")) <= limit
        assert marker == f"{size - limit} bytes]"


@given(st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False))
def test_timestamps_are_iso_8601_utc(created: float) -> None:
    """The timestamp parses as ISO 8601 and is the same instant (to the microsecond)."""
    stamp = iso_utc(created)
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)
    assert abs(parsed.timestamp() - created) < 2e-6


def test_huge_messages_are_truncated_with_a_marker(logs) -> None:
    """A message over max_message_bytes is cut and says how much was dropped."""
    log_dir = logs(max_message_bytes=1000)
    log.info("é" * 5000)  # 10,000 UTF-8 bytes
    flushed()
    (entry,) = read_lines(log_dir / "app.log")
    assert entry["message"].endswith("...[truncated 9000 bytes]")
    assert len(entry["message"].encode()) < 1100


def test_non_json_extras_are_stringified_never_raised(logs) -> None:
    """Objects, sets, bytes, non-string keys and cycles become JSON, never an error."""
    log_dir = logs()

    class Odd:
        def __str__(self) -> str:
            raise RuntimeError("no str for you")

    cycle: list[object] = []
    cycle.append(cycle)
    log.info(
        "odd extras",
        extra={"obj": Odd(), "ids": {3}, "raw": b"\xff", "keys": {1: "one"}, "cycle": cycle},
    )
    flushed()
    (entry,) = read_lines(log_dir / "app.log")
    assert entry["ids"] == [3] and entry["keys"] == {"1": "one"}
    assert isinstance(entry["obj"], str) and isinstance(entry["raw"], str)
    assert "nested too deep" in str(entry["cycle"])


def test_extras_that_collide_with_fields_are_renamed(logs) -> None:
    """An extra named like a documented field never overwrites it."""
    log_dir = logs()
    log.info("hi", extra={"level": "mine", "timestamp": 1})
    flushed()
    (entry,) = read_lines(log_dir / "app.log")
    assert entry["level"] == "INFO" and entry["extra_level"] == "mine"
    assert entry["extra_timestamp"] == 1


def test_unwritable_log_dir_is_a_clear_error(tmp_path: Path) -> None:
    """A log_dir that cannot be a directory raises ConfigError naming the path."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    bad = blocker / "logs"
    with pytest.raises(ConfigError, match=str(bad)):
        setup_logging("app", bad, enable_console=False)
    assert not any(isinstance(h, PerfkitQueueHandler) for h in logging.getLogger().handlers)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"log_level": "LOUD"}, "log_level 'LOUD'"),
        ({"app_name": "a/b"}, "app_name"),
        ({"max_bytes": -1}, "max_bytes"),
        ({"backup_count": 1.5}, "backup_count"),
    ],
)
def test_bad_arguments_name_the_value(tmp_path: Path, kwargs: dict, match: str) -> None:
    """Each bad argument is a ConfigError naming it and the expected form."""
    with pytest.raises(ConfigError, match=match):
        setup_logging(log_dir=tmp_path, enable_console=False, **kwargs)


def test_settings_from_the_environment_drive_setup(tmp_path: Path) -> None:
    """PERFKIT_LOG_* variables reach setup_logging through the settings."""
    env = {
        "PERFKIT_APP_NAME": "envapp",
        "PERFKIT_LOG_DIR": str(tmp_path / "envlogs"),
        "PERFKIT_LOG_LEVEL": "debug",
        "PERFKIT_LOG_REDACT_KEYS": "pin, ssn",
        "PERFKIT_LOG_MAX_MESSAGE_BYTES": "500",
    }
    settings = PerfkitSettings.from_env(env)
    try:
        setup_logging_from_settings(settings, enable_console=False)
        log.debug("d", extra={"pin": "1234", "password": "kept: not in the custom list"})
        log.info("y" * 2000)
    finally:
        shutdown_logging()
    debug = read_lines(tmp_path / "envlogs" / "envapp_debug.log")
    assert debug[0]["pin"] == "[REDACTED]" and debug[0]["password"].startswith("kept")
    assert "truncated" in debug[1]["message"]
    with pytest.raises(ConfigError, match="PERFKIT_LOG_REQUEST_SAMPLE_RATE"):
        PerfkitSettings.from_env({"PERFKIT_LOG_REQUEST_SAMPLE_RATE": "1.5"})
