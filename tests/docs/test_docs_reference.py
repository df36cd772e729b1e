"""The generated reference pages match the code: settings, HTTP API, CLI.

docs/configuration.md and docs/api.md hold regions generated from
`PerfkitSettings` and the OpenAPI document. When the code changes, the tests
here fail and say how to regenerate::

    python tests/docs/test_docs_reference.py --write

(or ``PERFKIT_UPDATE_DOCS=1 python -m pytest tests/docs``). The CLI page is
hand-written; a test checks that every command, sub-action and option of
`perfkit.cli.build_parser()` is mentioned in its section.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from perfkit.config import PerfkitSettings, env_var

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REGENERATE = "python tests/docs/test_docs_reference.py --write"

# One sentence per setting: what it does. A new field without an entry here fails
# test_every_setting_has_a_description, so the configuration page cannot fall behind.
SETTING_DOCS: dict[str, str] = {
    "prefix": "URL path under which the middleware serves the API, `/metrics` and the dashboard.",
    "token": "Admin bearer token: opens every operation (everything but health, and `/metrics` "
    "when public, needs a token). Unset with no `authorize` callable: reads answer only on "
    "loopback and state-changing operations are refused.",
    "read_token": "Bearer token that opens every GET of the API, `/metrics` when not public, "
    "and the dashboard, and nothing that changes state.",
    "allow_unauthenticated_admin": "With no `token` and no `authorize` callable, let direct "
    "loopback clients use state-changing operations (local development only; see Security).",
    "audit_read_interval": "Reads made with a token are audited at most once per client per "
    "this many seconds (0: every read).",
    "metrics_public": "Serve `/metrics` without the token.",
    "admin_port": "`kit.start()` serves the whole perfkit surface on this port too, one "
    "listener per host (0: none).",
    "admin_host": "Address the admin listener binds (`0.0.0.0` exposes it beyond the machine).",
    "prefix_on_app": "`false`: the app's port serves only health under the prefix; the rest "
    "is on the admin listener.",
    "api_rate_limit": "Requests per minute one client may make to the authenticated API "
    "(0: no limit).",
    "rate_limit": "Request guard: rate limit for every client of the app, e.g. `100/minute` or "
    "`10/second;1000/hour` (needs `perfkit[guards]`).",
    "rate_limit_key": "Request guard: who a rate limit counts: `ip` or `user` "
    "(the middleware's `identify` hook).",
    "rate_limit_headers": "Request guard: send `RateLimit-*` headers on allowed responses too.",
    "max_content_length": "Request guard: largest request body (`16777216`, `16MiB`); "
    "larger ones get a 413.",
    "trusted_proxies": "Request guard: proxies (IPs or CIDR networks) whose `X-Forwarded-For` "
    "is believed.",
    "slow_request_threshold": "Seconds after which a request counts as slow "
    "(kept in the slow list, logged).",
    "slow_query_threshold": "Seconds after which a query counts as slow.",
    "slow_requests_kept": "How many recent slow requests (and slow queries) are kept.",
    "max_endpoints": "Distinct endpoints tracked; further ones go to the `__other__` series.",
    "max_users": "Distinct users tracked in the per-user table.",
    "max_organizations": "Distinct organizations tracked in the per-organization table.",
    "max_queries": "Distinct query fingerprints tracked.",
    "max_path_length": "Longer paths are cut (and marked with `...`) before templating.",
    "retention_hours": "Hours of per-minute buckets kept for windows, trends and summaries.",
    "histogram_buckets": "Bucket bounds (seconds) of `app_request_duration_seconds` and "
    "`app_db_query_duration_seconds`.",
    "user_id_hash_key": "When set, user ids are stored as a keyed hash (`u_...`), never in clear.",
    "monitoring_interval": "Seconds between system samples; alerts are evaluated after each.",
    "alert_cpu_threshold": "Warning level (%) of CPU: the default rule, `/health` and "
    "the dashboard.",
    "alert_memory_threshold": "Warning level (%) of memory: the default rule, `/health` and "
    "the dashboard.",
    "alert_disk_threshold": "Warning level (%) of disk: the default rule, `/health` and "
    "the dashboard.",
    "alert_cpu_critical": "Critical level (%) of CPU: the default rule's critical threshold; "
    "`/health` answers 503.",
    "alert_memory_critical": "Critical level (%) of memory: the default rule's critical "
    "threshold; `/health` answers 503.",
    "alert_disk_critical": "Critical level (%) of disk: the default rule's critical "
    "threshold; `/health` answers 503.",
    "alert_request_seconds": "The `slow_request` rule fires when one request took longer "
    "than this in the last 5 minutes (0: no such rule).",
    "system_history_hours": "Hours of system samples kept for `/api/system/history` "
    "(a ring of about 270 bytes a sample: 2.2 MiB for 24 h at 10 s; see docs/system.md).",
    "notify_smtp_url": "E-mail alerts: `smtp://user:pass@host:port`, `smtps://...` or "
    "`smtp://...?starttls=1` (`&cafile=/ca.pem` trusts a private CA).",
    "notify_email_from": "E-mail alerts: the sender address.",
    "notify_email_to": "E-mail alerts: comma-separated recipients.",
    "notify_webhook_url": "Webhook alerts: comma-separated URLs, each sent every notification.",
    "notify_webhook_format": "Webhook alerts: `json` (perfkit's document), `slack` or `teams`.",
    "notify_webhook_secret": "Webhook alerts: sign each body in `X-Perfkit-Signature` "
    "(HMAC-SHA256).",
    "max_alerts_per_hour": "Cap on notifications sent per hour (all rules together).",
    "alert_webhook_secret": "Shared secret for POST /api/alerts/webhook: a body signed "
    "with it (HMAC-SHA256 in X-Perfkit-Signature) needs no token.",
    "data_dir": "Directory for perfkit's own files in embedded mode (the host store's "
    "SQLite file among them).",
    "redis_url": "Redis for fleet mode, the cache's `auto` backend, fleet-wide guards "
    "and backup locks.",
    "redis_namespace": "Key prefix of one service in Redis.",
    "metrics_store": "Where metrics aggregate: `memory`, `file`, `host` (SQLite shared by "
    "the workers of one host), `redis`, or `auto` (Redis when `redis_url` is set, else "
    "`host` when the server runs several workers, else `memory`); see deployment.md.",
    "metrics_file": "Memory store only: save the figures to this JSON file "
    "(atomically) and reload them at start.",
    "flush_interval": "Seconds between flushes to Redis (and saves of the metrics file).",
    "app_name": "Name used for the log files (`{app}.log`, ...).",
    "log_dir": "Directory of the log files.",
    "log_level": "Root log level.",
    "log_json": "JSON lines (True) or human-readable lines (False).",
    "log_max_bytes": "Size at which a log file rotates.",
    "log_backup_count": "Rotated files kept per log.",
    "log_redact_keys": "Comma-separated words marking secret keys to redact "
    "(default: the built-in list).",
    "log_max_message_bytes": "Longer messages and tracebacks are truncated with a marker.",
    "log_requests": "Write one line per request to `{app}_requests.log` from the middleware.",
    "log_request_sample_rate": "Fraction of successful requests logged (errors and slow "
    "requests always are).",
    "database_url": "Database that `kit.backups`, the scheduler, `POST /api/backups` and the "
    "database health check use.",
    "backup_dir": "Directory of the backups.",
    "max_backups": "Backups kept by rotation.",
    "backup_hour": "Hour of the daily backup.",
    "backup_minute": "Minute of the daily backup.",
    "backup_timezone": "IANA zone of the daily backup time (default: the machine's local zone).",
    "backup_schedule": "With a `database_url`, `kit.start()` runs the daily backup "
    "(one process per tick in a fleet).",
    "backup_compress": "Compress dumps (gzip; PostgreSQL uses pg_dump's own compression).",
    "backup_encryption_key": "32 bytes as 64 hex digits or base64: AES-256-GCM at rest "
    "(needs `perfkit[crypto]`).",
    "cache_backend": "`memory`, `redis` (errors raise), or `auto` (Redis when reachable, "
    "memory otherwise).",
    "cache_default_ttl": "Seconds a cached value lives when no ttl is given (0: forever).",
    "cache_maxsize": "Entries the memory backend keeps (LRU beyond).",
    "cache_signing_key": "HMAC key for pickled cache values (required with `pickle`).",
    "cache_serializer": "`json` (default) or `pickle` (signed).",
}


# ----------------------------------------------------------------- regions
def replace_region(text: str, name: str, content: str) -> str:
    """Put `content` between the ``generated:NAME`` markers of `text`."""
    start, end = f"<!-- generated:{name}:start -->", f"<!-- generated:{name}:end -->"
    if start not in text or end not in text:
        raise ValueError(f"the page has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{content.rstrip()}\n{end}{tail}"


def _code(value: Any) -> str:
    return "`" + str(value).replace("|", "\\|") + "`"


def _type_name(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return text.replace("tuple[float, ...]", "list of float").replace(" | None", " (optional)")


def _number(value: float) -> str:
    """1000000 rather than 1e+06; 0.1 as it is."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _default(field: dataclasses.Field[Any]) -> str:
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return _code(",".join(f"{v:g}" for v in value))
    if isinstance(value, bool):
        return _code(str(value).lower())
    if isinstance(value, float):
        return _code(f"{value:g}")
    return _code(value)


