"""`BackupInfo`, backup file names, and the metadata JSON kept beside every backup."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import BackupError

__all__ = ["BackupInfo", "backup_filename", "check_filename", "check_prefix"]

META_SUFFIX = ".meta.json"
SHA_SUFFIX = ".sha256"
# What check_filename accepts, as a JSON-Schema pattern too (the OpenAPI document uses it).
NAME_PATTERN = r"^(?!.*\.meta\.json$)[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
_NAME = re.compile(NAME_PATTERN)
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class BackupInfo:
    """One stored backup; `timestamp` is tz-aware UTC, `size_bytes` the size on disk."""

    filename: str
    path: Path
    size_bytes: int
    timestamp: datetime
    database_type: str
    compressed: bool
    sha256: str
    encrypted: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (for the CLI, the HTTP API and the snapshot)."""
        return {
            "filename": self.filename,
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "timestamp": self.timestamp.isoformat(),
            "database_type": self.database_type,
            "compressed": self.compressed,
            "encrypted": self.encrypted,
            "sha256": self.sha256,
        }


def check_filename(name: object) -> str:
    """`name` if it is a plain backup file name; else `ValueError` (paths, '..', NUL, empty)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"backup name {name!r} is not valid: expected a file name from list_backups() "
            "(letters, digits, '.', '_', '-'; no path)"
        )
    return name


def check_prefix(prefix: object) -> str:
    """`prefix` if it can start a backup name; else `ValueError`."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ValueError(
            f"backup name prefix {prefix!r} is not valid: expected 1-64 letters, digits, '_' or '-'"
        )
    return prefix


def backup_filename(prefix: str, when: datetime, extension: str, n: int = 0) -> str:
    """``{prefix}_{YYYYmmdd_HHMMSS}[_n]{extension}``."""
    stamp = when.astimezone(timezone.utc).strftime("%Y%m%d_%H%M%S")
    suffix = f"_{n}" if n else ""
    return f"{prefix}_{stamp}{suffix}{extension}"


def metadata_path(path: Path) -> Path:
    return path.with_name(path.name + META_SUFFIX)


def sha_path(path: Path) -> Path:
    return path.with_name(path.name + SHA_SUFFIX)


def metadata_bytes(info: BackupInfo, extra: dict[str, Any]) -> bytes:
    body = {"format": 1, **info.to_dict(), **extra}
    del body["path"]  # the directory may move; the name is what matters
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


def read_metadata(meta: Path) -> tuple[BackupInfo, dict[str, Any]] | None:
    """The `BackupInfo` of a metadata file; None if it is unreadable or its data is gone."""
    try:
        body = json.loads(meta.read_text(encoding="utf-8"))
        filename = check_filename(body["filename"])
        path = meta.with_name(filename)
        if meta.name != filename + META_SUFFIX or not path.is_file():
            return None
        timestamp = datetime.fromisoformat(body["timestamp"]).astimezone(timezone.utc)
        info = BackupInfo(
            filename=filename,
            path=path,
            size_bytes=int(body["size_bytes"]),
            timestamp=timestamp,
            database_type=str(body["database_type"]),
            compressed=bool(body["compressed"]),
            sha256=str(body["sha256"]),
            encrypted=bool(body.get("encrypted", False)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info, body


def free_name(
    directory: Path, prefix: str, when: datetime, extension: str, issued: int = -1
) -> tuple[str, int]:
    """A ``backup_filename`` never used in `directory`, and its number.

    The number is one past the highest already used for this prefix and second
    (by any file, or `issued`, the last one this process handed out), never the
    first free one: once rotation deletes ``_0``, the next backup of that second
    must not be named ``_0`` again, or two different backups bear one name.
    """
    first = backup_filename(prefix, when, "", 0)
    highest = issued
    if directory.is_dir():
        for entry in directory.iterdir():
            n = _number(entry.name, first)
            if n is not None:
                highest = max(highest, n)
    n = highest + 1
    if n >= 100_000:
        raise BackupError(f"too many backups named {prefix!r} in the same second")
    return backup_filename(prefix, when, extension, n), n


def _number(name: str, first: str) -> int | None:
    """The ``_n`` of `name` if it is a backup (or its metadata) named after `first`."""
    if not name.startswith(first):
        return None
    rest = name[len(first) :]
    if rest.startswith("_"):
        digits = rest[1:].split(".", 1)[0]
        return int(digits) if digits.isdigit() else None
    return 0 if rest.startswith(".") else None


def list_entries(directory: Path) -> list[tuple[BackupInfo, dict[str, Any]]]:
    """Every backup with readable metadata in `directory`, newest first."""
    if not directory.is_dir():
        return []
    found = [read_metadata(meta) for meta in directory.glob("*" + META_SUFFIX)]
    entries = [entry for entry in found if entry is not None]
    entries.sort(key=lambda e: (e[0].timestamp, e[0].filename), reverse=True)
    return entries
