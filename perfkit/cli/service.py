"""CLI commands about a running service (status, summary, alerts, test-alert, export-metrics,
reset-counters, cleanup, health-check). Each takes --url (the perfkit prefix) and --token."""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import quote, urlencode

from .._atomic import write_atomically
from ._client import ApiClient, CliError, add_service_options
from ._output import ms, plural, print_json, table

__all__ = ["add_parsers"]

_EXIT = {"healthy": 0, "unknown": 0, "warning": 1, "critical": 2}


def _hours(value: str) -> int:
    try:
        hours = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer number of hours, got {value!r}"
        ) from None
    if not 1 <= hours <= 720:
        raise argparse.ArgumentTypeError(f"expected hours in 1..720, got {hours}")
    return hours


def add_parsers(sub: Any) -> None:
    def command(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        add_service_options(parser)
        parser.set_defaults(handler=handler)
        return parser

    command("status", "health and the last hour at a glance", status)
    p = command("summary", "request and query summary", summary)
    p.add_argument("--hours", type=_hours, default=24)
    p = command("alerts", "alert history", alerts)
    p.add_argument("--hours", type=_hours, default=24)
    p.add_argument("--severity", choices=("info", "warning", "critical"))
    p = command(
        "test-alert",
        "evaluate one rule now (--rule-name), or send a test notification (--send)",
        test_alert,
    )
    p.add_argument("--rule-name", help="the rule to evaluate (nothing is sent)")
    p.add_argument(
        "--send",
        action="store_true",
        help="send one test notification through every notifier; exit 1 if any failed",
    )
    p.add_argument(
        "--local",
        action="store_true",
        help="with --send: use the notifiers of this shell's PERFKIT_* settings, no service",
    )
    p = command(
        "export-metrics", "write the summary and snapshot (or Prometheus text) to a file", export
    )
    p.add_argument("--hours", type=_hours, default=24)
    p.add_argument("--output-file", required=True)
    p.add_argument("--format", choices=("json", "prometheus"), default="json")
    command("reset-counters", "reset every counter of the service", reset_counters)
    command("cleanup", "drop data past retention now", cleanup)
    p = command("health-check", "exit 0 healthy, 1 warning, 2 critical", health_check)
    p.add_argument("--local", action="store_true", help="check this machine, not a service")


def status(args: argparse.Namespace) -> int:
    client = ApiClient.from_args(args)
    health = client.get("/health", ok=(200, 503))
    summary = client.get("/api/requests/summary?hours=1")
    if args.json:
        print_json({"health": health, "summary": summary})
        return 0
    req = summary["requests"]
    print(f"service:  {args.url}")
    print(f"health:   {health.get('status')}  (perfkit {health.get('version')})")
    print(
        f"last hour: {plural(req['count'], 'request')}, {req['error_rate']:.2f}% 5xx, "
        f"{_client_rate(req):.2f}% 4xx, p50 {ms(req['p50'])}, p95 {ms(req['p95'])}, "
        f"p99 {ms(req['p99'])}, {req.get('in_progress', 0)} in progress"
    )
    for name, check in (health.get("checks") or {}).items():
        state = check.get("status") if isinstance(check, dict) else check
        print(f"  check {name}: {state}")
    return 0


def summary(args: argparse.Namespace) -> int:
    data = ApiClient.from_args(args).get(f"/api/requests/summary?hours={args.hours}")
    if args.json:
        print_json(data)
        return 0
    req, q = data["requests"], data["queries"]
    print(
        f"last {args.hours} h: {plural(req['count'], 'request')} ({req['rate']:.2f}/s), "
        f"{plural(req['errors'], 'server error')} (5xx), "
        f"{plural(req.get('client_errors') or 0, 'client error')} (4xx)"
    )
    print(
        f"latency: avg {ms(req['avg'])}  p50 {ms(req['p50'])}  "
        f"p95 {ms(req['p95'])}  p99 {ms(req['p99'])}\n"
    )
    rows = [
        (
            e["key"],
            e["count"],
            e["errors"],
            f"{e['error_rate']:.1f}%",
            ms(e["p50"]),
            ms(e["p95"]),
            ms(e["p99"]),
        )
        for e in data["top_endpoints"]
    ]
    table(("endpoint", "count", "5xx", "err%", "p50", "p95", "p99"), rows)
    print(f"\n{plural(q['count'], 'query', 'queries')}, {q['slow']} slow ({q['slow_rate']:.1f}%)")
    query_rows: list[tuple[Any, ...]] = [
        (f["fingerprint"][:70], f["count"], ms(f["p95"]), ms(f["total_time"]))
        for f in data["top_queries"]
    ]
    table(("query", "count", "p95", "total"), query_rows)
    return 0


def alerts(args: argparse.Namespace) -> int:
    query = {"hours": args.hours}
    if args.severity:
        query["severity"] = args.severity
    data = ApiClient.from_args(args).get("/api/alerts?" + urlencode(query))
    if args.json:
        print_json(data)
        return 0
    rows = [
        (
            a.get("name"),
            a.get("severity"),
            a.get("state"),
            a.get("value"),
            str(a.get("started_at"))[:19],
            a.get("message"),
        )
        for a in data.get("alerts", [])
    ]
    table(("rule", "severity", "state", "value", "started", "message"), rows)
    return 0


def test_alert(args: argparse.Namespace) -> int:
    if not args.send:
        if args.local or not args.rule_name:
            raise CliError("give --rule-name NAME to evaluate a rule, or --send [--local]", 2)
        data = ApiClient.from_args(args).post(
            f"/api/alerts/rules/{quote(args.rule_name, safe='')}/test", {}
        )
        if args.json:
            print_json(data)
        elif data.get("error"):
            print(f"{data['rule']}: cannot be evaluated: {data['error']}")
        else:
            verdict = "would fire" if data.get("would_fire") else "would not fire"
            print(
                f"{data['rule']}: {verdict} (value {data.get('value')}, "
                f"threshold {data.get('threshold')}, severity {data.get('severity')})"
            )
            if data.get("message"):
                print(f"  {data['message']}")
        return 0
    if args.local:
        from ..alerts.manager import AlertManager
        from ..config import PerfkitSettings

        report = AlertManager(settings=PerfkitSettings.from_env()).send_test(origin="cli")
    else:
        client = ApiClient.from_args(args)
        status_code, raw = client.request("POST", "/api/alerts/test", {})
        report = _report(status_code, raw)
    if args.json:
        print_json(report)
    else:
        for row in report["results"]:
            outcome = "sent" if row["sent"] else f"FAILED: {row['error']}"
            print(f"{row['notifier']}: {outcome} ({row['seconds']:.2f} s)")
    return 0 if report["ok"] else 1


def _report(status_code: int, raw: bytes) -> dict[str, Any]:
    """The test report from POST /api/alerts/test (200 all sent, 502 some failed)."""
    import json

    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if status_code in (200, 502) and isinstance(data, dict) and "results" in data:
        return data
    detail = data.get("detail") if isinstance(data, dict) else raw[:200].decode(errors="replace")
    raise CliError(f"POST /api/alerts/test: HTTP {status_code}: {detail}")


def export(args: argparse.Namespace) -> int:
    client = ApiClient.from_args(args)
    if args.format == "prometheus":
        status_code, body = client.request("GET", "/metrics", accept="text/plain")
        if status_code != 200:
            raise CliError(f"GET /metrics: HTTP {status_code}")
    else:
        import json

        data = {
            "summary": client.get(f"/api/requests/summary?hours={args.hours}"),
            "snapshot": client.get("/api/snapshot"),
        }
        body = json.dumps(data, indent=2, default=str).encode()
    write_atomically(args.output_file, body)
    if args.json:
        print_json({"output_file": args.output_file, "bytes": len(body), "format": args.format})
    else:
        print(f"wrote {plural(len(body), 'byte')} to {args.output_file}", file=sys.stderr)
    return 0


def reset_counters(args: argparse.Namespace) -> int:
    data = ApiClient.from_args(args).post("/api/maintenance", {"action": "reset-counters"})
    print_json(data) if args.json else print("counters reset")
    return 0


def cleanup(args: argparse.Namespace) -> int:
    data = ApiClient.from_args(args).post("/api/maintenance", {"action": "cleanup"})
    if args.json:
        print_json(data)
        return 0
    result = data.get("result") or {}
    print("cleanup done")
    for part, outcome in result.items():
        print(f"  {part}: {_plain(outcome)}")
    return 0


def _plain(outcome: Any) -> str:
    """A part's cleanup report on one line: 'requests=3, queries=0' or the value itself."""
    if isinstance(outcome, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in outcome.items()) or "nothing to drop"
    return str(outcome)


def _client_rate(req: dict[str, Any]) -> float:
    count = req.get("count") or 0
    return 100.0 * (req.get("client_errors") or 0) / count if count else 0.0


def health_check(args: argparse.Namespace) -> int:
    if args.local:
        from ..config import PerfkitSettings
        from ..system import SystemMonitor, thresholds_from_settings

        warning, critical = thresholds_from_settings(PerfkitSettings.from_env())
        report = SystemMonitor(warning, critical).get_health_status()
    else:
        try:
            report = ApiClient.from_args(args).get("/health", ok=(200, 503))
        except CliError as exc:
            print(f"critical: {exc}", file=sys.stderr)
            return 2
    state = str(report.get("status", "unknown"))
    if args.json:
        print_json(report)
    else:
        print(state)
        for warning in report.get("warnings", []) or []:
            print(f"  {warning}")
    return _EXIT.get(state, 2)
