"""Database backups: verified, rotated, optionally compressed and encrypted; restore; schedules."""

from __future__ import annotations

from .base import BackupStrategy, register_strategy
from .info import BackupInfo
from .manager import DatabaseBackup
from .scheduler import BackupScheduler

__all__ = [
    "BackupInfo",
    "BackupScheduler",
    "BackupStrategy",
    "DatabaseBackup",
    "register_strategy",
]
