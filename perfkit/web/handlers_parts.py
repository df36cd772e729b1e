"""Handlers for the parts: system, alerts, cache, backups, recommendations.

A part that is not in use answers 404 ``not_available`` with how to enable it.
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import BackupError, ConfigError, PerfkitError
from .context import Ctx, json_response
from .handlers import window_hours
from .router import ApiError

if TYPE_CHECKING:
    from ..alerts.manager import AlertManager
    from ..alerts.rules import Rule
    from ..backup import DatabaseBackup
    from ..cache.manager import CacheManager
    from ..system import SystemMonitor
    from .context import ApiRequest
    from .host import ServedKit

__all__ = ["jsonable"]

T = TypeVar("T")


def jsonable(value: Any) -> Any:
    """Dataclasses, datetimes and objects with to_dict() as plain JSON values."""
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return value


def _part(name: str, get: Callable[[], T]) -> T:
    """The kit's part `name` from `get()` (built on first use), or a 404 saying why not."""
    try:
        return get()
    except (ConfigError, PerfkitError, ImportError) as exc:
        raise ApiError(404, "not_available", f"{name} is not available: {exc}") from None


def _system(ctx: Ctx) -> SystemMonitor:
    return _part("system", lambda: ctx.kit.system)


# ---------------------------------------------------------------- system
def system_current(ctx: Ctx) -> Any:
    monitor = _system(ctx)
    return {
        "metrics": jsonable(monitor.get_current_metrics()),
        "health": jsonable(monitor.get_health_status()),
    }


def system_history(ctx: Ctx) -> Any:
    monitor = _system(ctx)
    minutes = ctx.query["minutes"]
    cutoff = ctx.kit.clock.time() - minutes * 60
    history = [jsonable(m) for m in list(monitor.history)]
    points = [m for m in history if _epoch(m.get("timestamp")) >= cutoff]
    return {"minutes": minutes, "history": points}


def _epoch(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0
    return 0.0


def system_processes(ctx: Ctx) -> Any:
    monitor = _system(ctx)
    return {"processes": jsonable(monitor.get_process_metrics(top_n=ctx.query["top"]))}


# ---------------------------------------------------------------- alerts
def _alerts(ctx: Ctx) -> AlertManager:
    return _part("alerts", lambda: ctx.kit.alerts)


def alerts_history(ctx: Ctx) -> Any:
    manager = _alerts(ctx)
    return {
        "alerts": jsonable(
            manager.get_alert_history(hours=window_hours(ctx), severity=ctx.query["severity"])
        )
    }


def alerts_active(ctx: Ctx) -> Any:
    return {"alerts": jsonable(_alerts(ctx).get_active_alerts())}


def alerts_summary(ctx: Ctx) -> Any:
    return jsonable(_alerts(ctx).get_alert_summary(hours=window_hours(ctx)))


def alerts_status(ctx: Ctx) -> Any:
    return jsonable(_alerts(ctx).status())


def rules_list(ctx: Ctx) -> Any:
    return {"rules": [_rule_dict(rule) for rule in _alerts(ctx).rules.values()]}


def _rule_dict(rule: Rule) -> Any:
    return jsonable(rule.to_dict())


def rules_add(ctx: Ctx) -> Any:
    manager = _alerts(ctx)
    body = ctx.json_object()
    if body.get("condition") is not None:
        raise ApiError(
            400, "bad_rule", "condition callables cannot be sent over HTTP; use metric thresholds"
        )
    from ..alerts.anomaly import rule_from_dict

    try:
        rule = rule_from_dict(body)
        manager.add_alert_rule(rule)
    except TypeError as exc:
        raise ApiError(400, "bad_rule", f"invalid rule fields: {exc}") from None
    except ValueError as exc:
        raise ApiError(400, "bad_rule", str(exc)) from None
    ctx.kit.audit("alert_rule", "add", str(body.get("name")), body, ctx.request.client)
    return {"rule": _rule_dict(rule)}


def rules_delete(ctx: Ctx) -> Any:
    manager = _alerts(ctx)
    name = ctx.args.get("name") or ctx.query.get("name")
    if not name:
        raise ApiError(400, "bad_parameter", "name the rule: DELETE /api/alerts/rules/{name}")
    if not manager.remove_alert_rule(name):
        raise ApiError(404, "not_found", f"no alert rule named {name!r}")
    ctx.kit.audit("alert_rule", "delete", name, None, ctx.request.client)
    return {"deleted": name}


def rules_test(ctx: Ctx) -> Any:
    manager = _alerts(ctx)
    try:
        return jsonable(manager.test_rule(ctx.args["name"]))
    except KeyError:
        raise ApiError(404, "not_found", f"no alert rule named {ctx.args['name']!r}") from None


def signature_valid(kit: ServedKit, request: ApiRequest) -> bool:
    """True when ``alert_webhook_secret`` is set and X-Perfkit-Signature signs the body."""
    secret = kit.settings.alert_webhook_secret
    given = request.headers.get("x-perfkit-signature", "")
    if not secret or not given:
        return False
    from ..alerts.notifiers.webhook import sign

    return hmac.compare_digest(given.strip().encode(), sign(secret, request.body).encode())


def alerts_webhook(ctx: Ctx) -> Any:
    """External alerts. With ``alert_webhook_secret`` set, a valid signature alone
    authenticates (senders that cannot add a token); an unsigned request still needs
    the token (checked before this runs), and a bad signature is refused even with one."""
    manager = _alerts(ctx)
    signed = "x-perfkit-signature" in ctx.request.headers
    if (
        signed
        and ctx.kit.settings.alert_webhook_secret
        and not signature_valid(ctx.kit, ctx.request)
    ):
        raise ApiError(401, "bad_signature", "X-Perfkit-Signature does not match the body")
    payload = ctx.json_object()  # rejects non-JSON and non-objects with a 400 first
    try:
        alert = manager.ingest_external(payload)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "bad_alert", str(exc)) from None
    return {"accepted": jsonable(alert)}


