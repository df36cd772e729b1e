"""Health checks: run concurrently with per-check timeouts, cached briefly; liveness vs readiness.

A check is a callable taking no arguments. It may return None/True (healthy),
False (failed), a status string, or a dict with ``status`` and details; it may
raise (failed). A failed *critical* check makes the service ``critical``; a
failed non-critical one only ``warning``. A check that answers ``critical``
itself (a measurement past its critical level, such as the system check's)
is critical either way.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from ._secrets import mask_url
from ._version import __version__
from .alerts.model import iso as _iso
from .clock import Clock, SystemClock
from .component import Component
from .errors import MissingDependencyError

__all__ = [
    "STATUSES",
    "HealthChecks",
    "backup_freshness_check",
    "database_check",
    "default_checks",
    "disk_space_check",
    "redis_check",
    "system_check",
    "worst",
]

_log = logging.getLogger("perfkit.health")
STATUSES = ("healthy", "unknown", "warning", "critical")  # in increasing order of badness
_RANK = {s: i for i, s in enumerate(STATUSES)}
HealthCheck = Callable[[], object]


def worst(statuses: list[str]) -> str:
    """The worst of `statuses` (``healthy`` for none)."""
    return max(statuses, key=_RANK.__getitem__, default="healthy")


@dataclass
class _Check:
    fn: HealthCheck
    timeout: float
    critical: bool
    thread: threading.Thread | None = None


def _normalise(outcome: object, critical: bool) -> dict[str, Any]:
    failed = "critical" if critical else "warning"
    if outcome is None or outcome is True:
        return {"status": "healthy"}
    if outcome is False:
        return {"status": failed}
    if isinstance(outcome, str) and outcome in _RANK:
        return {"status": outcome}
    if isinstance(outcome, Mapping) and outcome.get("status") in _RANK:
        return dict(outcome)
    return {"status": "unknown", "detail": f"check returned {outcome!r}"}


class HealthChecks(Component):
    """The registered checks and the liveness/readiness reports.

    Args:
        cache_ttl: seconds a readiness result is reused, so a probe storm runs the checks once.
    """

    def __init__(self, clock: Clock | None = None, cache_ttl: float = 5.0) -> None:
        self.clock: Clock = clock or SystemClock()
        self.cache_ttl = cache_ttl
        self._checks: dict[str, _Check] = {}
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()  # one run at a time; others wait and reuse it

    def add_health_check(
        self, name: str, check: HealthCheck, timeout: float = 5.0, critical: bool = True
    ) -> None:
        """Register `check` under `name` (replacing one of that name)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"health check name must be a non-empty string, got {name!r}")
        if not callable(check):
            raise ValueError(f"health check {name!r} must be callable, got {check!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"health check {name!r}: timeout must be > 0 seconds, got {timeout!r}")
        with self._lock:
            self._checks[name] = _Check(check, float(timeout), bool(critical))
            self._cached = None

    def remove_health_check(self, name: str) -> bool:
        with self._lock:
            self._cached = None
            return self._checks.pop(name, None) is not None

    def run(self, use_cache: bool = True) -> dict[str, dict[str, Any]]:
        """Every check's result ``{status, critical, duration, ...}``, run concurrently."""
        with self._run_lock:
            now = self.clock.monotonic()
            if use_cache and self._cached is not None and now - self._cached[0] < self.cache_ttl:
                return self._cached[1]
            with self._lock:
                checks = dict(self._checks)
            results = self._run(checks)
            self._cached = (self.clock.monotonic(), results)
            return results

    def _run(self, checks: dict[str, _Check]) -> dict[str, dict[str, Any]]:
        import time  # durations use the real clock even under a fake one

        outcomes: dict[str, dict[str, Any]] = {}
        started: dict[str, float] = {}
        results: dict[str, dict[str, Any]] = {}
        for name, check in checks.items():
            if check.thread is not None and check.thread.is_alive():
                results[name] = {
                    "status": "critical" if check.critical else "warning",
                    "detail": "previous run has not finished (hung); not started again",
                }
                continue
            out: dict[str, Any] = {}
            outcomes[name] = out
            check.thread = threading.Thread(
                target=_call, args=(check, out), name=f"perfkit-health-{name}", daemon=True
            )
            started[name] = time.perf_counter()
            check.thread.start()
        for name, out in outcomes.items():
            check = checks[name]
            assert check.thread is not None  # started just above
            check.thread.join(max(started[name] + check.timeout - time.perf_counter(), 0.0))
            result: dict[str, Any]
            if check.thread.is_alive():
                result = {
                    "status": "critical" if check.critical else "warning",
                    "detail": f"timed out after {check.timeout:g}s",
                }
            elif "error" in out:
                exc = out["error"]
                result = _normalise(False, check.critical)
                result["detail"] = f"{type(exc).__name__}: {exc}"
            else:
                result = _normalise(out.get("value"), check.critical)
            result.setdefault("duration", round(time.perf_counter() - started[name], 6))
            results[name] = result
        for name, result in results.items():
            result["critical"] = checks[name].critical
        return dict(sorted(results.items()))

    def live(self) -> dict[str, Any]:
        """Liveness: the process answers (no checks run)."""
        return {"status": "healthy", "timestamp": _iso(self.clock.time()), "version": __version__}

    def ready(self, use_cache: bool = True) -> dict[str, Any]:
        """Readiness: ``{status, timestamp, version, checks}`` from the registered checks."""
        checks = self.run(use_cache)
        status = worst([c["status"] for c in checks.values()])
        return {
            "status": status,
            "timestamp": _iso(self.clock.time()),
            "version": __version__,
            "checks": checks,
        }

    def report(self) -> dict[str, Any]:
        """The combined ``/health`` report (the kit calls this): readiness plus ``live``."""
        out = self.ready()
        out["live"] = True
        return out


def _call(check: _Check, out: dict[str, Any]) -> None:
    try:
        out["value"] = check.fn()
    except Exception as exc:  # reported as the check's result
        out["error"] = exc


# ------------------------------------------------------------------ built-in checks
def redis_check(url: str, timeout: float = 2.0) -> HealthCheck:
    """PING the Redis at `url`."""

    def check() -> dict[str, Any]:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
        return {"status": "healthy"}

    return check


def database_check(url: str, timeout: float = 3.0) -> HealthCheck:
    """Connect to `url` (``sqlite:///path``, ``postgresql://...``, ``mysql://...``) and answer.

    SQLite opens the file read-only and runs ``SELECT 1``. PostgreSQL uses psycopg
    when installed, else ``pg_isready``; MySQL/MariaDB uses PyMySQL when installed,
    else ``mysqladmin ping``.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme not in ("sqlite", "postgresql", "postgres", "mysql", "mariadb"):
        raise ValueError(
            f"database_check: unsupported URL {mask_url(url)!r}; expected sqlite/postgresql/mysql"
        )

    def check() -> dict[str, Any]:
        if scheme == "sqlite":
            path = url.split("://", 1)[1][1:] if url.startswith("sqlite:///") else ""
            if not path or not os.path.exists(path):
                raise FileNotFoundError(f"SQLite database {path!r} does not exist")
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
            try:
                conn.execute("SELECT 1").fetchone()
            finally:
                conn.close()
            return {"status": "healthy"}
        if scheme in ("postgresql", "postgres"):
            return _postgres(url, timeout)
        return _mysql(parts, timeout)

    return check


def _run_tool(args: list[str], timeout: float, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 1, env=env)
    if done.returncode != 0:
        output = done.stderr.strip() or done.stdout.strip()
        raise ConnectionError(f"{os.path.basename(args[0])}: {output}")


def _postgres(url: str, timeout: float) -> dict[str, Any]:
    if importlib.util.find_spec("psycopg") is None:
        tool = shutil.which("pg_isready")
        if tool is None:
            raise MissingDependencyError("psycopg", "postgres")
        target, env = _without_password(url)  # argv is readable by every local user (ps)
        _run_tool([tool, "-d", target, "-t", str(max(int(timeout), 1))], timeout, env)
        return {"status": "healthy", "via": "pg_isready"}
    import psycopg  # type: ignore[import-not-found, unused-ignore]

    with psycopg.connect(url, connect_timeout=max(int(timeout), 1)) as conn:
        conn.execute("SELECT 1")
    return {"status": "healthy", "via": "psycopg"}


def _without_password(url: str) -> tuple[str, dict[str, str]]:
    """`url` without its password (in the user part or ``?password=``), and PGPASSWORD for it."""
    parts = urlsplit(url)
    password = unquote(parts.password) if parts.password else ""
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "password":
            password = value
        else:
            query.append((key, value))
    netloc = parts.netloc.rpartition("@")[2]
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    bare = urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))
    env = {**os.environ}
    if password:
        env["PGPASSWORD"] = password
    return bare, env


def _mysql(parts: Any, timeout: float) -> dict[str, Any]:
    host, port = parts.hostname or "127.0.0.1", parts.port or 3306
    user, password = unquote(parts.username or "root"), unquote(parts.password or "")
    if importlib.util.find_spec("pymysql") is None:
        tool = shutil.which("mysqladmin") or shutil.which("mariadb-admin")
        if tool is None:
            raise MissingDependencyError("pymysql", "mysql")
        args = [tool, f"--host={host}", f"--port={port}", f"--user={user}"]
        args += [f"--connect-timeout={max(int(timeout), 1)}", "ping"]
        env = {**os.environ, "MYSQL_PWD": password}  # keeps the password off the command line
        _run_tool(args, timeout, env)
        return {"status": "healthy", "via": "mysqladmin"}
    import pymysql  # type: ignore[import-untyped, import-not-found, unused-ignore]

    conn = pymysql.connect(
        host=host, port=port, user=user, password=password, connect_timeout=timeout,
        database=parts.path.lstrip("/") or None,
    )  # fmt: skip
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    finally:
        conn.close()
    return {"status": "healthy", "via": "pymysql"}


def disk_space_check(
    path: str, warning: float = 90.0, critical: float = 95.0, psutil_module: Any = None
) -> HealthCheck:
    """Disk usage of `path` against percent thresholds."""
    if not 0 <= warning <= critical <= 100:
        raise ValueError(
            f"disk_space_check needs 0 <= warning <= critical <= 100, got {warning}, {critical}"
        )

    def check() -> dict[str, Any]:
        ps = psutil_module
        if ps is None:
            import psutil as ps
        percent = float(ps.disk_usage(path).percent)
        status = (
            "critical" if percent >= critical else "warning" if percent >= warning else "healthy"
        )
        return {"status": status, "path": path, "percent": percent}

    return check


def backup_freshness_check(
    latest: Callable[[], float | datetime | None],
    max_age_hours: float = 24.0,
    clock: Clock | None = None,
) -> HealthCheck:
    """Warn when the newest backup (``latest()``: epoch, datetime or None) is older than allowed."""
    clk = clock or SystemClock()

    def check() -> dict[str, Any]:
        newest = latest()
        if newest is None:
            return {"status": "warning", "detail": "no backup found"}
        ts = newest.timestamp() if isinstance(newest, datetime) else float(newest)
        age = (clk.time() - ts) / 3600.0
        status = "healthy" if age <= max_age_hours else "warning"
        return {"status": status, "age_hours": round(age, 3), "max_age_hours": max_age_hours}

    return check


def system_check(monitor: Any) -> HealthCheck:
    """The system monitor's thresholds (``monitor.get_health_status()``)."""

    def check() -> dict[str, Any]:
        health: dict[str, Any] = monitor.get_health_status()
        return {"status": health["status"], "warnings": health["warnings"], **health["metrics"]}

    return check


def default_checks(settings: Any, clock: Clock, system: Callable[[], Any]) -> HealthChecks:
    """The kit's checks: system thresholds (non-critical: psutil failing is no reason to take
    the instance out of rotation, but figures past ``alert_*_critical`` are critical),
    plus Redis and the database when their URLs are configured."""
    checks = HealthChecks(clock=clock)
    checks.add_health_check("system", lambda: system_check(system())(), critical=False)
    if settings.redis_url:
        checks.add_health_check("redis", redis_check(settings.redis_url), timeout=3.0)
    if settings.database_url:
        try:
            checks.add_health_check("database", database_check(settings.database_url))
        except ValueError as exc:  # an unsupported scheme is reported, not fatal
            detail = str(exc)
            checks.add_health_check("database", lambda: {"status": "unknown", "detail": detail})
    return checks
