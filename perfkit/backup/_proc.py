"""Running dump tools: find them, pass secrets safely, check exit codes, report progress."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO

from ..errors import BackupError
from .base import Progress

__all__ = ["find_tool", "redact", "run_tool", "tool_error"]

_TAIL = 2000  # characters of a tool's stderr worth quoting in an error


def find_tool(names: Sequence[str], install_hint: str) -> str:
    """The full path of the first of `names` on PATH, or `BackupError` saying how to install it."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise BackupError(f"{names[0]} was not found on PATH; {install_hint}")


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def run_tool(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: Path | None = None,
    stdout: Path | None = None,
    watch: Path | None = None,
    progress: Progress | None = None,
    stage: str = "dump",
    secrets: Iterable[str] = (),
) -> None:
    """Run one tool to completion; any non-zero exit (or death by a signal) is a `BackupError`.

    Args:
        stdin / stdout: files to connect (stdout is created or truncated).
        watch: a file whose growing size is reported to `progress` while the tool runs.
        secrets: strings removed from any error message (passwords).
    """
    secrets = tuple(secrets)
    name = Path(argv[0]).name
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile() as err, contextlib.ExitStack() as stack:
        src: IO[bytes] | int = subprocess.DEVNULL
        dst: IO[bytes] | int = subprocess.DEVNULL
        if stdin is not None:
            src = stack.enter_context(open(stdin, "rb"))
        if stdout is not None:
            dst = stack.enter_context(open(stdout, "wb"))
        try:
            proc = subprocess.Popen(list(argv), stdin=src, stdout=dst, stderr=err, env=full_env)
        except OSError as exc:
            raise BackupError(f"could not start {name}: {exc.strerror or exc}") from None
        try:
            _wait(proc, watch, progress, stage)
        except BaseException:
            proc.kill()  # never leave a half-done dump running (Ctrl-C, errors)
            proc.wait()
            raise
        if proc.returncode != 0:
            raise tool_error(name, proc.returncode, err, secrets)


def tool_error(name: str, returncode: int, err: IO[bytes], secrets: Iterable[str]) -> BackupError:
    """A `BackupError` quoting the end of a failed tool's stderr (secrets redacted)."""
    err.seek(max(0, os.fstat(err.fileno()).st_size - _TAIL))
    tail = err.read().decode("utf-8", "replace").strip()
    how = (
        f"was killed by signal {-returncode}"
        if returncode < 0
        else f"exited with code {returncode}"
    )
    return BackupError(redact(f"{name} {how}: {tail or '(no error output)'}", secrets))


def _wait(
    proc: subprocess.Popen[bytes], watch: Path | None, progress: Progress | None, stage: str
) -> None:
    if progress is None or watch is None:
        proc.wait()
        return
    while True:
        try:
            proc.wait(timeout=0.2)  # wake up regularly only to report the dump's growth
            break
        except subprocess.TimeoutExpired:
            progress(stage, _path_size(watch), None)
    progress(stage, _path_size(watch), None)


def _path_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
