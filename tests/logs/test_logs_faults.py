"""Logging under real faults: exit, a deleted directory, an immutable one, a full disk.

Nothing perfkit does may close or write what belongs to the host application,
logging recovers by itself once the fault is gone, and every line of a process
that exits normally is on disk.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from fault_support import fill, immutable, small_tmpfs
from logs_support import flushed, read_lines

from perfkit.logs import (
    MultiProcessRotatingFileHandler,
    log_request,
    setup_logging,
    shutdown_logging,
)

log = logging.getLogger("tests.logs.faults")

SHUTDOWN_WRITER = r"""
import logging, sys
from perfkit.logs import setup_logging
log_dir, worker = sys.argv[1], int(sys.argv[2])
setup_logging("multi", log_dir, enable_console=False, max_bytes=256 * 1024, backup_count=5000)
log = logging.getLogger("worker")
for seq in range(5000):
    log.info("worker %d line %d", worker, seq, extra={"worker": worker, "seq": seq})
logging.shutdown()  # what every interpreter exit runs; perfkit's own hook is not involved
import os
os._exit(0)  # like a multiprocessing worker: no atexit at all
"""


def test_logging_shutdown_writes_every_queued_line_from_four_processes(tmp_path: Path) -> None:
    """4 processes x 5,000 lines then logging.shutdown(): all 20,000 lines are on disk."""
    log_dir = tmp_path / "logs"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SHUTDOWN_WRITER, str(log_dir), str(w)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        for w in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()
    seen = {
        (e["worker"], e["seq"])
        for p in log_dir.iterdir()
        if p.name.startswith("multi.log")
        for e in read_lines(p)
    }
    assert len(seen) == 20_000


def test_queue_handler_flush_waits_for_the_writer(logs) -> None:
    """handler.flush() returns only once the lines are in the file."""
    log_dir = logs()
    for i in range(2000):
        log.info("line %d", i)
    handler = next(h for h in logging.getLogger().handlers if hasattr(h, "listener"))
    handler.flush()
    assert len((log_dir / "app.log").read_text().splitlines()) == 2000


def test_deleting_the_log_dir_never_touches_the_host_apps_descriptors(tmp_path: Path) -> None:
    """The directory removed while the app runs: the app's own files keep working, logs resume."""
    log_dir = tmp_path / "logs"
    setup_logging("app", log_dir, enable_console=False)
    try:
        log.info("before")
        flushed()
        shutil.rmtree(log_dir)
        log.info("just after the directory went")
        flushed()
        host = [os.open(tmp_path / f"host{i}.txt", os.O_RDWR | os.O_CREAT) for i in range(8)]
        try:
            log.info("later")
            flushed()
            for fd in host:  # none was closed or written to by perfkit
                assert os.write(fd, b"host data\n") == 10
                os.lseek(fd, 0, os.SEEK_SET)
                assert os.read(fd, 100) == b"host data\n"
        finally:
            for fd in host:
                os.close(fd)
    finally:
        shutdown_logging()  # must not raise (EBADF before the fix)
    messages = [e["message"] for e in read_lines(log_dir / "app.log")]
    assert "later" in messages and "before" not in messages


def test_logging_recovers_after_the_directory_refused_a_rotation(tmp_path: Path, capfd) -> None:
    """Rotation due while the directory is immutable: nothing lost, rotation resumes after."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    handler = MultiProcessRotatingFileHandler(str(log_dir / "app.log"), 200, backup_count=50)
    try:
        handler.write_lines([f'{{"n": {i}, "pad": "{"x" * 40}"}}' for i in range(3)])
        with immutable(log_dir):
            handler.write_lines([f'{{"n": {i}, "pad": "{"x" * 40}"}}' for i in range(3, 10)])
        assert handler.lost_lines == 0
        handler.write_lines([f'{{"n": {i}, "pad": "{"x" * 40}"}}' for i in range(10, 20)])
    finally:
        handler.close()
    assert "cannot rotate" in capfd.readouterr().err
    files = [p for p in log_dir.iterdir() if p.name.startswith("app.log")]
    numbers = sorted(e["n"] for p in files for e in read_lines(p))
    assert numbers == list(range(20))
    assert handler.rotations >= 2  # rotating again once the directory allowed it
    assert (log_dir / "app.log").stat().st_size <= 200


def test_a_full_disk_leaves_no_torn_line_and_logging_resumes(tmp_path: Path, capfd) -> None:
    """A real full tmpfs: every line in the file parses; lines after freeing it arrive."""
    with small_tmpfs(tmp_path / "disk", 64) as disk:
        handler = MultiProcessRotatingFileHandler(str(disk / "app.log"), 0, backup_count=0)
        try:
            handler.write_lines(['{"n": 0}'])
            filler = fill(disk)
            for n in range(1, 40):  # some fit in the last bytes, some are cut short
                handler.write_lines([f'{{"n": {n}, "pad": "{"y" * 300}"}}'])
            assert handler.lost_lines > 0
            filler.unlink()
            handler.write_lines(['{"n": 1000}'])
        finally:
            handler.close()
        entries = read_lines(disk / "app.log")  # a torn line would not parse
    assert entries[0] == {"n": 0} and entries[-1] == {"n": 1000}
    err = capfd.readouterr().err
    assert "No space left" in err and "again" in err


def test_text_mode_cannot_be_forged_by_a_line_break_in_a_path(logs) -> None:
    """log_json=False: a decoded %0A in the request path stays inside one line."""
    log_dir = logs(enable_json=False)
    forged = "/x\n2026-01-01 00:00:00,000 CRITICAL admin [-] forged"
    log_request("GET", forged, 200, 1.0)
    log.warning("user said %s", "a\r\nb")
    try:
        raise ValueError("boom\nINFO forged from an exception")
    except ValueError:
        log.exception("failed")
    flushed()
    for name in ("app.log", "app_requests.log", "app_errors.log"):
        for line in (log_dir / name).read_text().splitlines():
            assert "forged" not in line or not line.startswith("2026-01-01"), line
            assert line.startswith((" ", "20")), f"{name}: a line not starting a record: {line!r}"
    requests = (log_dir / "app_requests.log").read_text().splitlines()
    assert len(requests) == 1 and "\\n2026-01-01" in requests[0]


def test_user_ids_are_pseudonymised_in_every_file(logs) -> None:
    """user_id_hash_key set: no line of any file carries the clear id."""
    from perfkit.context import user_id_var

    log_dir = logs(log_level="DEBUG", user_id_hash_key="k3y")
    token = user_id_var.set("alice@example.com")
    try:
        log.debug("debug")
        log.info("info")
        log.error("error")
        log_request("GET", "/", 200, 1.0, user_id="alice@example.com")
    finally:
        user_id_var.reset(token)
    flushed()
    ids = set()
    for name in ("app.log", "app_errors.log", "app_debug.log", "app_requests.log"):
        text = (log_dir / name).read_text()
        assert "alice" not in text, name
        ids |= {e["user_id"] for e in read_lines(log_dir / name)}
    assert len(ids) == 1 and ids.pop().startswith("u_")


def test_console_text_escapes_control_characters() -> None:
    """The formatter itself: ESC and CR never reach a terminal raw."""
    from perfkit.logs import ConsoleFormatter

    record = logging.makeLogRecord({"msg": "a\x1b[2Jb\rc", "levelname": "INFO", "name": "x"})
    line = ConsoleFormatter().format(record)
    assert "\x1b" not in line and "\r" not in line and "\\x1b" in line
    assert io.StringIO(line).read().count("\n") == 0
