"""Fleet coordination over Redis: heartbeats, one notification per alert, one sampler per host.

The Redis metrics store carries a `Fleet`; the kit hands its claims to the
alert manager and its host-sample exchange to the system monitor. Every claim
is a `perfkit.locks.RedisLock`, and every one fails open: with Redis
unreachable each process notifies and samples for itself (a duplicate beats a
lost alert).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from ._forks import after_fork_in_child
from .locks import RedisLock
from .metrics.families import MetricFamily, MetricKind

__all__ = ["WORKER_FAMILIES", "Fleet", "HostSamples", "process_figures"]

_log = logging.getLogger("perfkit.fleet")

# per-worker figures from the heartbeats: (family, kind, help, heartbeat field)
WORKER_FAMILIES: tuple[tuple[str, MetricKind, str, str], ...] = (
    ("perfkit_worker_in_progress", "gauge", "Requests in flight, per worker.", "in_progress"),
    ("perfkit_worker_rss_bytes", "gauge", "Resident memory of each worker.", "rss_bytes"),
    ("perfkit_worker_threads", "gauge", "Threads of each worker.", "threads"),
    ("perfkit_worker_cpu_seconds", "counter", "CPU time used by each worker.", "cpu_seconds"),
)


class Fleet:
    """The processes of one namespace: who is alive, who notifies, who samples the host.

    Args:
        client: a redis-py client.
        prefix: the namespace's key prefix (``{namespace}:``).
        host: this machine's name.
        process_id: this process's id in the fleet.
    """

    def __init__(self, client: Any, prefix: str, host: str, process_id: str) -> None:
        self.client = client
        self.prefix = prefix
        self.host = host
        self.process_id = process_id
        self.processes_key = prefix + "procs"
        self.workers: list[dict[str, str]] = []  # the live heartbeats, as last read

    def process_key(self, process_id: str) -> str:
        return self.prefix + "proc:" + process_id

    def queue_heartbeat(self, pipe: Any, figures: dict[str, Any], ttl: float, now: float) -> None:
        """This worker's live figures, expiring unless refreshed: dead workers drop out."""
        key = self.process_key(self.process_id)
        pipe.hset(key, mapping={k: str(v) for k, v in figures.items()})
        pipe.pexpire(key, int(ttl * 1000))
        pipe.zadd(self.processes_key, {self.process_id: now + ttl})
        pipe.zremrangebyscore(self.processes_key, "-inf", now)

    def claim_notification(self, name: str, seconds: float) -> bool:
        """True for the one process that may send this notification in the window."""
        lock = RedisLock(self.client, self.prefix + "notified:" + name, ttl=max(seconds, 0.001))
        try:
            return lock.acquire()  # never released: the claim covers the whole window
        except Exception as exc:
            _log.debug("notification claim failed open: %s", exc)
            return True

    def host_samples(self) -> HostSamples:
        """The per-host sample exchange for the system monitor (one sampler per host)."""
        return HostSamples(self.client, self.prefix, self.host)

    def describe(self) -> dict[str, Any]:
        hosts: dict[str, int] = {}
        for worker in self.workers:
            host = worker.get("host", "?")
            hosts[host] = hosts.get(host, 0) + 1
        return {"workers": [dict(w) for w in self.workers], "hosts": hosts}

    def collect(self) -> Iterable[MetricFamily]:
        workers = MetricFamily(
            "perfkit_fleet_workers", "gauge", "Live worker processes (heartbeats)."
        )
        workers.add(len(self.workers))
        families = [workers]
        for name, kind, help_text, field in WORKER_FAMILIES:
            family = MetricFamily(name, kind, help_text)
            for worker in self.workers:
                if field in worker:
                    label = f"{worker.get('host', '?')}:{worker.get('pid', '?')}"
                    family.add(
                        float(worker[field]), "_total" if kind == "counter" else "", worker=label
                    )
            families.append(family)
        return families


class HostSamples:
    """One process per host reads the machine's figures; its neighbours reuse them.

    Host figures (CPU, RAM, disk, network) are the same for every worker of a
    host, so sampling them once per worker is waste. A lock per host, held
    across intervals by its holder, picks the sampler.
    """

    def __init__(self, client: Any, prefix: str, host: str) -> None:
        self.client = client
        self.data_key = prefix + "host:" + host
        self.lock = RedisLock(client, prefix + "hostlock:" + host, ttl=45.0)
        self.ttl_ms = 30_000
        after_fork_in_child(self, "_new_holder")

    def _new_holder(self) -> None:
        # a forked worker is another holder: the parent's token must not count as its own
        self.lock = RedisLock(self.client, self.lock.name, self.lock.ttl)

    def claim(self, interval: float) -> bool:
        """True when this process should sample now (it holds, or just took, the claim)."""
        self.ttl_ms = max(int(interval * 3000), 1000)
        hold = max(interval * 1.5, 0.5)  # outlives one interval: the sampler stays put
        self.lock.ttl = hold
        try:
            return self.lock.acquire() or self.lock.extend(hold)
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
            data = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


def process_figures() -> dict[str, Any]:
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
