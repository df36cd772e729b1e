"""Coordination between the workers of one host through the host store's file.

The same two services the Redis fleet offers, for one host: one notification
per alert rule and cooldown (a claim row), and one system sampler whose
sample the neighbours adopt. Both fail open like Redis's: with the file
unusable every worker notifies and samples for itself (a duplicate beats a
lost alert).
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from .host_db import HostDbError

if TYPE_CHECKING:
    from .host import HostStore

__all__ = ["HostFileSamples", "HostFleet"]

_log = logging.getLogger("perfkit.fleet")


class HostFleet:
    """Claims and the shared host sample, in the host store's file."""

    def __init__(self, store: HostStore) -> None:
        self.store = store

    def claim_notification(self, name: str, seconds: float) -> bool:
        """True for the one worker of this host that may send this notification now."""
        now = time.time()
        try:
            with self.store._lock:
                return self.store.db.claim(
                    "notified:" + name, self.store.process_id, now + seconds, now, renew=False
                )
        except HostDbError as exc:
            _log.debug("notification claim failed open: %s", exc)
            return True

    def host_samples(self) -> HostFileSamples:
        return HostFileSamples(self.store)


class HostFileSamples:
    """One worker samples the machine; its neighbours reuse the sample (`SystemMonitor.shared`)."""

    def __init__(self, store: HostStore) -> None:
        self.store = store
        self.ttl = 30.0

    def claim(self, interval: float) -> bool:
        """True when this worker should sample now (it holds, or just took, the claim)."""
        self.ttl = max(interval * 3, 1.0)
        now = time.time()
        hold = max(interval * 1.5, 0.5)  # outlives one interval: the sampler stays put
        try:
            with self.store._lock:
                return self.store.db.claim(
                    "sampler", self.store.process_id, now + hold, now, renew=True
                )
        except HostDbError:
            return True

    def publish(self, data: dict[str, Any]) -> None:
        try:
            with self.store._lock:
                self.store.db.put_shared(
                    "host-sample", json.dumps(data, default=str), time.time() + self.ttl
                )
        except HostDbError as exc:
            _log.debug("host sample not published: %s", exc)

    def fetch(self) -> dict[str, Any] | None:
        try:
            with self.store._lock:
                raw = self.store.db.get_shared("host-sample", time.time())
        except HostDbError:
            return None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