def settings_table() -> str:
    """The configuration reference table: every field, its variable, type and default."""
    from perfkit.config import _EXPECTED

    rows = [
        "| setting | environment variable | type | default | accepted values | what it does |",
        "|---|---|---|---|---|---|",
    ]
    for field in dataclasses.fields(PerfkitSettings):
        meta = field.metadata
        accepted = _EXPECTED[meta["kind"]]
        bounds = []
        if meta.get("min") is not None:
            bounds.append(f">= {_number(meta['min'])}")
        if meta.get("max") is not None:
            bounds.append(f"<= {_number(meta['max'])}")
        if bounds:
            accepted += " (" + ", ".join(bounds) + ")"
        rows.append(
            f"| `{field.name}` | `{env_var(field.name)}` | {_type_name(field.type)} "
            f"| {_default(field)} | {accepted.replace('|', '/')} "
            f"| {SETTING_DOCS.get(field.name, 'UNDOCUMENTED')} |"
        )
    return "\n".join(rows)


# ----------------------------------------------------------------- API page
def openapi_document() -> dict[str, Any]:
    from perfkit.web.api import build_routes
    from perfkit.web.openapi import document

    defaults = PerfkitSettings()
    return document(
        build_routes(), defaults.prefix, defaults.metrics_public, defaults.retention_hours
    )