def alerts_test(ctx: Ctx) -> Any:
    """One test notification per notifier, each outcome; 502 when any failed."""
    report = _alerts(ctx).send_test(origin="api")
    ctx.kit.audit("alert_test", "send", "notifiers", None, ctx.request.client)
    return json_response(200 if report["ok"] else 502, report)


# ----------------------------------------------------------------- cache
def _cache(ctx: Ctx) -> CacheManager:
    return _part("cache", lambda: ctx.kit.cache)


def cache_stats(ctx: Ctx) -> Any:
    return jsonable(_cache(ctx).get_stats())


def cache_clear(ctx: Ctx) -> Any:
    cleared = _cache(ctx).clear()
    ctx.kit.audit("cache", "clear", "cache", None, ctx.request.client)
    return {"cleared": jsonable(cleared) if cleared is not None else True}


# --------------------------------------------------------------- backups
def _backups(ctx: Ctx) -> DatabaseBackup:
    return _part("backups", lambda: ctx.kit.backups)


def _name(ctx: Ctx) -> str:
    name = ctx.args["name"]
    if (
        not name
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or name in (".", "..")
        or name.startswith(".")
    ):
        raise ApiError(400, "bad_name", f"{name!r} is not a backup file name")
    return name


def backups_list(ctx: Ctx) -> Any:
    return {"backups": jsonable(_backups(ctx).list_backups())}


def backups_create(ctx: Ctx) -> Any:
    manager = _backups(ctx)
    try:
        info = manager.create_backup()
    except BackupError as exc:
        raise ApiError(502, "backup_failed", str(exc)) from None
    ctx.kit.audit("backup", "create", info.filename, None, ctx.request.client)
    return {"backup": jsonable(info)}


def backups_stats(ctx: Ctx) -> Any:
    return jsonable(_backups(ctx).get_backup_stats())


def backups_delete(ctx: Ctx) -> Any:
    name = _name(ctx)
    try:
        deleted = _backups(ctx).delete_backup(name)
    except ValueError as exc:
        raise ApiError(400, "bad_name", str(exc)) from None
    if not deleted:
        raise ApiError(404, "not_found", f"no backup named {name!r}")
    ctx.kit.audit("backup", "delete", name, None, ctx.request.client)
    return {"deleted": name}


def backups_restore(ctx: Ctx) -> Any:
    name = _name(ctx)
    manager = _backups(ctx)
    if name not in {b.filename for b in manager.list_backups()}:
        raise ApiError(404, "not_found", f"no backup named {name!r}")
    try:
        result = manager.restore_backup(name)
    except ValueError as exc:
        raise ApiError(400, "bad_name", str(exc)) from None
    except BackupError as exc:
        raise ApiError(409, "restore_refused", str(exc)) from None
    ctx.kit.audit("backup", "restore", name, None, ctx.request.client)
    return {"restored": name, "result": jsonable(result)}


# ------------------------------------------------------- recommendations
def recommendations(ctx: Ctx) -> Any:
    return {"recommendations": jsonable(ctx.kit.get_recommendations())}
