"""PerfkitSettings: every knob with a default, `from_env()`, and validation."""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._secrets import MASK, mask_url
from .errors import ConfigError

__all__ = ["DEFAULT_BUCKETS", "PerfkitSettings"]

DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip

_ENV_PREFIX = "PERFKIT_"


def _check(
    kind: str,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    secret: bool = False,
    url: bool = False,
) -> dict[str, Any]:
    """Field metadata: the value's kind, its allowed range, and how to show it.

    `secret` values are shown as ``***``; `url` values with their password and
    secret query parameters masked (`repr`, `str`, `to_dict`, ``GET /api/config``).
    """
    return {"kind": kind, "min": minimum, "max": maximum, "secret": secret, "url": url}


@dataclass
class PerfkitSettings:
    """Every perfkit setting, with its default.

    Each field can be set from the environment as ``PERFKIT_<FIELD_NAME>``
    (upper case) through `PerfkitSettings.from_env`. Durations are in seconds.
    """

    # --- serving ---
    prefix: str = field(default="/perfkit", metadata=_check("prefix"))
    token: str | None = field(default=None, metadata=_check("optional_str", secret=True))
    # opens every GET of the API, /metrics when not public, and the dashboard; no writes
    read_token: str | None = field(default=None, metadata=_check("optional_str", secret=True))
    # with no token: state-changing operations answer loopback only when this is true
    allow_unauthenticated_admin: bool = field(default=False, metadata=_check("bool"))
    # reads made with a token are audited at most once per client per this many seconds
    audit_read_interval: float = field(default=60.0, metadata=_check("float", 0.0, 86_400))
    metrics_public: bool = field(default=True, metadata=_check("bool"))
    # kit.start() serves the whole perfkit surface on this port too (0: no admin listener)
    admin_port: int = field(default=0, metadata=_check("int", 0, 65_535))
    admin_host: str = field(default="127.0.0.1", metadata=_check("str"))
    # false: the app's port serves only health under the prefix (use the admin listener)
    prefix_on_app: bool = field(default=True, metadata=_check("bool"))
    api_rate_limit: int = field(default=600, metadata=_check("int", 0, 1_000_000))
    # --- request guards (perfkit.guards; rate limits need perfkit[guards]) ---
    rate_limit: str | None = field(default=None, metadata=_check("rate_limit"))
    rate_limit_key: str = field(default="ip", metadata=_check("rate_limit_key"))
    rate_limit_headers: bool = field(default=True, metadata=_check("bool"))
    max_content_length: int | None = field(default=None, metadata=_check("size"))
    trusted_proxies: str | None = field(default=None, metadata=_check("proxies"))
    # --- request metrics ---
    slow_request_threshold: float = field(default=2.0, metadata=_check("float", 0.0))
    slow_query_threshold: float = field(default=0.5, metadata=_check("float", 0.0))
    slow_requests_kept: int = field(default=100, metadata=_check("int", 1, 100_000))
    max_endpoints: int = field(default=500, metadata=_check("int", 1, 100_000))
    max_users: int = field(default=1000, metadata=_check("int", 1, 1_000_000))
    max_organizations: int = field(default=1000, metadata=_check("int", 1, 1_000_000))
    max_queries: int = field(default=500, metadata=_check("int", 1, 100_000))
    max_path_length: int = field(default=256, metadata=_check("int", 16, 65_536))
    retention_hours: int = field(default=24, metadata=_check("int", 1, 720))
    histogram_buckets: tuple[float, ...] = field(
        default=DEFAULT_BUCKETS, metadata=_check("buckets")
    )
    user_id_hash_key: str | None = field(default=None, metadata=_check("optional_str", secret=True))
    # --- system monitor and alerts ---
    monitoring_interval: float = field(default=10.0, metadata=_check("float", 0.1, 86_400))
    alert_cpu_threshold: float = field(default=80.0, metadata=_check("float", 0, 100))
    alert_memory_threshold: float = field(default=80.0, metadata=_check("float", 0, 100))
    alert_disk_threshold: float = field(default=90.0, metadata=_check("float", 0, 100))
    # critical levels: the default rules' critical thresholds and /health's 503
    alert_cpu_critical: float = field(default=95.0, metadata=_check("float", 0, 100))
    alert_memory_critical: float = field(default=95.0, metadata=_check("float", 0, 100))
    alert_disk_critical: float = field(default=95.0, metadata=_check("float", 0, 100))
    # the default rule on one request slower than this many seconds (0: the rule is off)
    alert_request_seconds: float = field(default=0.0, metadata=_check("float", 0.0, 86_400))
    max_alerts_per_hour: int = field(default=10, metadata=_check("int", 0, 100_000))
    # shared secret of POST /api/alerts/webhook: X-Perfkit-Signature must be its HMAC-SHA256
    alert_webhook_secret: str | None = field(
        default=None, metadata=_check("optional_str", secret=True)
    )
    # hours of system samples kept (at monitoring_interval; bounded, see docs/system.md)
    system_history_hours: float = field(default=24.0, metadata=_check("float", 0.01, 720))
    # --- notifications (perfkit.alerts.channels; a log notifier is always on) ---
    # smtp://user:pass@host:port, smtps://... (TLS from the start) or ...?starttls=1
    notify_smtp_url: str | None = field(default=None, metadata=_check("smtp_url", url=True))
    notify_email_from: str | None = field(default=None, metadata=_check("email"))
    notify_email_to: str | None = field(default=None, metadata=_check("emails"))
    notify_webhook_url: str | None = field(default=None, metadata=_check("webhook_urls"))
    notify_webhook_format: str = field(default="json", metadata=_check("webhook_format"))
    notify_webhook_secret: str | None = field(
        default=None, metadata=_check("optional_str", secret=True)
    )
    # --- storage and fleet ---
    data_dir: str = field(default="perfkit-data", metadata=_check("str"))
    redis_url: str | None = field(default=None, metadata=_check("optional_str", url=True))
    redis_namespace: str = field(default="perfkit", metadata=_check("str"))
    # where metrics aggregate (docs/deployment.md): "auto" is Redis when redis_url is set,
    # else the host store (SQLite in data_dir) when the server runs several workers, else memory
    metrics_store: str = field(default="auto", metadata=_check("metrics_store"))
    # memory store only: save the figures here (JSON, atomically) and reload them at start
    metrics_file: str | None = field(default=None, metadata=_check("optional_str"))
    flush_interval: float = field(default=5.0, metadata=_check("float", 0.05, 3600))
    # --- logging ---
    app_name: str = field(default="app", metadata=_check("str"))
    log_dir: str = field(default="logs", metadata=_check("str"))
    log_level: str = field(default="INFO", metadata=_check("log_level"))
    log_json: bool = field(default=True, metadata=_check("bool"))
    log_max_bytes: int = field(default=10 * 1024 * 1024, metadata=_check("int", 0))
    log_backup_count: int = field(default=10, metadata=_check("int", 0, 100_000))
    # comma-separated words marking secret keys; None keeps perfkit.logs.DEFAULT_REDACT_KEYS
    log_redact_keys: str | None = field(default=None, metadata=_check("optional_str"))
    log_max_message_bytes: int = field(default=65_536, metadata=_check("int", 0))
    log_requests: bool = field(default=False, metadata=_check("bool"))
    log_request_sample_rate: float = field(default=1.0, metadata=_check("float", 0.0, 1.0))
    # --- backups ---
    database_url: str | None = field(default=None, metadata=_check("optional_str", url=True))
    backup_dir: str = field(default="backups", metadata=_check("str"))
    max_backups: int = field(default=7, metadata=_check("int", 1, 10_000))
    backup_hour: int = field(default=2, metadata=_check("int", 0, 23))
    backup_minute: int = field(default=0, metadata=_check("int", 0, 59))
    backup_timezone: str | None = field(default=None, metadata=_check("optional_str"))
    # with a database_url, kit.start() schedules the daily backup
    backup_schedule: bool = field(default=True, metadata=_check("bool"))
    backup_compress: bool = field(default=True, metadata=_check("bool"))
    # 32 bytes as 64 hex digits or base64: AES-256-GCM at rest (needs perfkit[crypto])
    backup_encryption_key: str | None = field(
        default=None, metadata=_check("optional_str", secret=True)
    )
    # --- cache ---
    cache_backend: str = field(default="auto", metadata=_check("cache_backend"))
    cache_default_ttl: float = field(default=300.0, metadata=_check("float", 0.0))
    cache_maxsize: int = field(default=10_000, metadata=_check("int", 1, 10_000_000))
    cache_signing_key: str | None = field(
        default=None, metadata=_check("optional_str", secret=True)
    )
    cache_serializer: str = field(default="json", metadata=_check("str"))  # json or pickle

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            setattr(self, f.name, _validate(f.name, value, f.metadata, f.name))
        _check_together(self)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> PerfkitSettings:
        """Build settings from ``PERFKIT_*`` variables (``os.environ`` by default).

        Keyword arguments win over the environment. A bad value raises
        `ConfigError` naming the variable and the expected form.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            var = _ENV_PREFIX + f.name.upper()
            if f.name in overrides:
                values[f.name] = overrides.pop(f.name)
            elif var in env:
                values[f.name] = _parse(var, env[var], f.metadata)
        if overrides:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(overrides))}")
        return cls(**values)

    def replace(self, **changes: Any) -> PerfkitSettings:
        """A copy with `changes` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-serialisable values, secrets masked."""
        out = {f.name: _shown(getattr(self, f.name), f.metadata) for f in dataclasses.fields(self)}
        out["histogram_buckets"] = list(out["histogram_buckets"])
        return out

    def __repr__(self) -> str:
        """Every field, secrets masked (settings end up in logs and tracebacks)."""
        shown = ", ".join(
            f"{f.name}={_shown(getattr(self, f.name), f.metadata)!r}"
            for f in dataclasses.fields(self)
        )
        return f"{type(self).__name__}({shown})"

    __str__ = __repr__


def _shown(value: Any, meta: Mapping[str, Any]) -> Any:
    if value is None or value == "":
        return value
    if meta.get("secret"):
        return MASK
    if meta.get("url") and isinstance(value, str):
        return mask_url(value)
    if meta.get("kind") == "webhook_urls" and isinstance(value, str):
        return _mask_paths(value)
    return value


def _mask_paths(urls: str) -> str:
    """Webhook URLs without their paths: Slack and Teams put the secret in the path."""
    shown = []
    for url in urls.split(","):
        scheme, sep, rest = url.strip().partition("://")
        host, slash, path = rest.partition("/")
        host = host.rpartition("@")[2]
        shown.append(f"{scheme}{sep}{host}{slash}{'***' if path else ''}")
    return ",".join(shown)


def _check_together(s: PerfkitSettings) -> None:
    """Settings that only make sense together: warning below critical, e-mail complete."""
    for kind in ("cpu", "memory", "disk"):
        warning, critical = (
            getattr(s, f"alert_{kind}_threshold"),
            getattr(s, f"alert_{kind}_critical"),
        )
        if warning > critical:
            raise ConfigError(
                f"setting alert_{kind}_threshold ({env_var(f'alert_{kind}_threshold')}) = "
                f"{warning:g} is above alert_{kind}_critical "
                f"({env_var(f'alert_{kind}_critical')}) = {critical:g}: the warning level "
                "must not be past the critical one"
            )
    email = {"notify_smtp_url": s.notify_smtp_url, "notify_email_from": s.notify_email_from,
             "notify_email_to": s.notify_email_to}  # fmt: skip
    given = [k for k, v in email.items() if v]
    if given and len(given) < len(email):
        missing = next(k for k in email if k not in given)
        raise ConfigError(
            f"setting {missing} ({env_var(missing)}) is not set: e-mail alerts need "
            f"notify_smtp_url, notify_email_from and notify_email_to (got {', '.join(given)})"
        )


def env_var(name: str) -> str:
    """The environment variable that sets the field `name`."""
    return _ENV_PREFIX + name.upper()


_EXPECTED = {
    "str": "a non-empty string",
    "optional_str": "a string",
    "bool": "one of true/false/1/0/yes/no/on/off",
    "int": "an integer",
    "float": "a number",
    "prefix": "a path starting with '/' (e.g. /perfkit)",
    "buckets": "comma-separated increasing positive numbers (e.g. 0.1,0.5,1)",
    "log_level": "one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    "cache_backend": "one of auto, memory, redis",
    "metrics_store": "one of auto, memory, file, host, redis",
    "rate_limit": "limits like 100/minute or 10/second;1000/hour",
    "rate_limit_key": "one of ip, user",
    "size": "a size in bytes from 1 to 1 TiB (e.g. 16777216 or 16MiB)",
    "proxies": "comma-separated IP addresses or CIDR networks (e.g. 10.0.0.1,192.168.0.0/16)",
    "smtp_url": "smtp://[user:password@]host[:port], smtps://... or smtp://...?starttls=1",
    "email": "an e-mail address (e.g. alerts@example.com)",
    "emails": "comma-separated e-mail addresses",
    "webhook_urls": "comma-separated http(s) URLs",
    "webhook_format": "one of json, slack, teams",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse(var: str, raw: str, meta: Mapping[str, Any]) -> Any:
    """Turn an environment string into a typed value; validation happens after."""
    kind = meta["kind"]
    text = raw.strip()
    try:
        if kind == "bool":
            low = text.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "buckets":
            return tuple(float(part) for part in text.split(",") if part.strip())
        if kind == "optional_str":
            return text or None
        return text
    except ValueError:
        raise ConfigError(f"{var}={raw!r} is not valid: expected {_EXPECTED[kind]}") from None


def _validate(name: str, value: Any, meta: Mapping[str, Any], label: str) -> Any:
    kind = meta["kind"]
    var = env_var(label)

    shown = value
    if isinstance(value, str) and kind in ("smtp_url", "webhook_urls"):  # URLs with secrets
        shown = mask_url(value) if kind == "smtp_url" else _mask_paths(value)

    def bad(reason: str = "") -> ConfigError:
        extra = f" ({reason})" if reason else ""
        return ConfigError(
            f"setting {name} ({var}) = {shown!r} is not valid: expected {_EXPECTED[kind]}{extra}"
        )

    checks: dict[str, Callable[[], Any]] = {
        "str": lambda: _nonempty_str(value, bad),
        "optional_str": lambda: _optional_str(value, bad),
        "bool": lambda: _bool(value, bad),
        "int": lambda: _number(value, int, meta, bad),
        "float": lambda: _number(value, float, meta, bad),
        "prefix": lambda: _prefix(value, bad),
        "buckets": lambda: _buckets(value, bad),
        "log_level": lambda: _choice(str(value).upper(), _LOG_LEVELS, bad),
        "cache_backend": lambda: _choice(str(value).lower(), _CACHE_BACKENDS, bad),
        "metrics_store": lambda: _choice(str(value).lower(), _METRICS_STORES, bad),
        "rate_limit_key": lambda: _choice(str(value).lower(), ("ip", "user"), bad),
        "rate_limit": lambda: _guard_value("rate_limit", value, bad),
        "size": lambda: _guard_value("size", value, bad),
        "proxies": lambda: _guard_value("proxies", value, bad),
        "smtp_url": lambda: _channel_value("smtp_url", value, bad),
        "email": lambda: _channel_value("email", value, bad),
        "emails": lambda: _channel_value("emails", value, bad),
        "webhook_urls": lambda: _channel_value("webhook_urls", value, bad),
        "webhook_format": lambda: _choice(str(value).lower(), ("json", "slack", "teams"), bad),
    }
    return checks[kind]()


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_CACHE_BACKENDS = ("auto", "memory", "redis")
_METRICS_STORES = ("auto", "memory", "file", "host", "redis")


def _nonempty_str(value: Any, bad: Callable[..., ConfigError]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad()
    return value


def _optional_str(value: Any, bad: Callable[..., ConfigError]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad()
    return value or None


def _bool(value: Any, bad: Callable[..., ConfigError]) -> bool:
    if not isinstance(value, bool):
        raise bad()
    return value


def _number(value: Any, typ: type, meta: Mapping[str, Any], bad: Callable[..., ConfigError]) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad()
    # 1456.0 is JSON's 1456 (an integer in JSON Schema): accepted as the int
    if typ is int and not isinstance(value, int) and not float(value).is_integer():
        raise bad()
    if isinstance(value, float) and not math.isfinite(value):
        raise bad("must be finite")
    lo, hi = meta["min"], meta["max"]
    if lo is not None and value < lo:
        raise bad(f"must be >= {lo}")
    if hi is not None and value > hi:
        raise bad(f"must be <= {hi}")
    return typ(value)


def _prefix(value: Any, bad: Callable[..., ConfigError]) -> str:
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or any(c in value for c in "?#% \t\r\n")
    ):
        raise bad()
    stripped = value.rstrip("/")
    if not stripped:
        raise bad("the prefix cannot be the root '/'")
    return stripped


def _buckets(value: Any, bad: Callable[..., ConfigError]) -> tuple[float, ...]:
    try:
        buckets = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise bad() from None
    if not buckets or any(not math.isfinite(b) or b <= 0 for b in buckets):
        raise bad()
    if any(a >= b for a, b in itertools.pairwise(buckets)):
        raise bad("must be strictly increasing")
    return buckets


def _guard_value(kind: str, value: Any, bad: Callable[..., ConfigError]) -> Any:
    """Optional guard settings, checked by perfkit.guards' parsers (no third-party imports)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    from .guards import spec
    from .guards.clients import parse_proxies

    try:
        if kind == "size":
            return spec.parse_size(value)
        if not isinstance(value, str):
            raise ValueError("not a string")
        if kind == "rate_limit":
            return ";".join(str(s) for s in spec.parse_rate_limits(value))
        return ",".join(str(n) for n in parse_proxies(value)) or None
    except ValueError as exc:
        raise bad(str(exc)) from None


def _channel_value(kind: str, value: Any, bad: Callable[..., ConfigError]) -> Any:
    """Notification settings, checked by perfkit.alerts.channels' parsers."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise bad()
    from .alerts import channels

    try:
        channels.CHECKS[kind](value)
    except ValueError as exc:
        raise bad(str(exc)) from None
    return value.strip()


def _choice(value: str, choices: tuple[str, ...], bad: Callable[..., ConfigError]) -> str:
    if value not in choices:
        raise bad()
    return value
