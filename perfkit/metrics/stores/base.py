"""The store protocol: where a kit's figures live and how they are read back.

Writing a store (what the kit calls, and what you must guarantee)
-----------------------------------------------------------------
A store is handed the process's `Registry` (the request path only ever writes
there) and implements `Store`:

- ``view() -> Registry``: the figures to report (for a shared store: every
  process's). **Reads never go backwards**: each record counts exactly once in
  every view, whether it is still unsent in this process, in flight, or stored.
- ``local() -> Registry``: what this process alone holds (unsent and in
  flight); the kit shows it when ``view()`` raises (store unreachable).
- ``flush() -> bool``: ship what is unsent now; True when the store has it all.
  Never raises.
- ``start()`` / ``stop()``: background flushing; `stop()` flushes one last
  time (the kit calls it at exit), and ``close``-like cleanup goes there too.
- ``reset()``: forget the stored figures (reset-counters).
- ``snapshot()`` / ``collect()``: its section of the snapshot (None: none) and
  its metric families (flush counters, workers...).
- ``scope``: what a view covers, ``"process"``, ``"host"`` or ``"fleet"``.
- ``fleet``: the coordination it offers its neighbours (alert-notification
  claims, one system sampler per host), or None in a single process.
- ``component``: the snapshot section name it is registered under, or None.

A shared store should not implement the accounting itself: subclass
`DeltaStore` and write four methods.

- ``encode(delta) -> payload``: the batch as the store will apply it (computed
  once; a resend sends the very same payload).
- ``send(seq, payload)``: apply the payload **idempotently** for
  ``(self.process_id, seq)``: a sequence number at or below the last one
  applied for this process is a no-op, atomically with the batch. Raise on
  failure (the batch is resent as it was); raise `BatchRefused` when the store
  rejected the batch itself and resending cannot help.
- ``load() -> (Registry, applied)``: every stored figure, and the last sequence
  number applied for this process (0 when none).
- ``wipe()``: delete every stored figure (reset-counters for all processes).

Optionally ``prepare(delta)`` (before encoding: fleet-wide caps, a heartbeat;
raising puts the delta back) and ``describe()`` (extra snapshot fields).
`DeltaStore` then guarantees the read rule above: a flush moves a delta from
the registry into its in-flight batch and a reader sees either, never neither
nor both (one lock covers both moves and every read); a view first ships this
process's delta, so any worker answering a scrape reads what the others read;
an in-flight batch is counted from the store once ``load`` says its sequence
number was applied, from memory before.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..._forks import after_fork_in_child
from ...clock import Clock, SystemClock
from ...component import Component
from ..families import MetricFamily
from ..registry import Registry
from ..state import merge_into

if TYPE_CHECKING:
    from ...fleet import Fleet

__all__ = ["BatchRefused", "DeltaStore", "Store"]

_log = logging.getLogger("perfkit.store")


class Store(Protocol):
    """Where the figures live; see the module docstring for each method's contract."""

    registry: Registry

    @property
    def scope(self) -> str: ...

    @property
    def component(self) -> str | None: ...

    @property
    def fleet(self) -> Fleet | None: ...

    def view(self) -> Registry: ...

    def local(self) -> Registry: ...

    def flush(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reset(self) -> None: ...

    def snapshot(self) -> dict[str, Any] | None: ...

    def collect(self) -> Iterable[MetricFamily]: ...


class BatchRefused(Exception):
    """The store rejected a batch itself (resending it cannot help): it is dropped."""


class _Batch:
    """A delta shipped under one sequence number, kept until the store confirms it."""

    __slots__ = ("delta", "payload", "seq")

    def __init__(self, seq: int, delta: Registry, payload: Any) -> None:
        self.seq = seq
        self.delta = delta
        self.payload = payload


class DeltaStore(Component):
    """A shared store fed with idempotent delta batches; subclasses write the four methods
    named in the module docstring (`encode`, `send`, `load`, `wipe`)."""

    scope: str = "fleet"
    component: str | None = "fleet"
    thread_name: ClassVar[str] = "perfkit-store-flush"

    def __init__(
        self, registry: Registry, flush_interval: float = 5.0, clock: Clock | None = None
    ) -> None:
        self.registry = registry
        self.flush_interval = flush_interval
        self.clock: Clock = clock or SystemClock()
        # one lock for flushes and reads: a record moves registry -> batch -> store
        # while no reader looks, so each view counts it exactly once
        self._lock = threading.RLock()
        self._batch: _Batch | None = None
        self.flushes = 0
        self.failures = 0
        self.dropped_batches = 0
        self.last_error: str | None = None
        self.last_flush_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._new_identity()
        after_fork_in_child(self, "_after_fork")

    @property
    def fleet(self) -> Fleet | None:
        return None

    # -------------------------------------------------------- to implement
    def encode(self, delta: Registry) -> Any:
        raise NotImplementedError

    def send(self, seq: int, payload: Any) -> None:
        raise NotImplementedError

    def load(self) -> tuple[Registry, int]:
        raise NotImplementedError

    def wipe(self) -> None:
        raise NotImplementedError

    def prepare(self, delta: Registry) -> None:
        """Before a delta is encoded (caps, heartbeat); raising puts it back unsent."""

    def describe(self) -> dict[str, Any]:
        """Extra fields for the snapshot section."""
        return {}

    # ------------------------------------------------------------ identity
    def _new_identity(self) -> None:
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.process_id = f"{self.host}:{self.pid}:{secrets.token_hex(4)}"
        self._seq = 0

    def _after_fork(self) -> None:
        # a forked worker is a new process: own id and sequence, and no inherited delta
        # (the parent ships what it had aggregated, not every child)
        self._lock = threading.RLock()
        self._new_identity()
        self._batch = None
        self.registry.take_delta()
        self._thread = None
        self._stop = threading.Event()

    # ------------------------------------------------------------ flushing
    def flush(self) -> bool:
        """Ship what was aggregated since the last flush; True when the store has it all.

        A batch whose outcome is unknown (timeout, dropped connection) is
        resent as it was, with the same sequence number, before anything new.
        Until then the registry keeps aggregating locally (bounded by its caps).
        """
        with self._lock:
            return self._flush_locked()

    def _flush_locked(self) -> bool:
        try:
            if self._batch is not None:
                self.send(self._batch.seq, self._batch.payload)
                self._batch = None
            delta = self.registry.take_delta()
            try:
                self.prepare(delta)
                payload = self.encode(delta)
            except Exception:
                merge_into(self.registry, delta)  # nothing was sent: keep it for next time
                raise
            self._seq += 1
            self._batch = _Batch(self._seq, delta, payload)
            self.send(self._seq, payload)
            self._batch = None
        except Exception as exc:
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, BatchRefused) and self._batch is not None:
                self.dropped_batches += 1
                self._batch = None
                _log.error("the metrics store refused a batch (%s); it was dropped", exc)
            else:
                _log.debug("flush failed (%s); will resend", self.last_error)
            return False
        self.flushes += 1
        self.last_flush_at = self.clock.time()
        return True

    # ------------------------------------------------------------- reading
    def view(self) -> Registry:
        """Every process's figures: this process ships its delta first, then reads."""
        with self._lock:
            if self._batch is not None or not self.registry.is_empty():
                self._flush_locked()  # a failure leaves the delta local; it is counted below
            stored, applied = self.load()
            batch = self._batch
            if batch is not None and batch.seq > applied:
                merge_into(stored, batch.delta)  # not applied yet: only here
            merge_into(stored, self.registry)
            return stored

    def local(self) -> Registry:
        """What this process holds that the store may not have: its delta and an unsent batch."""
        with self._lock:
            local = Registry(self.registry.settings, self.clock)
            merge_into(local, self.registry)
            if self._batch is not None:
                merge_into(local, self._batch.delta)
            return local

    # ----------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        atexit.register(self._flush_at_exit)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=self.flush_interval + 5)
        self._thread = None
        self.flush()

    def _flush_at_exit(self) -> None:
        if self._thread is not None:
            self.stop()

    def reset(self) -> None:
        """reset-counters: forget the stored figures (and this process's unsent batch)."""
        with self._lock:
            self._batch = None
            self.wipe()

    def snapshot(self) -> dict[str, Any] | None:
        return {
            "process_id": self.process_id,
            "flushes": self.flushes,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_flush_at": self.last_flush_at,
            "resend_pending": self._batch is not None,
            "dropped_batches": self.dropped_batches,
            **self.describe(),
        }

    def collect(self) -> Iterable[MetricFamily]:
        return ()
