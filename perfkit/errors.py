"""perfkit's exception hierarchy.

PerfkitError
 ├── ConfigError              a setting or argument has a bad value
 ├── MissingDependencyError   an optional package is not installed (names the extra)
 └── BackendError             an external system failed
      ├── CacheBackendError
      └── BackupError
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackupError",
    "CacheBackendError",
    "ConfigError",
    "MissingDependencyError",
    "PerfkitError",
]


class PerfkitError(Exception):
    """Base class of every error perfkit raises on purpose."""


class ConfigError(PerfkitError, ValueError):
    """A setting has a value of the wrong form; the message names it and the expected form."""


class MissingDependencyError(PerfkitError, ImportError):
    """An optional dependency is missing; the message says which extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package!r} is not installed; install it with `pip install perfkit[{extra}]`"
        )
        self.package = package
        self.extra = extra


class BackendError(PerfkitError):
    """An external system (Redis, a database, a dump tool) failed."""


class CacheBackendError(BackendError):
    """The cache backend failed."""


class BackupError(BackendError):
    """A backup or restore failed."""
