"""Host mode: the workers of one host share their figures through one SQLite file (WAL).

Each worker aggregates locally, as in every mode, and ships idempotent delta
batches — the Redis store's operations, tagged (worker id, sequence number) —
in one transaction. Any worker then answers for the whole host.

Reads never go backwards, and every record counts exactly once: a read takes
the store's lock, first ships this worker's delta (so the worker sees its own
latest requests), then reads the file in one transaction. A flush holds the
same lock from taking the delta to its commit, so no read sees a batch both
locally and stored, nor in neither place. Other workers' unshipped records
count in no view until they are stored, and the stored totals only grow: so
consecutive reads through any workers never decrease.

Any fault of the file (a read-only or missing data directory, a full disk, a
corrupt file, another version's schema) is logged once and the worker falls
back to its own figures (scope ``process``) until the file works again; the
host app never sees an error.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..._forks import after_fork_in_child, around_fork
from ...clock import Clock, SystemClock
from ...component import Component
from ...fleet import WORKER_FAMILIES, process_figures
from ..families import MetricFamily
from ..registry import Registry
from ..state import merge_into
from .codec import delta_ops
from .host_codec import KEYS, cap_new_names, registry_from
from .host_db import SCHEMA, HostDb, HostDbError
from .host_fleet import HostFleet

if TYPE_CHECKING:
    pass

__all__ = ["HostStore", "host_store_path"]

_log = logging.getLogger("perfkit.store")


def host_store_path(data_dir: str) -> str:
    """Where the host's file lives: the schema is in the name, so versions never share one."""
    return os.path.join(data_dir, f"metrics-host-{SCHEMA.rsplit('/', 1)[-1]}.sqlite3")


