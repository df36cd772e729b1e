"""Streaming file transforms for backups: gzip, encryption, sha256, atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import BackupError
from ._crypto import Decryptor, Encryptor
from .base import Progress

__all__ = [
    "decode_file",
    "encode_file",
    "fsync_dir",
    "sha256_file",
    "side_by_side",
    "temp_path",
    "write_atomic",
]

CHUNK = 1 << 20  # 1 MiB: memory stays flat whatever the database size


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories; the data is fsynced anyway
        pass
    finally:
        os.close(fd)


_COMPANIONS = ("-journal", "-wal", "-shm")


@contextlib.contextmanager
def temp_path(directory: Path, stem: str) -> Iterator[Path]:
    """A fresh hidden file name in `directory`, removed afterwards unless renamed away.

    Its companions go too: SQLite writing into it leaves ``-journal``, ``-wal``
    and ``-shm`` files beside it when a write fails (a full disk).
    """
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=directory)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        for leftover in (path, *(path.with_name(path.name + s) for s in _COMPANIONS)):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def side_by_side(fn: Callable[[], object] | None) -> Iterator[None]:
    """Run `fn` in a thread while the body runs; after both end, re-raise `fn`'s error."""
    if fn is None:
        yield
        return
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    thread = threading.Thread(target=run, name="perfkit-backup-check", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()
    if errors:
        raise errors[0]


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: temporary file beside it, fsync, rename."""
    with temp_path(path.parent, path.name) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    fsync_dir(path.parent)


def sha256_file(path: Path, progress: Progress | None = None, stage: str = "checksum") -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(stage, done, total)
    return digest.hexdigest()


def encode_file(
    src: Path,
    dst: Path,
    *,
    gzip_level: int | None,
    key: bytes | None,
    progress: Progress,
) -> str:
    """Stream `src` through gzip and/or encryption into `dst` (fsynced); return sha256 of `dst`."""
    digest = hashlib.sha256()
    compressor = zlib.compressobj(gzip_level, zlib.DEFLATED, 31) if gzip_level is not None else None
    encryptor = Encryptor(key) if key is not None else None
    total = src.stat().st_size
    done = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:

        def emit(data: bytes) -> None:
            if data:
                digest.update(data)
                fout.write(data)

        if encryptor is not None:
            emit(encryptor.header)
        while True:
            chunk = fin.read(CHUNK)
            final = not chunk
            data = chunk
            if compressor is not None:
                data = compressor.flush() if final else compressor.compress(chunk)
            if encryptor is not None:
                data = encryptor.update(data) + (encryptor.finalize() if final else b"")
            emit(data)
            if final:
                break
            done += len(chunk)
            progress("compress", done, total)
        fout.flush()
        os.fsync(fout.fileno())
    return digest.hexdigest()


def decode_file(
    src: Path, dst: Path, *, compressed: bool, key: bytes | None, progress: Progress
) -> None:
    """Inverse of `encode_file`; a bad gzip stream or failed authentication is a `BackupError`."""
    decompressor = zlib.decompressobj(31) if compressed else None
    decryptor = Decryptor(key) if key is not None else None
    total = src.stat().st_size
    done = 0
    try:
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            while True:
                chunk = fin.read(CHUNK)
                final = not chunk
                data = chunk
                if decryptor is not None:
                    data = decryptor.finalize() if final else decryptor.update(chunk)
                if decompressor is None:
                    fout.write(data)
                else:
                    _inflate(decompressor, data, fout.write, src.name)
                if final:
                    break
                done += len(chunk)
                progress("decode", done, total)
    except zlib.error as exc:
        raise BackupError(f"{src.name} is not a valid gzip stream: {exc}") from None
    if decompressor is not None and (not decompressor.eof or decompressor.unused_data):
        raise BackupError(f"{src.name} is a truncated or damaged gzip stream")


def _inflate(
    decompressor: zlib._Decompress, data: bytes, write: Callable[[bytes], object], name: str
) -> None:
    """Decompress `data` in bounded pieces, so a highly compressible dump cannot balloon memory."""
    while data:
        if decompressor.eof:
            raise BackupError(f"{name} has data after the end of its gzip stream")
        write(decompressor.decompress(data, 4 * CHUNK))
        data = decompressor.unconsumed_tail
