"""The `BackupStrategy` interface, the scheme registry and URL helpers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, TypeVar
from urllib.parse import urlsplit

from .._secrets import mask_url as _mask_url
from ..errors import ConfigError

__all__ = [
    "BackupStrategy",
    "Progress",
    "mask_url",
    "no_progress",
    "register_strategy",
    "scheme_of",
    "strategy_for_url",
]

Progress = Callable[[str, int, "int | None"], None]
"""``progress(stage, done, total)``: stage is e.g. "dump", "compress", "restore";
`done`/`total` count pages (SQLite) or bytes (dumps); `total` is None when unknown."""


def no_progress(stage: str, done: int, total: int | None) -> None:
    """A progress callback that ignores everything."""


class BackupStrategy(ABC):
    """How one database engine is dumped, checked and restored.

    Subclass it, set `schemes`, `database_type` and `extension`, and register
    it with `register_strategy`. The manager owns naming, compression,
    checksums, atomic writes and rotation; a strategy only moves bytes.

    Args:
        url: the database URL (it may hold a password: never log it; use
            `display_url`).
    """

    schemes: ClassVar[tuple[str, ...]] = ()
    database_type: ClassVar[str] = "unknown"
    extension: ClassVar[str] = ".bak"
    #: True when the dump tool compresses by itself (the manager then skips gzip).
    native_compression: ClassVar[bool] = False
    #: "full" (read everything: integrity_check, every pg_restore block) or "quick"
    #: (structure only: quick_check, pg_restore --list); set by `DatabaseBackup(check=...)`.
    check_level: str = "full"

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def display_url(self) -> str:
        """The URL with any password masked, safe for logs and metadata."""
        return mask_url(self.url)

    @abstractmethod
    def dump(self, target: Path, progress: Progress, *, compress: bool, level: int) -> bool | None:
        """Write a complete dump to `target`, or raise `BackupError`.

        `compress`/`level` matter only for strategies with `native_compression`.
        Return True when the dump was already fully checked while it was
        written (the manager then skips `check`); None or False otherwise.
        """

    @abstractmethod
    def check(self, dump: Path) -> None:
        """Raise `BackupError` unless `dump` (uncompressed, decrypted) is a complete, valid dump."""

    @abstractmethod
    def restore(self, dump: Path, progress: Progress) -> None:
        """Replace the database's contents with `dump`, or raise `BackupError`."""

    def exists(self) -> bool:
        """Whether there is a current database to take a safety backup of."""
        return True


_S = TypeVar("_S", bound=type[BackupStrategy])

# Built-in strategies are named here and imported only when a URL asks for them.
_BUILTIN: dict[str, str] = {
    "sqlite": "sqlite:SQLiteStrategy",
    "sqlite3": "sqlite:SQLiteStrategy",
    "postgresql": "postgres:PostgresStrategy",
    "postgres": "postgres:PostgresStrategy",
    "mysql": "mysql:MySQLStrategy",
    "mariadb": "mysql:MySQLStrategy",
}
_REGISTERED: dict[str, type[BackupStrategy]] = {}


def register_strategy(cls: _S, *schemes: str) -> _S:
    """Make `cls` handle `schemes` (default: ``cls.schemes``); usable as a class decorator."""
    names = schemes or cls.schemes
    if not names:
        raise ValueError(f"{cls.__name__} names no URL scheme: set `schemes` or pass them")
    for scheme in names:
        _REGISTERED[scheme.lower()] = cls
    return cls


def scheme_of(url: str) -> str:
    """The URL's scheme without a driver suffix (``postgresql+psycopg`` -> ``postgresql``)."""
    scheme = urlsplit(url).scheme.lower()
    return scheme.split("+", 1)[0]


def strategy_for_url(url: str) -> BackupStrategy:
    """The strategy registered for the URL's scheme, or `ConfigError` naming the known schemes."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(
            f"database URL {mask_url(str(url))!r} is not valid: expected "
            "sqlite:///path, postgresql://user@host/db or mysql://user@host/db"
        )
    scheme = scheme_of(url)
    cls = _REGISTERED.get(scheme)
    if cls is None and scheme in _BUILTIN:
        import importlib

        module_name, _, attr = _BUILTIN[scheme].partition(":")
        module = importlib.import_module(f"{__package__}.{module_name}")
        cls = getattr(module, attr)
    if cls is None:
        known = ", ".join(sorted({*_BUILTIN, *_REGISTERED}))
        raise ConfigError(
            f"no backup strategy for URL scheme {scheme!r}: expected one of {known} "
            "(or register one with perfkit.backup.register_strategy)"
        )
    return cls(url)


def mask_url(url: str) -> str:
    """`url` with the password and secret query parameters replaced by ``***``."""
    return _mask_url(url)