def _schema_text(schema: dict[str, Any]) -> str:
    parts = [str(schema.get("type", ""))]
    if "enum" in schema:
        parts = ["one of " + ", ".join(str(v) for v in schema["enum"])]
    if "minimum" in schema:
        parts.append(f"min {schema['minimum']:g}")
    if "maximum" in schema:
        parts.append(f"max {schema['maximum']:g}")
    if schema.get("default") is not None:
        parts.append(f"default {schema['default']}")
    return ", ".join(p for p in parts if p)


def api_reference() -> str:
    """Every operation of the OpenAPI document, as markdown."""
    doc = openapi_document()
    out: list[str] = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            out.append(f"### `{method.upper()} {path}`\n")
            out.append(op["summary"] + ".\n")
            auth = {
                "public": "none (public)",
                "read": "read token or admin token",
                "admin": "admin token (changes state)",
            }[op["x-perfkit-role"]]
            out.append(f"- operation id: `{op['operationId']}`; role: {auth}")
            params = op.get("parameters") or []
            if params:
                out.append("- parameters:")
                for p in params:
                    desc = p.get("description") or ""
                    desc = f" — {desc}" if desc else ""
                    schema = _schema_text(p["schema"])
                    out.append(f"    - `{p['name']}` ({p['in']}, {schema}){desc}")
            body = op.get("requestBody")
            if body:
                schema = body["content"]["application/json"]["schema"]
                out.append("- request body (JSON):\n")
                out.append("    ```json")
                out.extend("    " + line for line in json.dumps(schema, indent=2).splitlines())
                out.append("    ```\n")
            codes = ", ".join(
                f"`{code}` {resp['description'].lower()}" for code, resp in op["responses"].items()
            )
            out.append(f"- responses: {codes}\n")
    return "\n".join(out)


