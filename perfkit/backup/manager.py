"""`DatabaseBackup`: create, list, verify, restore, delete and rotate verified backups."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..clock import Clock, SystemClock
from ..component import Component
from ..errors import BackupError, ConfigError
from ..metrics.families import MetricFamily
from ._crypto import key_bytes
from ._io import (
    decode_file,
    encode_file,
    fsync_dir,
    sha256_file,
    side_by_side,
    temp_path,
    write_atomic,
)
from .base import BackupStrategy, Progress, no_progress, strategy_for_url
from .info import (
    BackupInfo,
    backup_filename,
    check_filename,
    check_prefix,
    free_name,
    list_entries,
    metadata_bytes,
    metadata_path,
    read_metadata,
    sha_path,
)
from .observe import BackupRuns

__all__ = ["DatabaseBackup"]

log = logging.getLogger("perfkit.backup")


class DatabaseBackup(Component):
    """Verified, rotated backups of one database into one directory.

    Args:
        database_url: ``sqlite:///path``, ``postgresql://…`` or ``mysql://…``
            (or any scheme registered with `register_strategy`).
        backup_dir: where backups and their ``.meta.json``/``.sha256`` files live.
        max_backups: how many backups of this database rotation keeps.
        compress: gzip the dump (PostgreSQL: pg_dump's own compression).
        compress_level: 1 (fast) to 9 (small).
        encryption_key: 32 bytes (or 64 hex digits / base64) to encrypt backups
            at rest with AES-256-GCM (needs ``perfkit[crypto]``).
        strategy: use this strategy instead of the one registered for the URL.
        clock: wall clock for names and timestamps (tests pass a FakeClock).
        check: ``"full"`` reads every page/block of each dump (SQLite
            ``integrity_check``, a full ``pg_restore`` read); ``"quick"`` checks the
            structure only (``quick_check``, ``pg_restore --list``) for speed.
    """

    def __init__(
        self,
        database_url: str,
        backup_dir: str | os.PathLike[str] = "backups",
        max_backups: int = 7,
        compress: bool = True,
        *,
        compress_level: int = 6,
        encryption_key: str | bytes | None = None,
        strategy: BackupStrategy | None = None,
        clock: Clock | None = None,
        check: str = "full",
    ) -> None:
        if isinstance(max_backups, bool) or not isinstance(max_backups, int) or max_backups < 1:
            raise ConfigError(
                f"max_backups = {max_backups!r} is not valid: expected an integer >= 1"
            )
        if isinstance(compress_level, bool) or compress_level not in range(1, 10):
            raise ConfigError(f"compress_level = {compress_level!r} is not valid: expected 1..9")
        if check not in ("full", "quick"):
            raise ConfigError(f"check = {check!r} is not valid: expected full or quick")
        self.strategy = strategy or strategy_for_url(database_url)
        self.strategy.check_level = check
        self.backup_dir = Path(backup_dir)
        self.max_backups = max_backups
        self._issued: dict[str, int] = {}  # the last name number given out, per second
        self.compress = bool(compress)
        self.compress_level = compress_level
        self._key = key_bytes(encryption_key)
        self.clock: Clock = clock or SystemClock()
        self._lock = threading.RLock()
        self.runs = BackupRuns(self.clock, self.list_backups)

    @property
    def database_type(self) -> str:
        return self.strategy.database_type

    # --- outcomes, and what the kit reads (perfkit.component) ---

    def get_backup_stats(self) -> dict[str, Any]:
        """Counts, sizes, newest/oldest backup and the outcome of the last runs."""
        backups = self.list_backups()
        total_bytes = sum(b.size_bytes for b in backups)
        return {
            "backup_dir": str(self.backup_dir),
            "database_type": self.database_type,
            "total_backups": len(backups),
            "total_size_bytes": total_bytes,
            "total_size_mb": round(total_bytes / (1024 * 1024), 3),
            "newest_backup": backups[0].filename if backups else None,
            "oldest_backup": backups[-1].filename if backups else None,
            "backups": [b.to_dict() for b in backups],
            "max_backups": self.max_backups,
            "compress": self.compress,
            "encrypted": self._key is not None,
            "newest": backups[0].to_dict() if backups else None,
            "oldest": backups[-1].to_dict() if backups else None,
            **self.status(),
        }

    def status(self) -> dict[str, Any]:
        """Run outcomes: last success/failure (ISO 8601 UTC), last error, counts."""
        return self.runs.status()

    def last_success_time(self) -> float | None:
        """Epoch seconds of the newest successful backup (this process or on disk), or None."""
        return self.runs.last_success_time()

    def hours_since_success(self) -> float | None:
        """Hours since the newest successful backup; None when there has never been one."""
        return self.runs.hours_since_success()

    def snapshot(self) -> dict[str, Any]:
        """The kit snapshot's ``backups`` section: `get_backup_stats()`."""
        return self.get_backup_stats()

    def alert_metrics(self) -> dict[str, float | None]:
        """``backup.hours_since_success`` for the "no successful backup in N hours" rule."""
        return {"backup.hours_since_success": self.hours_since_success()}

    def collect(self) -> Iterable[MetricFamily]:
        """Gauges and counters for ``/metrics``."""
        return self.runs.collect()

    # --- create ---

    def create_backup(
        self, name_prefix: str = "backup", *, progress: Progress | None = None, rotate: bool = True
    ) -> BackupInfo:
        """Dump, check, compress/encrypt, checksum and store a backup; then rotate old ones.

        Raises `BackupError` (and stores nothing) when any step fails.
        """
        prefix = check_prefix(name_prefix)
        report = progress or no_progress
        started = self.clock.monotonic()
        with self._lock:
            try:
                info = self._create(prefix, report)
            except BaseException as exc:
                self.runs.record_failure(exc)
                log.error("backup of %s failed: %s", self.strategy.display_url, exc)
                if isinstance(exc, OSError):
                    raise BackupError(f"backup failed: {exc}") from exc
                raise
            self.runs.record_success(info, self.clock.monotonic() - started)
            log.info("backup %s created (%d bytes)", info.filename, info.size_bytes)
            if rotate:
                self._rotate(info)
        return info

    def _create(self, prefix: str, report: Progress) -> BackupInfo:
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        when = datetime.fromtimestamp(self.clock.time(), timezone.utc)
        gzip = self.compress and not self.strategy.native_compression
        extension = (
            self.strategy.extension + (".gz" if gzip else "") + (".enc" if self._key else "")
        )
        stamp = backup_filename(prefix, when, "")
        filename, number = free_name(
            self.backup_dir, prefix, when, extension, self._issued.get(stamp, -1)
        )
        self._issued = {stamp: number}  # only the current second can clash
        path = self.backup_dir / filename
        with (
            temp_path(self.backup_dir, filename) as raw,
            temp_path(self.backup_dir, filename) as enc,
        ):
            checked = self.strategy.dump(
                raw, report, compress=self.compress, level=self.compress_level
            )
            raw_size = raw.stat().st_size
            if raw_size == 0:
                raise BackupError(f"the {self.database_type} dump wrote nothing; no backup stored")
            report("verify", 0, None)
            # The engine's check and the checksum/compression only read the dump: run them
            # side by side; nothing is renamed into place unless both succeed.
            with side_by_side(None if checked else lambda: self.strategy.check(raw)):
                if gzip or self._key:
                    level = self.compress_level if gzip else None
                    digest = encode_file(raw, enc, gzip_level=level, key=self._key, progress=report)
                    stored = enc
                else:
                    with open(raw, "rb+") as fh:
                        os.fsync(fh.fileno())
                    digest = sha256_file(raw, report)
                    stored = raw
            os.replace(stored, path)
        try:
            info = BackupInfo(
                filename=filename, path=path, size_bytes=path.stat().st_size, timestamp=when,
                database_type=self.database_type, compressed=self.compress, sha256=digest,
                encrypted=self._key is not None,
            )  # fmt: skip
            extra = {"gzip": gzip, "raw_size_bytes": raw_size, "source": self.strategy.display_url}
            write_atomic(sha_path(path), f"{digest}  {filename}\n".encode())
            write_atomic(metadata_path(path), metadata_bytes(info, extra))
            fsync_dir(self.backup_dir)
        except BaseException:
            for leftover in (path, sha_path(path), metadata_path(path)):
                leftover.unlink(missing_ok=True)
            raise
        return info

    # --- list, find, delete, rotate ---

    def list_backups(self) -> list[BackupInfo]:
        """Every backup in `backup_dir` with readable metadata, newest first."""
        return [info for info, _ in self._entries()]

    def _entries(self) -> list[tuple[BackupInfo, dict[str, Any]]]:
        return list_entries(self.backup_dir)

    def _find(self, filename: str) -> tuple[BackupInfo, dict[str, Any]] | None:
        name = check_filename(filename)
        meta = metadata_path(self.backup_dir / name)
        return read_metadata(meta) if meta.is_file() else None

    def delete_backup(self, filename: str) -> bool:
        """Delete a backup and its metadata; False when no backup has that name."""
        with self._lock:
            entry = self._find(filename)
            if entry is None:
                return False
            path = entry[0].path
            # Metadata first, so a half-deleted backup is no longer listed.
            metadata_path(path).unlink(missing_ok=True)
            sha_path(path).unlink(missing_ok=True)
            path.unlink(missing_ok=True)
            log.info("backup %s deleted", filename)
            return True

    def _rotate(self, newest: BackupInfo) -> None:
        """Keep the `max_backups` newest backups of this database; `newest` (verified) stays."""
        source = self.strategy.display_url
        mine = [info for info, body in self._entries() if body.get("source") == source]
        for info in mine[self.max_backups :]:
            if info.filename != newest.filename:
                self.delete_backup(info.filename)

    # --- verify and restore ---

    def verify_backup(self, filename: str, *, progress: Progress | None = None) -> bool:
        """True when the backup's checksum, encoding and contents are all intact."""
        entry = self._find(filename)
        if entry is None:
            return False
        try:
            with self._checked_dump(*entry, progress or no_progress):
                return True
        except (BackupError, OSError) as exc:
            log.warning("backup %s failed verification: %s", filename, exc)
            return False

    @contextlib.contextmanager
    def _checked_dump(
        self, info: BackupInfo, body: dict[str, Any], report: Progress
    ) -> Iterator[Path]:
        """Verify `info` (size, sha256, gzip/encryption, engine check) and yield its plain dump."""
        size = info.path.stat().st_size
        if size != info.size_bytes:
            raise BackupError(
                f"{info.filename} is {size} bytes, its metadata says {info.size_bytes}"
            )
        if sha256_file(info.path, report, "verify") != info.sha256:
            raise BackupError(f"{info.filename} does not match its sha256 checksum")
        if info.encrypted and self._key is None:
            raise BackupError(f"{info.filename} is encrypted and no encryption key is configured")
        gzip = bool(body.get("gzip", False))
        with contextlib.ExitStack() as stack:
            plain = info.path
            if gzip or info.encrypted:
                plain = stack.enter_context(temp_path(self.backup_dir, info.filename))
                key = self._key if info.encrypted else None
                decode_file(info.path, plain, compressed=gzip, key=key, progress=report)
            if info.database_type == self.database_type:
                self.strategy.check(plain)
            yield plain

    def restore_backup(
        self, filename: str, *, progress: Progress | None = None, safety_backup: bool = True
    ) -> dict[str, Any]:
        """Verify a backup, take a safety backup of the current database, then restore.

        Returns what was done: ``{restored, database_type, safety_backup, duration_seconds}``.
        Raises `ValueError` for a name that is not a plain file name and `BackupError`
        for an unknown, corrupted or other-engine backup (nothing is touched then).
        """
        report = progress or no_progress
        started = self.clock.monotonic()
        with self._lock:
            entry = self._find(filename)
            if entry is None:
                raise BackupError(f"no backup named {filename!r} in {str(self.backup_dir)!r}")
            info, body = entry
            if info.database_type != self.database_type:
                raise BackupError(
                    f"refusing to restore {filename}: it is a {info.database_type} backup and "
                    f"the target is a {self.database_type} database"
                )
            safety: BackupInfo | None = None
            try:
                with self._checked_dump(info, body, report) as plain:
                    if safety_backup and self.strategy.exists():
                        safety = self.create_backup("pre_restore", progress=report, rotate=False)
                    log.warning("restoring %s into %s", filename, self.strategy.display_url)
                    self.strategy.restore(plain, report)
            except (BackupError, OSError) as exc:
                kept = f"; the database as it was is in {safety.filename}" if safety else ""
                log.error("restore of %s failed: %s%s", filename, exc, kept)
                raise BackupError(f"restore of {filename} failed: {exc}{kept}") from None
        return {
            "restored": filename,
            "database_type": self.database_type,
            "safety_backup": safety.filename if safety else None,
            "duration_seconds": self.clock.monotonic() - started,
        }
