"""Faults of the host store's file, caused for real: a corrupt file, another version's schema,
a data directory that cannot be created, a read-only one and a full disk (tmpfs mounts, as
root). Each time: one clear log line, this worker's own figures (scope ``process``, said in
the snapshot), the app unaffected — and the host's figures back once the file works again."""

from __future__ import annotations

import io
import logging
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.metrics.stores.host import HostStore, host_store_path
from perfkit.wsgi import PerfkitMiddleware


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def serve(kit: Perfkit, n: int, route: str = "/a") -> None:
    wrapped = PerfkitMiddleware(app, kit)
    for i in range(n):
        path = f"{route}{i % 3}"
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "wsgi.input": io.BytesIO()}
        assert b"".join(wrapped(environ, lambda *a: None)) == b"ok"


def host_kit(data_dir: Path | str) -> Perfkit:
    kit = Perfkit(PerfkitSettings(metrics_store="host", data_dir=str(data_dir)))
    assert isinstance(kit.store, HostStore)
    kit.store.retry_interval = 0.0  # try the file again at every read (tests)
    return kit


def assert_own_figures(kit: Perfkit, n: int, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    snap = kit.snapshot()
    assert snap["requests"]["summary"]["count"] == n
    assert snap["scope"] == "process"
    assert snap["scope_note"].startswith("this worker only") and reason in snap["scope_note"]
    assert reason in snap["fleet"]["fault"]
    lines = [r.getMessage() for r in caplog.records if "host store unusable" in r.getMessage()]
    assert len(lines) == 1, lines  # said once, not at every read
    assert reason in lines[0] and "own figures" in lines[0]


def test_a_corrupt_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    Path(host_store_path(str(tmp_path))).write_bytes(b"not a database at all\n" * 500)
    kit = host_kit(tmp_path)
    with caplog.at_level(logging.WARNING, logger="perfkit.store"):
        serve(kit, 5)
        kit.snapshot()
        assert_own_figures(kit, 5, "file is not a database", caplog)


def test_a_file_of_another_version(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = host_store_path(str(tmp_path))
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('schema', 'perfkit-host/999')")
    kit = host_kit(tmp_path)
    with caplog.at_level(logging.WARNING, logger="perfkit.store"):
        serve(kit, 4)
        assert_own_figures(kit, 4, "another version of perfkit", caplog)
    assert "'perfkit-host/999'" in kit.snapshot()["scope_note"]


def test_a_data_directory_that_cannot_be_created(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "taken").write_text("a file where the directory should be")
    kit = host_kit(tmp_path / "taken" / "data")
    with caplog.at_level(logging.WARNING, logger="perfkit.store"):
        serve(kit, 3)
        assert_own_figures(kit, 3, "cannot create the data directory", caplog)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs of the test's own (mount needs root, as in CI; skipped elsewhere)."""
    where = tmp_path / "mnt"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(where)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def remount(where: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], check=True)


def test_a_read_only_data_directory(tmpfs: Path, caplog: pytest.LogCaptureFixture) -> None:
    remount(tmpfs, "ro")
    kit = host_kit(tmpfs)
    with caplog.at_level(logging.WARNING, logger="perfkit.store"):
        serve(kit, 6)
        assert_own_figures(kit, 6, "not writable", caplog)
        remount(tmpfs, "rw")
        snap = kit.snapshot()  # the file works again: the host's figures, all of them once
    assert (snap["scope"], snap["scope_note"]) == ("host", None)
    assert snap["requests"]["summary"]["count"] == 6


def test_a_full_disk(tmpfs: Path, caplog: pytest.LogCaptureFixture) -> None:
    kit = host_kit(tmpfs)
    serve(kit, 10)
    assert kit.snapshot()["scope"] == "host"
    filler = tmpfs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # the disk is full now
    finally:
        os.close(fd)
    with caplog.at_level(logging.WARNING, logger="perfkit.store"):
        for i in range(30):  # new series need new pages: the write must fail
            serve(kit, 20, route=f"/full{i}/")
        snap = kit.snapshot()
        assert snap["scope"] == "process", snap["fleet"]
        assert snap["requests"]["summary"]["count"] == 610
        assert "full" in snap["fleet"]["fault"]
        os.unlink(filler)
        snap = kit.snapshot()
    assert snap["scope"] == "host"
    assert snap["requests"]["summary"]["count"] == 610  # nothing lost, nothing twice
