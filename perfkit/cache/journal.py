"""What changed while Redis was unreachable, so that it is undone in Redis on recovery.

While the cache serves from memory, every key written or deleted is recorded
(a `clear()` is recorded as one flag). On recovery, before Redis serves a
single read, those keys are deleted from Redis (the namespace is cleared
after a `clear()`): a value invalidated during the outage is never served
again, and a value updated during the outage is recomputed, not read back
in its old version. The journal is bounded; when it overflows, recovery
clears the whole namespace, which is also safe.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

__all__ = ["OutageJournal"]


class OutageJournal:
    """Keys touched (and whether the namespace was cleared) during an outage.

    Args:
        limit: the most keys remembered; beyond it, recovery clears everything.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self.keys: set[str] = set()
        self.cleared = False
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return self.cleared or bool(self.keys)

    def touch(self, keys: Iterable[str]) -> None:
        with self._lock:
            if self.cleared:
                return
            self.keys.update(keys)
            if len(self.keys) > self.limit:
                self.keys.clear()
                self.cleared = True

    def clear_all(self) -> None:
        with self._lock:
            self.keys.clear()
            self.cleared = True

    def take(self) -> tuple[bool, list[str]]:
        """``(cleared, keys)`` recorded so far; the journal is emptied."""
        with self._lock:
            taken = (self.cleared, list(self.keys))
            self.keys.clear()
            self.cleared = False
            return taken

    def restore(self, cleared: bool, keys: Iterable[str]) -> None:
        """Put back what `take` returned when the replay failed."""
        if cleared:
            self.clear_all()
        else:
            self.touch(keys)
