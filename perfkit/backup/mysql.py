"""MySQL/MariaDB via ``mysqldump --single-transaction`` and ``mysql``; secrets in an option file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import BackupError, ConfigError
from ._proc import find_tool, run_tool
from .base import BackupStrategy, Progress

__all__ = ["MySQLStrategy"]

_INSTALL = (
    "install the MySQL or MariaDB client tools "
    "(Debian/Ubuntu: apt-get install mariadb-client or default-mysql-client; "
    "macOS: brew install mysql-client)"
)
_TRAILER = b"-- Dump completed"  # mysqldump writes this last; a dump without it is truncated
_WRAP = b"SET autocommit=0;\nSET unique_checks=0;\nSET foreign_key_checks=0;\n"
_UNWRAP = b"\nCOMMIT;\nSET unique_checks=1;\nSET foreign_key_checks=1;\n"


class MySQLStrategy(BackupStrategy):
    """Dumps one database with ``mysqldump --single-transaction`` (a consistent InnoDB snapshot).

    The password is written to a 0600 temporary option file passed with
    ``--defaults-extra-file`` and deleted right after the tool exits.
    Restore runs the dump with autocommit off and commits at the end; DDL
    (``DROP``/``CREATE TABLE``) commits implicitly in MySQL, so a restore that
    fails half-way is not rolled back: restore then takes a safety backup first.
    """

    schemes = ("mysql", "mariadb")
    database_type = "mysql"
    extension = ".sql"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        self.dbname = unquote(parts.path.lstrip("/"))
        if not self.dbname or "/" in self.dbname:
            raise ConfigError(
                "MySQL URL names no database: expected mysql://user:password@host:3306/dbname"
            )
        try:
            port = parts.port
        except ValueError:
            raise ConfigError("MySQL URL has a port that is not a number") from None
        self._options = {
            "user": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "host": unquote(parts.hostname or ""),
            "port": str(port or ""),
        }
        self.password = self._options["password"]

    def dump(self, target: Path, progress: Progress, *, compress: bool, level: int) -> None:
        tool = find_tool(["mysqldump", "mariadb-dump"], _INSTALL)
        with self._option_file() as opts:
            argv = [tool, f"--defaults-extra-file={opts}", "--single-transaction", "--quick",
                    "--routines", "--triggers", "--hex-blob", "--add-drop-table",
                    self.dbname]  # fmt: skip
            run_tool(argv, stdout=target, watch=target, progress=progress, secrets=[self.password])

    def check(self, dump: Path) -> None:
        size = dump.stat().st_size
        with open(dump, "rb") as fh:
            fh.seek(max(0, size - 4096))
            tail = fh.read()
        if _TRAILER not in tail:
            raise BackupError(f"{dump.name} is truncated: the mysqldump end marker is missing")

    def restore(self, dump: Path, progress: Progress) -> None:
        tool = find_tool(["mysql", "mariadb"], _INSTALL)
        wrapped = dump.with_name(dump.name + ".restore")
        try:
            _write_wrapped(dump, wrapped)
            with self._option_file() as opts:
                argv = [tool, f"--defaults-extra-file={opts}", "--binary-mode", self.dbname]
                progress("restore", 0, None)
                run_tool(argv, stdin=wrapped, stage="restore", secrets=[self.password])
            size = dump.stat().st_size
            progress("restore", size, size)
        finally:
            wrapped.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _option_file(self) -> Iterator[str]:
        fd, path = tempfile.mkstemp(prefix="perfkit-my-", suffix=".cnf")  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write("[client]\n")
                for key, value in self._options.items():
                    if value:
                        fh.write(f'{key}="{_escape(value)}"\n')
            yield path
        finally:
            os.unlink(path)


def _escape(value: str) -> str:
    """Quote a value for a MySQL option file (backslash escapes are honoured inside quotes)."""
    if "\n" in value or "\r" in value:
        raise ConfigError("a MySQL user, password or host cannot contain a line break")
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _write_wrapped(dump: Path, target: Path) -> None:
    """Copy `dump` to `target` between autocommit-off and COMMIT statements, streaming."""
    with open(dump, "rb") as src, open(target, "wb") as dst:
        dst.write(_WRAP)
        while chunk := src.read(1 << 20):
            dst.write(chunk)
        dst.write(_UNWRAP)
