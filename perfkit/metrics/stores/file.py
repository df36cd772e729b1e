"""The embedded store's persistence: the registry saved to a JSON file and reloaded at start.

Writes are atomic (a temporary file beside the target, fsync, rename), so a
crash leaves the previous file intact. A file that cannot be read back
(corrupt, foreign, other histogram buckets) is set aside with a warning and
never stops the service from starting.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

from ..._atomic import write_atomically
from ...clock import Clock, SystemClock
from ..registry import Registry
from ..state import from_state, merge_into, to_state
from .memory import MemoryStore

__all__ = ["FileStore"]

_log = logging.getLogger("perfkit.store")


class FileStore(MemoryStore):
    """The memory store, saved every `interval` seconds and at stop, loaded at start.

    Reads are the registry itself (so they never go backwards); a save takes
    the whole state under the registry's lock, and loading merges the saved
    figures in once per registry.

    Args:
        registry: the registry to save and to load into.
        path: the JSON file.
        interval: seconds between saves while started.
    """

    component: str | None = "store"

    def __init__(
        self, registry: Registry, path: str, interval: float = 5.0, clock: Clock | None = None
    ) -> None:
        super().__init__(registry)
        self.path = path
        self.interval = interval
        self.clock: Clock = clock or SystemClock()
        self.saves = 0
        self.loaded = False
        self.tried_load = False
        self.set_aside: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def load(self) -> bool:
        """Merge the saved figures into the registry; False when there was nothing usable."""
        try:
            with open(self.path, "rb") as handle:
                state = json.loads(handle.read())
            saved = from_state(state, self.registry.settings, self.registry.clock)
        except FileNotFoundError:
            return False
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self.set_aside = f"{self.path}.unreadable-{int(self.clock.time())}"
            try:
                os.replace(self.path, self.set_aside)
            except OSError:
                self.set_aside = None
            _log.warning(
                "perfkit could not read its saved metrics %s (%s: %s); %s and starting empty",
                self.path,
                type(exc).__name__,
                exc,
                f"moved it to {self.set_aside}" if self.set_aside else "left it in place",
            )
            return False
        merge_into(self.registry, saved)
        self.loaded = True
        return True

    def flush(self) -> bool:
        try:
            self.save()
        except OSError as exc:
            _log.warning("perfkit could not save its metrics to %s: %s", self.path, exc)
            return False
        return True

    def save(self) -> None:
        with self._lock:
            data = json.dumps(to_state(self.registry), separators=(",", ":")).encode()
            write_atomically(self.path, data)
            self.saves += 1

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        if not self.tried_load:  # once per registry: a restart or a fork must not add it again
            self.tried_load = True
            self.load()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="perfkit-file-store", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.save()
            except Exception as exc:  # keep saving on the next tick; never end the thread
                _log.warning("perfkit could not save its metrics to %s: %s", self.path, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
            self._thread = None
        try:
            self.save()
        except OSError as exc:
            _log.warning("perfkit could not save its metrics to %s: %s", self.path, exc)

    def snapshot(self) -> dict[str, Any] | None:
        return {
            "path": self.path,
            "saves": self.saves,
            "loaded": self.loaded,
            "set_aside": self.set_aside,
        }
