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

Faults never spread and never last: a descriptor is forgotten (set to -1) the
moment it is closed, so a number the host application reuses is never touched;
a failed open, rotation or write is retried on the next batch (a deleted
directory is recreated); a write cut short by a full disk is truncated back so
no torn line is left for the next record to be glued onto. Lines that could not
be written are counted in `lost_lines` and reported once per episode on stderr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["MultiProcessRotatingFileHandler"]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | _CLOEXEC
# read access only to look at the last byte (is the previous line whole?)
_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | _CLOEXEC


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
        self.lost_lines = 0  # lines that could not be written (full disk, no directory...)
        self._guard = threading.Lock()  # flock does not exclude threads sharing one fd
        self._fd = -1
        self._lock_fd = -1
        self._ident: tuple[int, int] = (0, 0)
        self._closed = False
        self._written = 0  # lines of the current batch already on disk
        self._troubles: set[str] = set()  # faults being reported ("write", "rotate")
        self._lost_at_trouble = 0
        self._open_lock()
        try:
            self._open_log()
        except OSError:
            self._forget_lock()
            raise

    # ------------------------------------------------------------ descriptors
    def _open_lock(self) -> None:
        self._lock_fd = os.open(self.lock_path, _LOCK_FLAGS, 0o644)

    def _open_log(self) -> None:
        fd = os.open(self.path, _FLAGS, 0o644)
        st = os.fstat(fd)
        self._fd, self._ident = fd, (st.st_dev, st.st_ino)

    def _forget_log(self) -> None:
        fd, self._fd = self._fd, -1  # forgotten first: a reused number is never closed twice
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _forget_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _reopen(self) -> None:
        """Open what is missing; recreate the directory if someone removed it."""
        if self._lock_fd >= 0 and self._fd >= 0:
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        if self._lock_fd < 0:
            self._open_lock()
        if self._fd < 0:
            self._open_log()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover - Windows
            yield
            return
        for _ in range(3):  # the lock file itself may have been removed: take the live one
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            if self._same_file(self._lock_fd, self.lock_path):
                break
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            self._forget_lock()
            self._reopen()
        try:
            yield
        finally:
            if self._lock_fd >= 0:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @staticmethod
    def _same_file(fd: int, path: str) -> bool:
        try:
            a, b = os.fstat(fd), os.stat(path)
        except FileNotFoundError:
            return False
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    # ------------------------------------------------------------ writing
    def emit(self, record: logging.LogRecord) -> None:
        """Format and write one record (the listener uses `write_lines` for batches)."""
        try:
            self.write_lines([self.format(record)])
        except Exception:
            self.handleError(record)

    def write_lines(self, lines: Sequence[str]) -> None:
        """Append `lines` (without newlines), rotating between lines as needed.

        Never raises for a file-system fault: the lines not written are counted
        in `lost_lines` and the next call starts again from a clean state.
        """
        if not lines or self._closed:
            return
        with self._guard:
            if self._closed:
                return
            self._written = 0
            try:
                self._reopen()
                with self._locked():
                    self._write_locked(lines)
            except OSError as exc:
                self._lost(len(lines) - self._written, exc)
                return
            if self._troubles:
                self._recovered("write")

    def _write_locked(self, lines: Sequence[str]) -> None:
        """Write under the lock, counting whole lines written in `_written`."""
        self._follow_rotation()
        limit = self.max_bytes
        size = os.fstat(self._fd).st_size
        chunk: list[bytes] = []
        if size > 0 and os.pread(self._fd, 1, size - 1) != b"\n":
            chunk.append(b"\n")  # a line left torn (crash, disk full): end it, keep ours whole
        pending = sum(map(len, chunk))
        in_chunk = 0
        for line in lines:
            data = (line + "\n").encode("utf-8", "backslashreplace")
            if limit > 0 and size + pending > 0 and size + pending + len(data) > limit:
                self._append(b"".join(chunk), size)
                self._written += in_chunk
                chunk, pending, in_chunk = [], 0, 0
                # an unwritable directory refuses the rotation: keep appending, lose nothing
                size = 0 if self._rotate() else os.fstat(self._fd).st_size
            chunk.append(data)
            pending += len(data)
            in_chunk += 1
        self._append(b"".join(chunk), size)
        self._written += in_chunk

    def _append(self, data: bytes, start: int) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            # a short write left part of a line: cut it off, or the next record joins it
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, start)
            raise

    def _follow_rotation(self) -> None:
        """Reopen the path when another process rotated (or someone removed) the file."""
        try:
            st = os.stat(self.path)
            current = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            current = (-1, -1)
        if current != self._ident:
            self._forget_log()
            self._open_log()

    def _rotate(self) -> bool:
        """Rotate; False (and keep the current file) when the directory refuses it."""
        try:
            if self.backup_count > 0:
                for i in range(self.backup_count - 1, 0, -1):
                    src = f"{self.path}.{i}"
                    if os.path.exists(src):
                        os.replace(src, f"{self.path}.{i + 1}")
                os.replace(self.path, self.path + ".1")
            else:
                os.unlink(self.path)
        except OSError as exc:
            # an unwritable directory: going on past max_bytes loses nothing; retried next batch
            self._report("rotate", f"cannot rotate {self.path}: {exc.strerror or exc}; appending")
            return False
        self._recovered("rotate")
        self.rotations += 1
        self._forget_log()
        self._open_log()
        return True

    # ------------------------------------------------------------ reporting
    def _lost(self, count: int, exc: OSError) -> None:
        if "write" not in self._troubles:
            self._lost_at_trouble = self.lost_lines
        self.lost_lines += count
        self._report("write", f"cannot write {self.path}: {exc.strerror or exc}; lines are lost")

    def _report(self, kind: str, message: str) -> None:
        if kind not in self._troubles:  # once per episode, not once per batch
            self._troubles.add(kind)
            _complain(message)

    def _recovered(self, kind: str) -> None:
        if kind in self._troubles:
            self._troubles.discard(kind)
            if kind == "write":
                lost = self.lost_lines - self._lost_at_trouble
                _complain(f"writing {self.path} again ({lost} lines were lost meanwhile)")
            else:
                _complain(f"rotating {self.path} again")

    # ------------------------------------------------------------ lifecycle
    def reopen_after_fork(self) -> None:
        """Give a forked child its own descriptors (a shared flock description excludes nothing)."""
        self._guard = threading.Lock()
        self._forget_log()
        self._forget_lock()
        with contextlib.suppress(OSError):  # retried on the first write
            self._reopen()

    def close(self) -> None:
        """Close the file and the lock file."""
        with self._guard:
            self._closed = True
            self._forget_log()
            self._forget_lock()
        super().close()


def _complain(message: str) -> None:
    with contextlib.suppress(Exception):  # stderr may be gone (interpreter shutdown)
        sys.stderr.write(f"perfkit.logs: {message}\n")
