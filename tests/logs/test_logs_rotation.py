"""Rotation shared by several processes: nothing lost, nothing interleaved, no double rotation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from logs_support import read_lines

from perfkit.logs import MultiProcessRotatingFileHandler

WRITER = r"""
import logging, sys
from perfkit.logs import setup_logging, shutdown_logging
log_dir = sys.argv[1]
worker, count, max_bytes = (int(a) for a in sys.argv[2:5])
setup_logging("multi", log_dir, enable_console=False, max_bytes=max_bytes, backup_count=2000)
log = logging.getLogger("worker")
print("ready", flush=True)
sys.stdin.readline()  # start together, so the processes really contend
for seq in range(count):
    extra = {"worker": worker, "seq": seq, "pad": "x" * (seq % 97)}
    log.info("worker %d line %d", worker, seq, extra=extra)
shutdown_logging()
"""


def _rotated_files(log_dir: Path, name: str) -> list[Path]:
    return sorted(p for p in log_dir.iterdir() if p.name == name or p.name.startswith(name + "."))


def test_four_processes_rotating_one_file_lose_and_interleave_nothing(tmp_path: Path) -> None:
    """4 processes x 5,000 lines, 64 KiB files: every line parses, the total is exact."""
    workers, count, max_bytes = 4, 5000, 64 * 1024
    log_dir = tmp_path / "logs"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(log_dir), str(w), str(count), str(max_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for w in range(workers)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.close()
        for proc in procs:
            proc.wait(timeout=240)
            assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
    files = _rotated_files(log_dir, "multi.log")
    assert len(files) > 20, "the test must actually rotate many times"
    seen: set[tuple[int, int]] = set()
    longest = 0
    for path in files:
        for entry in read_lines(path):  # a torn or interleaved line would not parse
            key = (entry["worker"], entry["seq"])
            assert key not in seen, f"duplicate line {key}"
            seen.add(key)
        raw = path.read_bytes()
        longest = max([longest, *map(len, raw.splitlines(keepends=True))])
        assert len(raw) <= max_bytes, f"{path.name} is {len(raw)} bytes"
    assert len(seen) == workers * count
    # a file rotated twice would be left short: every rotated file was filled first
    for path in files:
        if path.name != "multi.log":
            assert path.stat().st_size > max_bytes - longest, path.name


def test_a_handler_follows_a_rotation_done_by_another(tmp_path: Path) -> None:
    """Two handlers on one file (as two processes): writes after a rotation go to the new file."""
    path = tmp_path / "shared.log"
    first = MultiProcessRotatingFileHandler(str(path), max_bytes=100, backup_count=5)
    second = MultiProcessRotatingFileHandler(str(path), max_bytes=100, backup_count=5)
    try:
        first.write_lines([json.dumps({"n": i, "who": "first"}) for i in range(4)])
        second.write_lines([json.dumps({"n": 9, "who": "second"})])  # fills: rotates
        first.write_lines([json.dumps({"n": 10, "who": "first"})])
    finally:
        first.close()
        second.close()
    assert first.rotations + second.rotations >= 1
    lines = [e for p in _rotated_files(tmp_path, "shared.log") for e in read_lines(p)]
    assert len(lines) == 6
    newest = read_lines(path)
    assert newest[-1] == {"n": 10, "who": "first"}  # not written into the rotated file


def test_backup_count_bounds_the_files_kept(tmp_path: Path) -> None:
    """With backup_count=2 only app.log, .1 and .2 remain; the newest lines survive."""
    path = tmp_path / "app.log"
    handler = MultiProcessRotatingFileHandler(str(path), max_bytes=50, backup_count=2)
    try:
        handler.write_lines([f'{{"n": {i}, "pad": "{"x" * 20}"}}' for i in range(20)])
    finally:
        handler.close()
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert names == ["app.log", "app.log.1", "app.log.2"]
    assert read_lines(path)[-1]["n"] == 19


def test_a_removed_file_is_recreated(tmp_path: Path) -> None:
    """External log cleanup (rm app.log) does not make later lines vanish."""
    path = tmp_path / "app.log"
    handler = MultiProcessRotatingFileHandler(str(path), max_bytes=0, backup_count=0)
    try:
        handler.write_lines(['{"n": 1}'])
        path.unlink()
        handler.write_lines(['{"n": 2}'])
    finally:
        handler.close()
    assert read_lines(path) == [{"n": 2}]


FORKER = r"""
import logging, os, sys
from perfkit.logs import flush_logging, setup_logging, shutdown_logging
setup_logging("forked", sys.argv[1], enable_console=False, max_bytes=4096, backup_count=500)
log = logging.getLogger("forker")
log.info("parent before fork")
children = []
for n in range(2):
    pid = os.fork()
    if pid == 0:  # the writer thread did not survive the fork: perfkit restarts it
        for i in range(300):
            log.info("child %d line %d", n, i)
        assert flush_logging(30)
        os._exit(0)  # like multiprocessing: no atexit, hence the explicit flush
    children.append(pid)
for pid in children:
    assert os.waitpid(pid, 0)[1] == 0
log.info("parent after fork")
shutdown_logging()
"""


def test_forked_children_get_their_own_writer(tmp_path: Path) -> None:
    """setup before fork (gunicorn --preload): children log through their own thread and lock."""
    log_dir = tmp_path / "logs"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", FORKER, str(log_dir)],
        env=env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    entries = [e for p in _rotated_files(log_dir, "forked.log") for e in read_lines(p)]
    messages = [e["message"] for e in entries]
    assert len(messages) == 602 and len(set(messages)) == 602
    assert len({e["process"] for e in entries}) == 3


EXITER = r"""
import logging, sys
from perfkit.logs import setup_logging
setup_logging("exit", sys.argv[1], enable_console=False)
for i in range(3000):
    logging.getLogger("exiting").info("line %d", i)
# no shutdown_logging(): the atexit hook must write what is still queued
"""


def test_queued_lines_are_written_at_a_clean_exit(tmp_path: Path) -> None:
    """A process that exits right after logging loses nothing (atexit flush)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", EXITER, str(tmp_path)],
        env=env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    lines = read_lines(tmp_path / "exit.log")
    assert [e["message"] for e in lines] == [f"line {i}" for i in range(3000)]
