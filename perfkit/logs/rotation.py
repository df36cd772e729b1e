"""Size-based rotation that several processes can share (gunicorn -w 4 on one file).

Mechanism: every write (a batch of whole lines) happens while holding an
exclusive ``fcntl.flock`` on a lock file beside the log (``.{file}.lock``, a
file that is never renamed, unlike the log itself). Under the lock a process

1. checks that the file it has open is still the one at the path (same device
   and inode); if another process rotated it, it reopens the path first;
2. reads the current size with ``fstat`` and rotates when the next line would
   pass ``max_bytes``;
3. appends whole lines with ``O_APPEND`` and unbuffered ``os.write``.

So no line is written to a file after it was rotated away (none lost), lines
from different processes never interleave (one writer at a time, whole lines),
and a file is rotated once, by whichever process first sees it full (the
others see a new inode and a small size). Without ``fcntl`` (Windows) the lock
is a no-op and only one process may write a given file.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["MultiProcessRotatingFileHandler"]

_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class MultiProcessRotatingFileHandler(logging.Handler):
    """Append lines to `filename`, rotating at `max_bytes` into ``.1`` … ``.{backup_count}``.

    Safe for several processes writing the same file (see the module docstring).
    Opening happens in the constructor so a bad path fails at setup, not later.

    Args:
        filename: the log file; its directory must exist.
        max_bytes: rotate before a write would make the file larger; 0 never rotates.
        backup_count: rotated files kept; 0 means the full file is deleted on rotation.
    """

    def __init__(self, filename: str, max_bytes: int = 10 * 1024 * 1024, backup_count: int = 10):
        super().__init__()
        self.path = os.path.abspath(filename)
        head, tail = os.path.split(self.path)
        self.lock_path = os.path.join(head, f".{tail}.lock")  # hidden: never rotated
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self.rotations = 0  # how many rotations this process did (for tests and stats)
        self._guard = threading.Lock()  # flock does not exclude threads sharing one fd
        self._fd = -1
        self._lock_fd = -1
        self._ident: tuple[int, int] = (0, 0)
        self._open()

    def _open(self) -> None:
        self._lock_fd = os.open(
            self.lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        )
        try:
            self._open_log()
        except OSError:
            os.close(self._lock_fd)
            self._lock_fd = -1
            raise

    def _open_log(self) -> None:
        fd = os.open(self.path, _FLAGS, 0o644)
        st = os.fstat(fd)
        self._fd, self._ident = fd, (st.st_dev, st.st_ino)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._guard:
            if fcntl is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def emit(self, record: logging.LogRecord) -> None:
        """Format and write one record (the listener uses `write_lines` for batches)."""
        try:
            self.write_lines([self.format(record)])
        except Exception:
            self.handleError(record)

    def write_lines(self, lines: Sequence[str]) -> None:
        """Append `lines` (without newlines), rotating between lines as needed."""
        if not lines or self._fd < 0:
            return
        limit = self.max_bytes
        with self._locked():
            self._follow_rotation()
            size = os.fstat(self._fd).st_size
            chunk: list[bytes] = []
            pending = 0
            for line in lines:
                data = (line + "\n").encode("utf-8", "backslashreplace")
                if limit > 0 and size + pending > 0 and size + pending + len(data) > limit:
                    self._write(b"".join(chunk))
                    chunk, pending = [], 0
                    self._rotate()
                    size = 0
                chunk.append(data)
                pending += len(data)
            self._write(b"".join(chunk))

    def _follow_rotation(self) -> None:
        """Reopen the path when another process rotated (or someone removed) the file."""
        try:
            st = os.stat(self.path)
            current = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            current = (-1, -1)
        if current != self._ident:
            os.close(self._fd)
            self._open_log()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        if self.backup_count > 0:
            for i in range(self.backup_count - 1, 0, -1):
                src = f"{self.path}.{i}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i + 1}")
            os.replace(self.path, self.path + ".1")
        else:
            os.unlink(self.path)
        self.rotations += 1
        self._open_log()

    def reopen_after_fork(self) -> None:
        """Give a forked child its own descriptors (a shared flock description excludes nothing)."""
        self._guard = threading.Lock()
        for fd in (self._fd, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._lock_fd = -1
        self._open()

    def close(self) -> None:
        """Close the file and the lock file."""
        with self._guard:
            for fd in (self._fd, self._lock_fd):
                if fd >= 0:
                    os.close(fd)
            self._fd = self._lock_fd = -1
        super().close()
