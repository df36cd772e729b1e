"""Which metrics store a kit gets, from the settings and the process model (docs/deployment.md).

- ``redis``, or ``auto`` with ``PERFKIT_REDIS_URL``: the Redis store, across hosts.
- ``host``, or ``auto`` when the server runs several workers: the host store
  (SQLite in ``data_dir``), shared by the workers of one host.
- ``file``: memory, saved to ``metrics_file`` (``data_dir/metrics.json`` by default).
- ``memory``, or ``auto`` in a single process: this process's registry.

A per-process store (memory, file) while several workers are seen is said
once in the log, and `StoreChoice.note` carries it to the snapshot and the
dashboard.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from ...clock import Clock
from ...config import PerfkitSettings
from ...errors import ConfigError
from ..process_model import SINGLE, ProcessModel, detect_process_model
from ..registry import Registry

__all__ = ["SCOPES", "StoreChoice", "choose_store", "reconsider", "scope_note"]

_log = logging.getLogger("perfkit.store")

SCOPES = ("process", "host", "fleet")  # what the figures of a snapshot cover
_CHOICES = ("auto", "memory", "file", "host", "redis")
_warned: set[tuple[str, int]] = set()  # (store, workers) already said in this process


@dataclass
class StoreChoice:
    """The store picked: its name, the shared store object (None for a per-process one),
    a component to register besides (the file saver), and the process model seen."""

    name: str
    store: Any
    saver: Any
    model: ProcessModel
    asked: str = "auto"


def choose_store(
    choice: str, settings: PerfkitSettings, registry: Registry, clock: Clock
) -> StoreChoice:
    """Build the store `choice` names (``auto`` decides from the settings and the server)."""
    if choice not in _CHOICES:
        raise ConfigError(
            f"store={choice!r} is not valid: expected one of {', '.join(_CHOICES)} "
            "(or a store object)"
        )
    if choice == "redis" or (choice == "auto" and settings.redis_url):
        if not settings.redis_url:
            raise ConfigError(
                "the Redis metrics store needs PERFKIT_REDIS_URL (settings.redis_url)"
            )
        from .redis import RedisStore

        store = RedisStore(
            registry, settings.redis_url, settings.redis_namespace, settings.flush_interval, clock
        )
        return StoreChoice("redis", store, None, SINGLE, choice)
    model = detect_process_model() if choice in ("auto", "memory", "file") else SINGLE
    return _local_or_host(choice, model, settings, registry, clock)


def reconsider(
    picked: StoreChoice, model: ProcessModel, settings: PerfkitSettings, registry: Registry,
    clock: Clock,
) -> StoreChoice:  # fmt: skip
    """The choice once the server said at a request that several workers run (wsgi.multiprocess).

    ``auto`` in memory moves to the host store: the registry's figures so far
    are its first batch. An explicit memory or file store stays, and says so.
    """
    if picked.model.multiprocess or not model.multiprocess or picked.name not in _PER_PROCESS:
        return picked
    if picked.asked == "auto" and picked.saver is None:
        return _local_or_host("auto", model, settings, registry, clock)
    return _local_or_host(picked.name, model, settings, registry, clock, saver=picked.saver)


_PER_PROCESS = ("memory", "file")


def _local_or_host(
    choice: str, model: ProcessModel, settings: PerfkitSettings, registry: Registry,
    clock: Clock, saver: Any = None,
) -> StoreChoice:  # fmt: skip
    if choice == "host" or (choice == "auto" and model.multiprocess):
        from .host import HostStore

        store = HostStore(registry, None, settings.flush_interval, clock)
        return StoreChoice("host", store, None, model, choice)
    path = settings.metrics_file or (
        os.path.join(settings.data_dir, "metrics.json") if choice == "file" else None
    )
    if path and saver is None:
        from .file import FileStore

        saver = FileStore(registry, path, settings.flush_interval, clock)
    name = "file" if path else "memory"
    if model.multiprocess and (name, model.workers) not in _warned:
        _warned.add((name, model.workers))
        _log.warning(
            "perfkit sees %s; with the %s metrics store each worker reports only its own "
            "figures. Unset PERFKIT_METRICS_STORE (or set it to host) to share them on this host.",
            _workers_text(model),
            name,
        )
    return StoreChoice(name, None, saver, model, choice)


def scope_note(choice: StoreChoice, store: Any) -> tuple[str, str | None]:
    """The scope of the figures a kit reports, and a note when they cover one worker only."""
    if choice.name == "redis":
        return "fleet", None
    if choice.store is not None or choice.name == "custom":
        scope = str(getattr(store, "scope", "host" if choice.name == "host" else "process"))
        fault = getattr(store, "fault", None)
        if scope == "process" and fault:
            return scope, f"this worker only: the host store is unusable ({fault})"
        return scope, None
    if choice.model.multiprocess:
        return "process", (
            f"this worker only: {_workers_text(choice.model)}, and the {choice.name} metrics "
            "store keeps figures per process"
        )
    return "process", None


def _workers_text(model: ProcessModel) -> str:
    server = model.server or "the server"
    if model.source == "wsgi.multiprocess":
        return f"{server} running several worker processes (wsgi.multiprocess)"
    return f"{server} running {model.workers} worker processes ({model.source})"
