"""Fleet mode: each process aggregates locally and ships deltas to Redis off the request path.

A flush takes the registry's delta and applies it in ONE Lua script call
tagged with (process id, sequence number): a retried flush whose first try did
reach Redis is a no-op, so nothing is counted twice. While Redis is down the
delta is kept (bounded by the same caps and retention as the registry) and
shipped when it returns. Reads build the fleet's registry from Redis plus this
process's unflushed delta.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterable
from typing import Any

from .._forks import after_fork_in_child
from ..clock import Clock, SystemClock
from .families import MetricFamily, MetricKind
from .redis_codec import (
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
from .registry import Registry
from .routes import OTHER
from .state import fold_into_other, merge_endpoint, merge_into
from .stats import DurationStats, EndpointStats

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


class RedisStore:
    """Ships the registry's deltas to Redis and reads the fleet's figures back.

    Args:
        registry: this process's registry (its tables are taken at each flush).
        redis_url: where Redis is (``redis://host:port/db``).
        namespace: key prefix shared by every process of one service.
        flush_interval: seconds between background flushes.
        client: an existing redis-py client (tests), instead of `redis_url`.
    """

    scope = "fleet"  # the figures cover every process of every host sharing the namespace

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
        self.registry = registry
        self.keys = Keys(namespace)
        self.flush_interval = flush_interval
        self.clock: Clock = clock or SystemClock()
        self.retention_seconds = registry.settings.retention_hours * 3600 + 3600
        self._flush_lock = threading.Lock()
        self._in_flight: tuple[int, str] | None = None  # a try whose outcome is unknown
        self._in_flight_delta: Registry | None = None  # the same batch, for local reads
        self._seq = 0
        self._new_identity()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.flushes = 0
        self.failures = 0
        self.dropped_batches = 0
        self.workers: list[dict[str, str]] = []
        self.last_error: str | None = None
        self.last_flush_at: float | None = None
        self._script: Any = None
        after_fork_in_child(self, "_after_fork")

    # ---------------------------------------------------------------- identity
    def _new_identity(self) -> None:
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.process_id = f"{self.host}:{self.pid}:{secrets.token_hex(4)}"
        self._seq = 0

    def _after_fork(self) -> None:
        # a forked worker is a new process of the fleet: own id, own sequence, no inherited delta
        self._new_identity()
        self._in_flight = None
        self._in_flight_delta = None
        self._flush_lock = threading.Lock()
        self.registry.take_delta()  # the parent ships what it had aggregated, not every child
        self._thread = None
        self._stop = threading.Event()

    # ----------------------------------------------------------------- flushing
    def flush(self) -> bool:
        """Ship what was aggregated since the last flush; True when Redis has it all.

        A batch whose outcome is unknown (timeout, dropped connection) is
        resent as it was, with the same sequence number, before anything new:
        the script ignores a sequence it has already applied. Until then the
        registry keeps aggregating locally, bounded by its caps and retention.
        """
        with self._flush_lock:
            try:
                if self._in_flight is not None:
                    self._apply(*self._in_flight)
                    self._in_flight = None
                    self._in_flight_delta = None
                delta = self.registry.take_delta()
                try:
                    self._cap_and_heartbeat(delta)
                except Exception:
                    merge_into(self.registry, delta)  # nothing was sent: keep it for next time
                    raise
                ops = delta_ops(delta, self.keys, self.retention_seconds)
                self._seq += 1
                self._in_flight = (self._seq, json.dumps(ops, separators=(",", ":")))
                self._in_flight_delta = delta
                self._apply(*self._in_flight)
                self._in_flight = None
                self._in_flight_delta = None
            except Exception as exc:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                if _is_script_error(exc) and self._in_flight is not None:
                    # Redis refused the batch itself: resending cannot help; count the loss
                    self.dropped_batches += 1
                    self._in_flight = None
                    self._in_flight_delta = None
                    _log.error("Redis refused a metrics batch (%s); it was dropped", exc)
                else:
                    _log.debug("flush to Redis failed (%s); will resend", self.last_error)
                return False
            self.flushes += 1
            self.last_flush_at = self.clock.time()
            return True

    def _apply(self, seq: int, payload: str) -> None:
        if self._script is None:
            self._script = self.client.register_script(_APPLY)
        self._script(keys=[self.keys.seq], args=[self.process_id, seq, payload])

    def _cap_and_heartbeat(self, delta: Registry) -> None:
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
        self._queue_heartbeat(pipe)
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

    def _queue_heartbeat(self, pipe: Any) -> None:
        """This worker's live figures, expiring unless refreshed: dead workers drop out."""
        key = self.keys.process(self.process_id)
        ttl_ms = int(max(self.flush_interval * 3, 1.0) * 1000)
        figures = {
            "host": self.host,
            "pid": self.pid,
            "in_progress": self.registry.in_progress,
            "flushed_at": self.clock.time(),
            **_process_figures(),
        }
        pipe.hset(key, mapping={k: str(v) for k, v in figures.items()})
        pipe.pexpire(key, ttl_ms)
        pipe.zadd(self.keys.processes, {self.process_id: self.clock.time() + ttl_ms / 1000})
        pipe.zremrangebyscore(self.keys.processes, "-inf", self.clock.time())

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="perfkit-redis-flush", daemon=True)
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

    # ------------------------------------------------------------------- reading
    def fleet_registry(self) -> Registry:
        """The fleet's figures (Redis) plus this process's unflushed delta."""
        batch = self._in_flight_delta  # taken before load: a batch applied meanwhile is in Redis
        fleet = self.load()
        merge_into(fleet, self.registry)
        if batch is not None and self._in_flight_delta is batch:
            merge_into(fleet, batch)  # not yet confirmed by Redis: still only here
        return fleet

    def local_registry(self) -> Registry:
        """What this process holds that Redis may not have: its delta and an unsent batch."""
        local = Registry(self.registry.settings, self.clock)
        merge_into(local, self.registry)
        batch = self._in_flight_delta
        if batch is not None:
            merge_into(local, batch)
        return local

    def load(self) -> Registry:
        """Everything the fleet flushed, as a registry (two pipelined round trips)."""
        k = self.keys
        now = self.clock.time()
        first_minute = int(now // 60) - self.registry.settings.retention_hours * 60
        pipe = self.client.pipeline(transaction=False)
        pipe.smembers(k.endpoints)
        pipe.smembers(k.queries)
        pipe.smembers(k.calls)
        pipe.zrangebyscore(k.request_minutes, first_minute, "+inf")
        pipe.zrangebyscore(k.query_minutes, first_minute, "+inf")
        pipe.zrangebyscore(k.processes, now, "+inf")
        for key in (k.users, k.organizations, k.errors, k.query_operations, k.gauges, k.meta):
            pipe.hgetall(key)
        pipe.lrange(k.slow, 0, -1)
        pipe.lrange(k.slow_queries, 0, -1)
        (endpoints, queries, calls, rminutes, qminutes, procs, users, orgs, errors, qops, gauges,
         meta, slow, slowq) = _results(pipe)  # fmt: skip
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
            pipe.hgetall(k.process(name))
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
        self.workers = live
        return fleet

    def reset(self) -> None:
        """reset-counters: forget the fleet's figures in Redis (and this process's delta)."""
        with self._flush_lock:
            self._in_flight = None
            self._in_flight_delta = None
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

    # ------------------------------------------------------------- coordination
    def claim_notification(self, name: str, seconds: float) -> bool:
        """True for the one process that may send this notification in the window.

        Fails open: with Redis unreachable every process may notify (a
        duplicate is better than a lost alert)."""
        try:
            return bool(
                self.client.set(
                    self.keys.notified(name),
                    self.process_id,
                    nx=True,
                    px=max(int(seconds * 1000), 1),
                )
            )
        except Exception as exc:
            _log.debug("notification claim failed open: %s", exc)
            return True

    def host_samples(self) -> HostSamples:
        """The per-host sample exchange for the system monitor (one sampler per host)."""
        return HostSamples(self.client, self.keys, self.host, self.process_id)

    # --------------------------------------------------------------- component
    def snapshot(self) -> dict[str, Any]:
        hosts: dict[str, int] = {}
        for worker in self.workers:
            hosts[worker.get("host", "?")] = hosts.get(worker.get("host", "?"), 0) + 1
        return {
            "process_id": self.process_id,
            "flushes": self.flushes,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_flush_at": self.last_flush_at,
            "resend_pending": self._in_flight is not None,
            "dropped_batches": self.dropped_batches,
            "workers": [dict(w) for w in self.workers],
            "hosts": hosts,
        }

    def collect(self) -> Iterable[MetricFamily]:
        flushes = MetricFamily(
            "perfkit_fleet_flushes", "counter", "Flushes of this process to Redis."
        )
        flushes.add(self.flushes, "_total", outcome="ok")
        flushes.add(self.failures, "_total", outcome="failed")
        workers = MetricFamily(
            "perfkit_fleet_workers", "gauge", "Live worker processes (heartbeats)."
        )
        workers.add(len(self.workers))
        families = [flushes, workers]
        for name, kind, help_text, field in _WORKER_FAMILIES:
            family = MetricFamily(name, kind, help_text)
            for worker in self.workers:
                if field in worker:
                    label = f"{worker.get('host', '?')}:{worker.get('pid', '?')}"
                    family.add(
                        float(worker[field]), "_total" if kind == "counter" else "", worker=label
                    )
            families.append(family)
        return families


# per-worker figures from the heartbeats: (family, kind, help, heartbeat field)
_WORKER_FAMILIES: tuple[tuple[str, MetricKind, str, str], ...] = (
    ("perfkit_worker_in_progress", "gauge", "Requests in flight, per worker.", "in_progress"),
    ("perfkit_worker_rss_bytes", "gauge", "Resident memory of each worker.", "rss_bytes"),
    ("perfkit_worker_threads", "gauge", "Threads of each worker.", "threads"),
    ("perfkit_worker_cpu_seconds", "counter", "CPU time used by each worker.", "cpu_seconds"),
)


class HostSamples:
    """One process per host reads the machine's figures; its neighbours reuse them.

    Host figures (CPU, RAM, disk, network) are the same for every worker of a
    host, so sampling them once per worker is waste. A short Redis claim per
    host picks the sampler; with Redis unreachable every process samples for
    itself (fail open).
    """

    def __init__(self, client: Any, keys: Keys, host: str, process_id: str) -> None:
        self.client = client
        self.lock_key = keys.prefix + "hostlock:" + host
        self.data_key = keys.prefix + "host:" + host
        self.process_id = process_id
        self.ttl_ms = 30_000

    def claim(self, interval: float) -> bool:
        """True when this process should sample now (it holds, or just took, the claim)."""
        self.ttl_ms = max(int(interval * 3000), 1000)
        try:
            hold_ms = max(int(interval * 1500), 500)  # outlives one interval: the sampler stays put
            if self.client.set(self.lock_key, self.process_id, nx=True, px=hold_ms):
                return True
            holder = self.client.get(self.lock_key)
            if text(holder) == self.process_id:
                self.client.pexpire(self.lock_key, hold_ms)
                return True
            return False
        except Exception:
            return True

    def publish(self, data: dict[str, Any]) -> None:
        try:
            self.client.set(self.data_key, json.dumps(data, default=str), px=self.ttl_ms)
        except Exception as exc:
            _log.debug("host sample not published: %s", exc)

    def fetch(self) -> dict[str, Any] | None:
        try:
            raw = self.client.get(self.data_key)
        except Exception:
            return None
        if raw is None:
            return None
        try:
            data = json.loads(text(raw))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


def _process_figures() -> dict[str, Any]:
    """CPU seconds, RSS and threads of this worker (psutil is a dependency)."""
    try:
        import psutil

        proc = psutil.Process()
        with proc.oneshot():
            cpu = proc.cpu_times()
            return {
                "cpu_seconds": round(cpu.user + cpu.system, 3),
                "rss_bytes": proc.memory_info().rss,
                "threads": proc.num_threads(),
            }
    except Exception:  # process figures are a bonus; a failure must not stop the flush
        return {}


def _results(pipe: Any) -> list[Any]:
    return list(pipe.execute())


def _is_script_error(exc: Exception) -> bool:
    try:
        from redis.exceptions import NoScriptError, ResponseError
    except ImportError:  # pragma: no cover - redis is a dependency
        return False
    return isinstance(exc, ResponseError) and not isinstance(exc, NoScriptError)
