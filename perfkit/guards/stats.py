"""What the guards did: rejection counters, the kit component that exposes them.

Registered on the kit as ``"guards"``: ``collect()`` gives
``app_rate_limited_total{endpoint}`` and ``app_request_too_large_total``,
``snapshot()`` the figures, ``alert_metrics()`` ``guards.rejection_rate`` (%
of guarded requests refused over the last five minutes).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from ..clock import Clock, SystemClock
from ..metrics.families import MetricFamily
from ..metrics.routes import OTHER

__all__ = ["GuardStats"]

_BUCKET = 60.0  # seconds per rejection-rate bucket
_BUCKETS = 5  # the rate covers the last five minutes


class GuardStats:
    """Counters of rate-limited and too-large requests (per process; bounded).

    Args:
        clock: for the rejection-rate buckets.
        max_endpoints: distinct endpoint labels kept (overflow to ``__other__``).
        max_clients: distinct limited clients remembered (overflow to ``__other__``).
        hash_key: when set, client keys are kept as keyed hashes, not addresses.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        max_endpoints: int = 500,
        max_clients: int = 1000,
        hash_key: str | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.max_endpoints = max_endpoints
        self.max_clients = max_clients
        self.hash_key = hash_key
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter (``kit.reset()``)."""
        with self._lock:
            self.rate_limited: dict[str, int] = {}
            self.clients: dict[str, int] = {}
            self.client_endpoints: dict[str, set[str]] = {}
            self.too_large = 0
            self.fallbacks = 0
            self.storage = "memory"
            self._buckets: deque[list[float]] = deque(maxlen=_BUCKETS)
            self._current: list[float] = [0.0, 0, 0, -math.inf]  # rolls on the first request

    def _bucket(self) -> list[float]:
        """The current bucket: ``[start, checked, refused, end]`` (under the lock)."""
        start = self.clock.monotonic() // _BUCKET * _BUCKET
        if not self._buckets or self._buckets[-1][0] != start:
            self._buckets.append([start, 0, 0, start + _BUCKET])
        self._current = self._buckets[-1]
        return self._current

    def checked(self) -> None:
        """One guarded request went through the checks (allowed or not).

        Every guarded request pays this, so it takes no lock: two threads adding
        at the same instant may lose one count now and then, a negligible error
        in a percentage. Only a new minute's bucket is made under the lock.
        """
        bucket = self._current
        if not bucket[0] <= self.clock.monotonic() < bucket[3]:  # a new minute (or a new clock)
            with self._lock:
                bucket = self._bucket()
        bucket[1] += 1

    def limited(self, endpoint: str, client: str) -> None:
        """One request refused with 429."""
        client = self._client(client)
        with self._lock:
            self._bucket()[2] += 1
            if endpoint not in self.rate_limited and len(self.rate_limited) >= self.max_endpoints:
                endpoint = OTHER
            self.rate_limited[endpoint] = self.rate_limited.get(endpoint, 0) + 1
            if client not in self.clients and len(self.clients) >= self.max_clients:
                client = OTHER
            self.clients[client] = self.clients.get(client, 0) + 1
            seen = self.client_endpoints.setdefault(endpoint, set())
            if len(seen) < self.max_clients:
                seen.add(client)

    def rejected_too_large(self) -> None:
        """One request refused with 413."""
        with self._lock:
            self._bucket()[2] += 1
            self.too_large += 1

    def _client(self, client: str) -> str:
        if self.hash_key is None:
            return client
        digest = hmac.new(self.hash_key.encode(), client.encode(), hashlib.sha256).hexdigest()
        return "c_" + digest[:16]

    def rejection_rate(self) -> float:
        """Percent of guarded requests refused (429 or 413) over the last five minutes."""
        with self._lock:
            return self._rate()

    def _rate(self) -> float:
        now = self.clock.monotonic() // _BUCKET * _BUCKET
        recent = [b for b in self._buckets if now - b[0] < _BUCKET * _BUCKETS]
        checked = sum(b[1] for b in recent)
        return round(100.0 * sum(b[2] for b in recent) / checked, 4) if checked else 0.0

    def collect(self) -> Iterable[MetricFamily]:
        limited = MetricFamily(
            "app_rate_limited", "counter", "Requests refused by the rate limit (429), by endpoint."
        )
        too_large = MetricFamily(
            "app_request_too_large", "counter", "Requests refused for their body size (413)."
        )
        with self._lock:
            for endpoint, n in sorted(self.rate_limited.items()):
                limited.add(n, "_total", endpoint=endpoint)
            too_large.add(self.too_large, "_total")
        return [limited, too_large]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            top = sorted(self.clients.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
            return {
                "rate_limited": dict(self.rate_limited),
                "too_large": self.too_large,
                "top_limited_clients": [{"client": c, "count": n} for c, n in top],
                "limited_clients_by_endpoint": {
                    e: len(c) for e, c in sorted(self.client_endpoints.items())
                },
                "storage": self.storage,
                "fallbacks": self.fallbacks,
                "rejection_rate": self._rate(),
            }

    def alert_metrics(self) -> dict[str, float | None]:
        return {"guards.rejection_rate": self.rejection_rate()}