# ----------------------------------------------------------------- CLI
def cli_commands() -> dict[str, argparse.ArgumentParser]:
    """Every command (and ``backup`` action) of the `perfkit` CLI, by its full name."""
    from perfkit.cli import build_parser

    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    full = f"{prefix} {name}".strip()
                    found[full] = sub
                    walk(sub, full)

    walk(build_parser(), "")
    return found


def cli_options(parser: argparse.ArgumentParser) -> list[str]:
    """The option strings (long form preferred) and positionals of one command."""
    names: list[str] = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.option_strings:
            longs = [o for o in action.option_strings if o.startswith("--")]
            names.append((longs or action.option_strings)[0])
        else:
            names.append(str(action.metavar or action.dest))
    return names


def cli_sections(text: str) -> dict[str, str]:
    """The CLI page split at ``## `perfkit ...` `` / ``### `perfkit ...` `` headings."""
    sections: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        match = re.match(r"#{2,3} `perfkit ([a-z -]+)`", line)
        if match:
            current = match.group(1).strip()
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


# ----------------------------------------------------------------- writing
PAGES = {
    "configuration.md": {"settings": settings_table},
    "api.md": {"api": api_reference},
}


def regenerated(page: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    for region, build in PAGES[page].items():
        text = replace_region(text, region, build())
    return text


def write_all() -> None:
    for page in PAGES:
        (DOCS / page).write_text(regenerated(page), encoding="utf-8")


def _check_current(page: str) -> None:
    fresh = regenerated(page)
    if os.environ.get("PERFKIT_UPDATE_DOCS") == "1":
        (DOCS / page).write_text(fresh, encoding="utf-8")
    current = (DOCS / page).read_text(encoding="utf-8")
    assert current == fresh, f"docs/{page} is out of date with the code; run `{REGENERATE}`"


# ----------------------------------------------------------------- tests
def test_every_setting_has_a_description() -> None:
    """A new PerfkitSettings field needs a sentence in SETTING_DOCS."""
    names = {f.name for f in dataclasses.fields(PerfkitSettings)}
    assert names - set(SETTING_DOCS) == set(), "add these fields to SETTING_DOCS"
    assert set(SETTING_DOCS) - names == set(), "these SETTING_DOCS entries are no fields"


def test_configuration_page_lists_every_field_with_its_variable_and_default() -> None:
    """Each field's row names the field, the PERFKIT_ variable and the default."""
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for field in dataclasses.fields(PerfkitSettings):
        row = f"| `{field.name}` | `{env_var(field.name)}` |"
        assert row in text, f"docs/configuration.md lacks {field.name}; run `{REGENERATE}`"
        line = next(x for x in text.splitlines() if x.startswith(row))
        assert _default(field) in line


def test_configuration_page_is_current() -> None:
    _check_current("configuration.md")


def test_api_page_matches_the_openapi_document() -> None:
    """docs/api.md is exactly what the OpenAPI document generates."""
    _check_current("api.md")


def test_api_page_covers_every_operation() -> None:
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    for path, operations in openapi_document()["paths"].items():
        for method in operations:
            assert f"### `{method.upper()} {path}`" in text


def test_replace_region_keeps_the_text_around() -> None:
    page = "a\n<!-- generated:x:start -->\nold\n<!-- generated:x:end -->\nb\n"
    assert replace_region(page, "x", "new") == (
        "a\n<!-- generated:x:start -->\nnew\n<!-- generated:x:end -->\nb\n"
    )
    with pytest.raises(ValueError, match="markers"):
        replace_region("no markers", "x", "new")


def test_cli_page_documents_every_command_and_option() -> None:
    """Every `perfkit` subcommand (and backup action) has a section naming its options."""
    sections = cli_sections((DOCS / "cli.md").read_text(encoding="utf-8"))
    commands = cli_commands()
    assert commands, "build_parser() has no subcommands?"
    missing = sorted(set(commands) - set(sections))
    assert not missing, f"docs/cli.md has no section for: {missing}"
    for name, parser in commands.items():
        for option in cli_options(parser):
            assert f"`{option}" in sections[name], f"`perfkit {name}`: {option} not documented"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_all()
        print("docs regenerated:", ", ".join(PAGES))
    else:
        print(__doc__)
