"""A dump tool piped into a file and, at the same time, into a checking tool."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..errors import BackupError
from ._proc import tool_error
from .base import Progress

__all__ = ["dump_and_check"]

_CHUNK = 1 << 20


def dump_and_check(
    producer: Sequence[str],
    checker: Sequence[str],
    target: Path,
    *,
    env: Mapping[str, str],
    progress: Progress,
    secrets: Iterable[str] = (),
) -> None:
    """Run ``producer > target`` while feeding the same bytes to ``checker``'s stdin.

    The check (e.g. ``pg_restore`` reading every block) then costs no extra
    time after the dump. Both exit codes must be 0, else `BackupError`.
    Memory stays at one chunk; the checker's back-pressure slows the dump
    rather than buffering.
    """
    secrets = tuple(secrets)
    with tempfile.TemporaryFile() as dump_err, tempfile.TemporaryFile() as check_err:
        try:
            dump = subprocess.Popen(
                list(producer), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=dump_err, env=dict(env),
            )  # fmt: skip
        except OSError as exc:
            raise BackupError(f"could not start {Path(producer[0]).name}: {exc}") from None
        try:
            check = subprocess.Popen(
                list(checker), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=check_err
            )
        except OSError as exc:
            dump.kill()
            dump.wait()
            raise BackupError(f"could not start {Path(checker[0]).name}: {exc}") from None
        try:
            _copy(dump, check, target, progress)
        except BaseException:
            for proc in (dump, check):
                proc.kill()
                proc.wait()
            raise
        if dump.returncode != 0:
            raise tool_error(Path(producer[0]).name, dump.returncode, dump_err, secrets)
        if target.stat().st_size == 0:
            raise BackupError(f"{Path(producer[0]).name} wrote nothing; no backup stored")
        if check.returncode != 0:
            raise tool_error(Path(checker[0]).name, check.returncode, check_err, secrets)


def _copy(
    dump: subprocess.Popen[bytes], check: subprocess.Popen[bytes], target: Path, progress: Progress
) -> None:
    assert dump.stdout is not None and check.stdin is not None  # both are pipes
    done = 0
    checking = True
    with open(target, "wb") as out:
        while chunk := dump.stdout.read(_CHUNK):
            out.write(chunk)
            if checking:
                try:
                    check.stdin.write(chunk)
                except BrokenPipeError:  # the checker gave up; its exit code tells why
                    checking = False
            done += len(chunk)
            progress("dump", done, None)
    dump.stdout.close()
    with contextlib.suppress(BrokenPipeError):  # the checker's exit code reports it
        check.stdin.close()
    dump.wait()
    check.wait()