class HostStore(Component):
    """Ships this worker's deltas to the host's SQLite file and reads the host's figures back.

    Args:
        registry: this process's registry (its tables are taken at each flush).
        path: the SQLite file (`host_store_path(settings.data_dir)` by default).
        flush_interval: seconds between background flushes.
        retry_interval: seconds between attempts to use the file again after a fault.
    """

    scope_when_healthy = "host"
    component: str | None = "fleet"  # its snapshot section

    def __init__(
        self,
        registry: Registry,
        path: str | None = None,
        flush_interval: float = 5.0,
        clock: Clock | None = None,
        retry_interval: float = 30.0,
    ) -> None:
        self.registry = registry
        self.path = path or host_store_path(registry.settings.data_dir)
        self.flush_interval = flush_interval
        self.retry_interval = retry_interval
        self.clock: Clock = clock or SystemClock()
        self.db = HostDb(self.path)
        self.retention_seconds = registry.settings.retention_hours * 3600 + 3600
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fault: str | None = None
        self._retry_at = 0.0
        self.flushes = 0
        self.failures = 0
        self.workers: list[dict[str, Any]] = []
        self.last_flush_at: float | None = None
        self._new_identity()
        after_fork_in_child(self, "_after_fork")
        around_fork(self, "_before_fork", "_after_fork_in_parent")

    # ---------------------------------------------------------------- identity
    def _new_identity(self) -> None:
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.process_id = f"{self.host}:{self.pid}:{secrets.token_hex(4)}"
        self._seq = 0
        self._pending: Registry | None = None  # a batch taken and not yet committed
        self.own = Registry(self.registry.settings, self.clock)  # what this worker stored
        self.forks_workers = False  # set at a fork: a master (gunicorn --preload) is no worker

    def _before_fork(self) -> None:
        # SQLite connections must not cross a fork (its lock bookkeeping is per process):
        # the parent closes its own, between two flushes, and reopens it on next use
        self._lock.acquire()
        if not self.forks_workers and self._seq > 0:
            with contextlib.suppress(HostDbError):
                self.db.forget_workers([self.process_id])  # its figures stay in the totals
        self.forks_workers = True
        self.db.close()

    def _after_fork_in_parent(self) -> None:
        self._lock.release()

    def _after_fork(self) -> None:
        # a forked worker is a new member of the host: own id and sequence, own connection
        self.db = HostDb(self.path)
        self._lock = threading.Lock()
        self._new_identity()
        self.registry.take_delta()  # the parent ships what it had aggregated, not every child
        self._thread = None
        self._stop = threading.Event()

    @property
    def fleet(self) -> HostFleet:
        """One notification per alert and one system sampler for the workers of this host."""
        return HostFleet(self)

    def view(self) -> Registry:
        return self.fleet_registry()

    def local(self) -> Registry:
        return self.local_registry()

    @property
    def scope(self) -> str:
        """``host`` while the file works, ``process`` (this worker's own figures) after a fault."""
        return "host" if self.fault is None else "process"

    # ----------------------------------------------------------------- flushing
    def flush(self) -> bool:
        """Ship what was aggregated since the last flush; True when the file has it all.

        Every worker sends its heartbeat at each flush, idle or not; a process
        that forks workers (a --preload master) only ships what it recorded,
        if anything, and is not listed among the workers.
        """
        with self._lock:
            if self.forks_workers and self._pending is None and self.registry.is_empty():
                return True
            return self._flush_locked()

    def _flush_locked(self, force: bool = False) -> bool:
        if not force and self.fault is not None and self.clock.monotonic() < self._retry_at:
            return False  # keep aggregating locally; try the file again later
        try:
            if self._pending is None:
                delta = self.registry.take_delta()
                self._seq += 1
                self._pending = delta
                cap_new_names(delta, self.db)
            self._ship(self._pending)
        except HostDbError as exc:
            self.failures += 1
            self._enter_fault(str(exc))
            return False
        merge_into(self.own, self._pending)
        self._pending = None
        self.flushes += 1
        self.last_flush_at = self.clock.time()
        if self.fault is not None:
            _log.warning("perfkit host store %s works again: figures cover the host", self.path)
            self.fault = None
        return True

    def _ship(self, batch: Registry) -> None:
        now = self.clock.time()
        floor = int(now // 60) - self.registry.settings.retention_hours * 60
        worker = {
            "id": self.process_id,
            "host": self.host,
            "pid": self.pid,
            "figures": {"in_progress": self.registry.in_progress, **process_figures()},
        }
        self.db.apply(
            worker,
            self._seq,
            delta_ops(batch, KEYS, self.retention_seconds),
            now,
            index_floors={KEYS.request_minutes: floor, KEYS.query_minutes: floor},
        )

    def _enter_fault(self, reason: str) -> None:
        # a neighbour holding the write lock past the busy timeout: soon free again
        busy = "locked" in reason or "busy" in reason
        wait = min(self.flush_interval, self.retry_interval) if busy else self.retry_interval
        self._retry_at = self.clock.monotonic() + wait
        if self.fault is None:
            _log.warning(
                "perfkit host store unusable (%s); this worker reports its own figures only "
                "(scope: process) and retries every %.0f s",
                reason,
                self.retry_interval,
            )
        self.fault = reason
        self.db.close()  # reopened (and checked again) at the next try

    # ------------------------------------------------------------------- reading
    def fleet_registry(self) -> Registry:
        """The host's figures; this worker's own after a fault (see `scope`). Never raises."""
        with self._lock:
            unsent = self._pending is not None or not self.registry.is_empty()
            # ship this worker's delta first (a read after a fault also tries the file again)
            if self._flush_locked() if unsent or self.fault is not None else True:
                try:
                    snap = self.db.read()
                except HostDbError as exc:
                    self._enter_fault(str(exc))
                else:
                    view = registry_from(snap, self.registry.settings, self.clock)
                    self._note_workers(snap.workers)
                    others = sum(
                        int(w.get("in_progress", 0))
                        for w in self.workers
                        if w["id"] != self.process_id
                    )
                    view.in_progress_override = self.registry.in_progress + others
                    return view
            return self._own_view()

    def local_registry(self) -> Registry:
        """This worker's figures alone: what it stored, a batch in flight, and its delta."""
        with self._lock:
            return self._own_view()

    def _own_view(self) -> Registry:
        local = Registry(self.registry.settings, self.clock)
        merge_into(local, self.own)
        if self._pending is not None:
            merge_into(local, self._pending)
        merge_into(local, self.registry)
        self.workers = []
        return local

    def _note_workers(self, rows: list[dict[str, Any]]) -> None:
        """Keep the live workers (this one first); remove the rows of workers that are gone.

        A gone worker's figures are already in the host totals (its batches
        were applied as they came), so removing its row loses nothing.
        """
        now = self.clock.time()
        ttl = max(self.flush_interval * 3, 1.0)
        live: list[dict[str, Any]] = []
        gone: list[str] = []
        for row in rows:
            if row["id"] == self.process_id:
                live.insert(0, row)
            elif row["host"] == self.host and not _alive(int(row["pid"])):
                gone.append(row["id"])
            elif row["seen"] < now - max(ttl * 20, 3600.0):
                gone.append(row["id"])  # silent for an hour (another container's pid space)
            elif row["seen"] >= now - ttl:
                live.append(row)
        self.workers = live
        if gone:
            try:
                self.db.forget_workers(gone)
            except HostDbError as exc:
                _log.debug("gone workers not removed yet: %s", exc)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="perfkit-host-flush", daemon=True)
        self._thread.start()
        atexit.register(self._flush_at_exit)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def stop(self) -> None:
        """Stop flushing, ship the rest, and leave the host (this worker's row goes)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=self.flush_interval + 5)
        self._thread = None
        with self._lock:
            if self._flush_locked(force=True):  # the last chance to ship this worker's figures
                try:
                    self.db.forget_workers([self.process_id])
                except HostDbError as exc:
                    _log.debug("worker row not removed at stop: %s", exc)
            self.db.close()

    def _flush_at_exit(self) -> None:
        if self._thread is not None:
            self.stop()

    def reset(self) -> None:
        """reset-counters: forget the host's figures (and this worker's own)."""
        with self._lock:
            self._pending = None
            self.own = Registry(self.registry.settings, self.clock)
            try:
                self.db.clear()
            except HostDbError as exc:
                self._enter_fault(str(exc))

    # --------------------------------------------------------------- component
    def snapshot(self) -> dict[str, Any]:
        return {
            "store": "host",
            "path": self.path,
            "process_id": self.process_id,
            "flushes": self.flushes,
            "failures": self.failures,
            "fault": self.fault,
            "last_flush_at": self.last_flush_at,
            "size_bytes": self.db.size_bytes(),
            "workers": [
                {k: v for k, v in w.items() if k not in ("id", "seq", "seen")} | {"id": w["id"]}
                for w in self.workers
            ],
            "hosts": {self.host: len(self.workers)} if self.workers else {},
        }

    def collect(self) -> Iterable[MetricFamily]:
        flushes = MetricFamily(
            "perfkit_fleet_flushes", "counter", "Flushes of this process to its shared store."
        )
        flushes.add(self.flushes, "_total", outcome="ok")
        flushes.add(self.failures, "_total", outcome="failed")
        workers = MetricFamily(
            "perfkit_fleet_workers", "gauge", "Live worker processes (heartbeats)."
        )
        workers.add(len(self.workers))
        size = MetricFamily("perfkit_host_store_bytes", "gauge", "Size of the host store file.")
        size.add(self.db.size_bytes())
        families = [flushes, workers, size]
        for name, kind, help_text, field in WORKER_FAMILIES:
            family = MetricFamily(name, kind, help_text)
            for worker in self.workers:
                if field in worker:
                    family.add(
                        float(worker[field]),
                        "_total" if kind == "counter" else "",
                        worker=f"{worker['host']}:{worker['pid']}",
                    )
            families.append(family)
        return families


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
