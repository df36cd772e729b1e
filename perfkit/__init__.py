"""perfkit: embeddable, framework-agnostic performance monitoring for Python web services.

Importing perfkit does no work: the parts are imported when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _defaults
from ._version import __version__

if TYPE_CHECKING:
    from .alerts import AlertRule
    from .backup import BackupInfo, BackupScheduler, BackupStrategy, DatabaseBackup
    from .cache import CacheManager, cached
    from .config import PerfkitSettings
    from .errors import (
        BackendError,
        BackupError,
        CacheBackendError,
        ConfigError,
        MissingDependencyError,
        PerfkitError,
    )
    from .kit import Perfkit, get_kit, set_default_kit
    from .monitor import monitor_api_performance, monitor_query_performance
    from .system import SystemMonitor

__all__ = [
    "AlertRule",
    "BackendError",
    "BackupError",
    "BackupInfo",
    "BackupScheduler",
    "BackupStrategy",
    "CacheBackendError",
    "CacheManager",
    "ConfigError",
    "DatabaseBackup",
    "MissingDependencyError",
    "Perfkit",
    "PerfkitError",
    "PerfkitSettings",
    "SystemMonitor",
    "__version__",
    "cached",
    "get_kit",
    "monitor_api_performance",
    "monitor_query_performance",
    "set_default_kit",
]

# public name -> module that defines it (imported on first attribute access)
_LAZY = {
    "Perfkit": ".kit",
    "get_kit": ".kit",
    "set_default_kit": ".kit",
    "PerfkitSettings": ".config",
    "monitor_query_performance": ".monitor",
    "monitor_api_performance": ".monitor",
    "PerfkitError": ".errors",
    "ConfigError": ".errors",
    "MissingDependencyError": ".errors",
    "BackendError": ".errors",
    "CacheBackendError": ".errors",
    "BackupError": ".errors",
    "SystemMonitor": ".system",
    "AlertRule": ".alerts",
    "CacheManager": ".cache",
    "DatabaseBackup": ".backup",
    "BackupScheduler": ".backup",
    "BackupInfo": ".backup",
    "BackupStrategy": ".backup",
    "cached": ".cache",
}


def _default_kit_cache() -> CacheManager:
    from .kit import get_kit  # the facade knows the kit; the parts below it do not

    return get_kit().cache


_defaults.provide_default_cache(_default_kit_cache)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'perfkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
