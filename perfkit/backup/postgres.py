"""PostgreSQL via ``pg_dump --format=custom`` and ``pg_restore``; the password via PGPASSWORD."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import BackupError, ConfigError
from ._pipe import dump_and_check
from ._proc import find_tool, run_tool
from .base import BackupStrategy, Progress

__all__ = ["PostgresStrategy"]

_INSTALL = (
    "install the PostgreSQL client tools of the server's major version or newer "
    "(Debian/Ubuntu: apt-get install postgresql-client; macOS: brew install libpq)"
)
# URL query parameters that libpq reads from the environment.
_QUERY_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "host": "PGHOST",
    "port": "PGPORT",
}


class PostgresStrategy(BackupStrategy):
    """Dumps in pg_dump's custom format (compressed by pg_dump) and restores in one transaction.

    Connection details reach the tools only through ``PG*`` environment
    variables, so neither the password nor the URL appears in any argv.
    """

    schemes = ("postgresql", "postgres")
    database_type = "postgresql"
    extension = ".dump"
    native_compression = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.env, self.dbname, self.password = _connection_env(url)

    def dump(self, target: Path, progress: Progress, *, compress: bool, level: int) -> bool:
        pg_dump = find_tool(["pg_dump"], _INSTALL)
        pg_restore = find_tool(["pg_restore"], _INSTALL)
        argv = [pg_dump, "--format=custom", f"--compress={level if compress else 0}",
                "--no-password"]  # fmt: skip
        if self.check_level == "quick":
            run_tool([*argv, f"--file={target}"], env=self.env, watch=target, progress=progress,
                     secrets=[self.password])  # fmt: skip
        else:
            # pg_restore reads every block of the stream as pg_dump writes it, so the
            # full check costs no time after the dump (an archive written to a pipe
            # has no data offsets; a plain, non-parallel pg_restore does not need them).
            full_read = [pg_restore, f"--file={os.devnull}"]
            dump_and_check(argv, full_read, target, env={**os.environ, **self.env},
                           progress=progress, secrets=[self.password])  # fmt: skip
        run_tool([pg_restore, "--list", str(target)], stage="verify")
        return True

    def check(self, dump: Path) -> None:
        pg_restore = find_tool(["pg_restore"], _INSTALL)
        # --list reads the table of contents only; reading every data block as a
        # script to /dev/null is what detects a truncated archive.
        run_tool([pg_restore, "--list", str(dump)], stage="verify")
        if self.check_level != "quick":
            run_tool([pg_restore, f"--file={os.devnull}", str(dump)], stage="verify")

    def restore(self, dump: Path, progress: Progress) -> None:
        pg_restore = find_tool(["pg_restore"], _INSTALL)
        argv = [pg_restore, "--clean", "--if-exists", "--single-transaction", "--no-password",
                f"--dbname={self.dbname}", str(dump)]  # fmt: skip
        progress("restore", 0, None)
        run_tool(argv, env=self.env, stage="restore", secrets=[self.password])
        size = dump.stat().st_size
        progress("restore", size, size)


def _connection_env(url: str) -> tuple[dict[str, str], str, str]:
    """``PG*`` variables for `url`, the database name and the password ("" if none)."""
    parts = urlsplit(url)
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or "=" in dbname or "://" in dbname:
        raise ConfigError(
            "PostgreSQL URL names no usable database: expected "
            f"postgresql://user@host:5432/dbname, "
            f"got database {dbname!r}"
        )
    env = {"PGDATABASE": dbname}
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("PostgreSQL URL has a port that is not a number") from None
    if parts.hostname:
        env["PGHOST"] = unquote(parts.hostname)
    if port:
        env["PGPORT"] = str(port)
    if parts.username:
        env["PGUSER"] = unquote(parts.username)
    password = unquote(parts.password) if parts.password else ""
    if password:
        env["PGPASSWORD"] = password
    for key, value in parse_qsl(parts.query):
        var = _QUERY_ENV.get(key)
        if var is None:
            raise BackupError(
                f"PostgreSQL URL parameter {key!r} is not supported for backups: "
                f"expected one of {', '.join(sorted(_QUERY_ENV))}"
            )
        env[var] = value
    return env, dbname, password
