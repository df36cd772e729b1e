"""Fleet mode: each process aggregates locally and ships deltas to Redis off the request path.

A flush applies the delta in ONE Lua script call tagged with (process id,
sequence number): a retried flush whose first try did reach Redis is a no-op,
so nothing is counted twice. While Redis is down the delta is kept (bounded by
the same caps and retention as the registry) and shipped when it returns.
The accounting that keeps reads from going backwards is `DeltaStore`'s.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from ..._secrets import mask_url
from ...clock import Clock
from ...fleet import Fleet, process_figures
from ..families import MetricFamily
from ..registry import Registry
from ..routes import OTHER
from ..state import fold_into_other
from ..tables import TABLES
from .base import BatchRefused, DeltaStore
from .codec import Keys, Stored, decode, delta_ops, registry_from, series_keys, text, texts, wanted

__all__ = ["RedisStore"]

_log = logging.getLogger("perfkit.fleet")

_APPLY = """
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) <= last then return 0 end
local ops = cjson.decode(ARGV[3])
for _, op in ipairs(ops) do
  local o = op[1]
  if o == 'i' then redis.call('HINCRBY', op[2], op[3], op[4])
  elseif o == 'f' then redis.call('HINCRBYFLOAT', op[2], op[3], op[4])
  elseif o == 'mx' then
    local cur = redis.call('HGET', op[2], op[3])
    if (not cur) or tonumber(cur) < tonumber(op[4]) then redis.call('HSET', op[2], op[3], op[4]) end
  elseif o == 'mn' then
    local cur = redis.call('HGET', op[2], op[3])
    if (not cur) or tonumber(cur) > tonumber(op[4]) then redis.call('HSET', op[2], op[3], op[4]) end
  elseif o == 's' then redis.call('HSET', op[2], op[3], op[4])
  elseif o == 'sa' then redis.call('SADD', op[2], op[3])
  elseif o == 'lp' then
    redis.call('LPUSH', op[2], op[3])
    redis.call('LTRIM', op[2], 0, tonumber(op[4]) - 1)
  elseif o == 'z' then redis.call('ZADD', op[2], op[3], op[4])
  elseif o == 'ex' then redis.call('EXPIRE', op[2], op[3])
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class RedisStore(DeltaStore):
    """Ships the registry's deltas to Redis and reads the fleet's figures back.

    Args:
        registry: this process's registry (its tables are taken at each flush).
        redis_url: where Redis is (``redis://host:port/db``).
        namespace: key prefix shared by every process of one service.
        flush_interval: seconds between background flushes.
        client: an existing redis-py client (tests), instead of `redis_url`.
    """

    thread_name = "perfkit-redis-flush"

    def __init__(
        self,
        registry: Registry,
        redis_url: str | None = None,
        namespace: str = "perfkit",
        flush_interval: float = 5.0,
        clock: Clock | None = None,
        client: Any = None,
        socket_timeout: float = 2.0,
    ) -> None:
        if client is None:
            if not redis_url:
                raise ValueError("RedisStore needs redis_url (PERFKIT_REDIS_URL) or a client")
            import redis

            try:
                client = redis.Redis.from_url(
                    redis_url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
                )
            except ValueError as exc:
                raise ValueError(
                    f"PERFKIT_REDIS_URL={mask_url(redis_url)!r} is not a Redis URL: {exc}"
                ) from None
        self.client = client
        self.keys = Keys(namespace)
        self._script: Any = None
        super().__init__(registry, flush_interval, clock)
        self.retention_seconds = registry.settings.retention_hours * 3600 + 3600

    def _new_identity(self) -> None:
        super()._new_identity()
        self._fleet = Fleet(self.client, self.keys.prefix, self.host, self.process_id)

    @property
    def fleet(self) -> Fleet:
        """Heartbeats, notification claims and the host-sample exchange of this namespace."""
        return self._fleet

    @property
    def workers(self) -> list[dict[str, str]]:
        """The live workers' heartbeats, as last read."""
        return self._fleet.workers

    # ------------------------------------------------------------ the batch
    def encode(self, delta: Registry) -> str:
        ops = delta_ops(delta, self.keys, self.retention_seconds)
        return json.dumps(ops, separators=(",", ":"))

    def send(self, seq: int, payload: Any) -> None:
        if self._script is None:
            self._script = self.client.register_script(_APPLY)
        try:
            self._script(keys=[self.keys.seq], args=[self.process_id, seq, payload])
        except Exception as exc:
            if _is_script_error(exc):
                raise BatchRefused(str(exc)) from exc
            raise

    def prepare(self, delta: Registry) -> None:
        """One round trip before the batch: the fleet's series counts, to hold the caps
        fleet-wide (new names past a cap go to ``__other__``), and this worker's heartbeat.

        Two workers admitting new names at the same moment can overshoot a cap by
        what they admit together; it cannot grow past that.
        """
        settings = self.registry.settings
        groups = [
            (t.name, self.keys.prefix + t.names_key,
             [t.key_text(k) for k in getattr(delta, t.name)], t.cap(settings) if t.cap else 0)
            for t in TABLES
            if t.shared_cap
        ]  # fmt: skip
        pipe = self.client.pipeline(transaction=False)
        for _, key, names, _ in groups:
            pipe.scard(key)
            if names:
                pipe.smismember(key, names)
        figures = {
            "host": self.host,
            "pid": self.pid,
            "in_progress": self.registry.in_progress,
            "flushed_at": self.clock.time(),
            **process_figures(),
        }
        ttl = max(self.flush_interval * 3, 1.0)
        self._fleet.queue_heartbeat(pipe, figures, ttl, self.clock.time())
        results = iter(_results(pipe))
        over: dict[str, set[str]] = {}
        for name, _, names, cap in groups:
            count = int(next(results))
            known = [bool(flag) for flag in next(results)] if names else []
            room = max(cap - count, 0)
            rejected: set[str] = set()
            for series, is_known in zip(names, known, strict=True):
                if not is_known and series != OTHER and not series.endswith(" " + OTHER):
                    if room > 0:
                        room -= 1
                    else:
                        rejected.add(series)
            over[name] = rejected
        fold_into_other(delta, **over)

    # ------------------------------------------------------------- reading
    def fleet_registry(self) -> Registry:
        """The fleet's figures: `view()`."""
        return self.view()

    def local_registry(self) -> Registry:
        """This process's unsent figures: `local()`."""
        return self.local()

    def load(self) -> tuple[Registry, int]:
        """Everything the fleet flushed, as a registry, and the last sequence number
        applied for this process (two pipelined round trips)."""
        k = self.keys
        now = self.clock.time()
        first_minute = int(now // 60) - self.registry.settings.retention_hours * 60
        sets, hashes, lists = wanted(k)
        stored = Stored()
        pipe = self.client.pipeline(transaction=False)
        for key in sets:
            pipe.zrange(key, 0, -1) if _is_minutes(key) else pipe.smembers(key)
        for key in hashes:
            pipe.hgetall(key)
        for key in lists:
            pipe.lrange(key, 0, -1)
        pipe.zrangebyscore(self._fleet.processes_key, now, "+inf")
        pipe.hget(k.seq, self.process_id)
        results = iter(_results(pipe))
        for key in sets:
            stored.members[key] = set(texts(next(results)))
        for key in hashes:
            stored.cells[key] = decode(next(results))
        for key in lists:
            stored.recent[key] = list(next(results))
        procs = sorted(texts(next(results)))
        applied = next(results)
        series = series_keys(stored, k, first_minute)
        pipe = self.client.pipeline(transaction=False)
        for key in series:
            pipe.hgetall(key)
        for name in procs:
            pipe.hgetall(self._fleet.process_key(name))
        results = iter(_results(pipe))
        for key in series:
            stored.cells[key] = decode(next(results))
        workers = [decode(next(results)) for _ in procs]
        fleet = registry_from(stored, k, self.registry.settings, self.clock)
        live = [w for w in workers if w]
        fleet.in_progress_override = sum(int(w.get("in_progress", 0)) for w in live)
        self._fleet.workers = live
        return fleet, int(text(applied)) if applied is not None else 0

    def wipe(self) -> None:
        self.clear()

    def clear(self) -> int:
        """Delete every key of this namespace (reset-counters for the whole fleet)."""
        deleted = 0
        batch: list[Any] = []
        for key in self.client.scan_iter(
            match=self.keys.prefix.replace("{", "\\{").replace("}", "\\}") + "*", count=500
        ):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(self.client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(self.client.unlink(*batch))
        return deleted

    # ------------------------------------------------------------ component
    def claim_notification(self, name: str, seconds: float) -> bool:
        """`Fleet.claim_notification`."""
        return self._fleet.claim_notification(name, seconds)

    def describe(self) -> dict[str, Any]:
        return self._fleet.describe()

    def collect(self) -> Iterable[MetricFamily]:
        flushes = MetricFamily(
            "perfkit_fleet_flushes", "counter", "Flushes of this process to Redis."
        )
        flushes.add(self.flushes, "_total", outcome="ok")
        flushes.add(self.failures, "_total", outcome="failed")
        return [flushes, *self._fleet.collect()]


def _is_minutes(key: str) -> bool:
    return key.endswith(_MINUTE_INDEXES)


_MINUTE_INDEXES = tuple(t.names_key for t in TABLES if t.layout == "minutes")


def _results(pipe: Any) -> list[Any]:
    return list(pipe.execute())


def _is_script_error(exc: Exception) -> bool:
    try:
        from redis.exceptions import NoScriptError, ResponseError
    except ImportError:  # pragma: no cover - redis is a dependency
        return False
    return isinstance(exc, ResponseError) and not isinstance(exc, NoScriptError)
