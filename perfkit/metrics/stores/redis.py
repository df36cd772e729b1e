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

from ...clock import Clock
from ...fleet import Fleet, process_figures
from ..families import MetricFamily
from ..registry import Registry
from ..routes import OTHER
from ..state import fold_into_other, merge_endpoint
from ..stats import DurationStats, EndpointStats
from .base import BatchRefused, DeltaStore
from .codec import (
    Keys,
    decode,
    delta_ops,
    fill_endpoint,
    fill_minute,
    fill_query_operations,
    fill_stats,
    fill_tallies,
    query_from,
    recent,
    text,
    texts,
)

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
                    f"PERFKIT_REDIS_URL={redis_url!r} is not a Redis URL: {exc}"
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
            (self.keys.endpoints, [f"{m} {r}" for m, r in delta.endpoints], settings.max_endpoints),
            (self.keys.queries, list(delta.queries), settings.max_queries),
            (self.keys.user_ids, list(delta.users), settings.max_users),
            (self.keys.organization_ids, list(delta.organizations), settings.max_organizations),
        ]
        pipe = self.client.pipeline(transaction=False)
        for key, names, _ in groups:
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
        over: list[set[str]] = []
        for _, names, cap in groups:
            count = int(next(results))
            known = [bool(flag) for flag in next(results)] if names else []
            room = max(cap - count, 0)
            rejected: set[str] = set()
            for name, is_known in zip(names, known, strict=True):
                if not is_known and name != OTHER:
                    if room > 0:
                        room -= 1
                    else:
                        rejected.add(name)
            over.append(rejected)
        fold_into_other(delta, *over)

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
        pipe = self.client.pipeline(transaction=False)
        pipe.smembers(k.endpoints)
        pipe.smembers(k.queries)
        pipe.smembers(k.calls)
        pipe.zrangebyscore(k.request_minutes, first_minute, "+inf")
        pipe.zrangebyscore(k.query_minutes, first_minute, "+inf")
        pipe.zrangebyscore(self._fleet.processes_key, now, "+inf")
        for key in (k.users, k.organizations, k.errors, k.query_operations, k.gauges, k.meta):
            pipe.hgetall(key)
        pipe.lrange(k.slow, 0, -1)
        pipe.lrange(k.slow_queries, 0, -1)
        pipe.hget(k.seq, self.process_id)
        (endpoints, queries, calls, rminutes, qminutes, procs, users, orgs, errors, qops, gauges,
         meta, slow, slowq, applied) = _results(pipe)  # fmt: skip
        names: dict[str, list[Any]] = {
            "ep": sorted(texts(endpoints)),
            "q": sorted(texts(queries)),
            "call": sorted(texts(calls)),
            "rm": [int(float(m)) for m in texts(rminutes)],
            "qm": [int(float(m)) for m in texts(qminutes)],
            "proc": sorted(texts(procs)),
        }
        pipe = self.client.pipeline(transaction=False)
        for name in names["ep"]:
            pipe.hgetall(k.endpoint(name))
        for name in names["q"]:
            pipe.hgetall(k.query(name))
        for name in names["call"]:
            pipe.hgetall(k.call(name))
        for minute in names["rm"]:
            pipe.hgetall(k.request_minute(minute))
        for minute in names["qm"]:
            pipe.hgetall(k.query_minute(minute))
        for name in names["proc"]:
            pipe.hgetall(self._fleet.process_key(name))
        results = iter(_results(pipe))
        fleet = Registry(self.registry.settings, self.clock)
        for name in names["ep"]:
            fields = decode(next(results))
            method, _, route = name.partition(" ")
            if fields:
                stats = fleet._new_endpoint((method, route))  # the fleet view caps too
                loaded = EndpointStats(len(fleet.bucket_bounds))
                fill_endpoint(loaded, fields)
                merge_endpoint(stats, loaded)
        for name in names["q"]:
            fields = decode(next(results))
            if fields:
                fleet.queries[name] = query_from(name, fields)
        for name in names["call"]:
            fields = decode(next(results))
            if fields:
                call_stats = DurationStats()
                fill_stats(call_stats, fields)
                fleet.calls[name] = call_stats
        for table, minutes in (
            (fleet.request_minutes, names["rm"]),
            (fleet.query_minutes, names["qm"]),
        ):
            for minute in minutes:
                fields = decode(next(results))
                if fields:
                    table[minute] = fill_minute(minute, fields)
        workers = [decode(next(results)) for _ in names["proc"]]
        fill_tallies(fleet.users, decode(users))
        fill_tallies(fleet.organizations, decode(orgs))
        fleet.error_types = {name: int(n) for name, n in decode(errors).items()}
        fill_query_operations(fleet, decode(qops))
        fleet.gauges = {name: float(v) for name, v in decode(gauges).items()}
        meta_fields = decode(meta)
        fleet.websocket_sessions = int(meta_fields.get("ws", 0))
        fleet.dropped_endpoints = int(meta_fields.get("dropped", 0))
        fleet.started_at = float(meta_fields.get("started", now))
        fleet.slow_requests.extend(recent(slow))
        fleet.slow_queries.extend(recent(slowq))
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


def _results(pipe: Any) -> list[Any]:
    return list(pipe.execute())


def _is_script_error(exc: Exception) -> bool:
    try:
        from redis.exceptions import NoScriptError, ResponseError
    except ImportError:  # pragma: no cover - redis is a dependency
        return False
    return isinstance(exc, ResponseError) and not isinstance(exc, NoScriptError)
