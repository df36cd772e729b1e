"""Talking to a running service's perfkit API from the command line (stdlib urllib only)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .._json import loads as parse_json

__all__ = ["ApiClient", "CliError", "LocalApiClient", "add_service_options"]

DEFAULT_URL = "http://127.0.0.1:8000/perfkit"
DEFAULT_PREFIX = "/perfkit"


class CliError(Exception):
    """A failure to report in one line, with the exit code to use."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def add_service_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("PERFKIT_URL", DEFAULT_URL),
        help=f"the service's perfkit prefix URL (default: $PERFKIT_URL or {DEFAULT_URL})",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("PERFKIT_TOKEN"),
        help="API token (default: $PERFKIT_TOKEN; prefer the variable: every local user "
        "can read a command line with ps)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


class ApiClient:
    """GET/POST JSON against ``<url>/<path>``; errors become `CliError` with the API's detail."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise CliError(f"--url {url!r} must start with http:// or https://", 2)
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._answered = False  # once perfkit answered, a 404 is perfkit's own

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ApiClient:
        kit = getattr(args, "kit", None)
        if kit is not None:
            return LocalApiClient(kit)
        return cls(args.url, args.token, args.timeout)

    def request(
        self, method: str, path: str, body: Any = None, accept: str = "application/json"
    ) -> tuple[int, bytes]:
        status, raw = self._send(self.url, method, path, body, accept)
        if status == 404 and not self._answered and not _is_perfkit_error(raw):
            # the host app answered, not perfkit: the URL most likely lacks the prefix
            if urllib.parse.urlsplit(self.url).path in ("", "/"):
                retry = self.url + DEFAULT_PREFIX
                status2, raw2 = self._send(retry, method, path, body, accept)
                if status2 != 404 or _is_perfkit_error(raw2):
                    print(
                        f"note: --url {self.url} has no perfkit prefix; using {retry}",
                        file=sys.stderr,
                    )
                    self.url = retry
                    self._answered = True
                    return status2, raw2
            raise CliError(
                f"{method} {path}: HTTP 404 from {self.url}: no perfkit API there; --url must "
                f"be the perfkit prefix URL, e.g. {self.url.rstrip('/')}{DEFAULT_PREFIX}"
            )
        self._answered = True
        return status, raw

    def _send(self, base: str, method: str, path: str, body: Any, accept: str) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(base + path, data=data, method=method)
        request.add_header("Accept", accept)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"cannot reach {base}: {reason}") from None

    def json(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        status, raw = self.request(method, path, body)
        try:
            data = parse_json(raw) if raw else None
        except ValueError:
            raise CliError(f"{method} {path}: HTTP {status}, not JSON") from None
        if status not in ok:
            detail = (
                data.get("detail") if isinstance(data, dict) else raw[:200].decode(errors="replace")
            )
            raise CliError(f"{method} {path}: HTTP {status}: {detail}")
        return data

    def get(self, path: str, ok: tuple[int, ...] = (200,)) -> Any:
        return self.json("GET", path, ok=ok)

    def post(self, path: str, body: Any) -> Any:
        return self.json("POST", path, body)


def _is_perfkit_error(raw: bytes) -> bool:
    """An error body perfkit itself wrote ({"error": ..., "detail": ...})."""
    try:
        data = parse_json(raw)
    except ValueError:
        return False
    return isinstance(data, dict) and "error" in data and "detail" in data


class LocalApiClient(ApiClient):
    """The same calls answered by a kit in this process (``manage.py perfkit``): no HTTP,
    no token; the caller already has the process's settings and secrets."""

    def __init__(self, kit: Any) -> None:
        super().__init__("http://in-process" + kit.settings.prefix)
        self.kit = kit

    def request(
        self, method: str, path: str, body: Any = None, accept: str = "application/json"
    ) -> tuple[int, bytes]:
        from ..web.api import handle
        from ..web.context import ApiRequest

        route, _, query = path.partition("?")
        headers = {"accept": accept}
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        answer = handle(
            self.kit, ApiRequest(method, route, query, headers, data, None), trusted=True
        )
        return answer.status, answer.body
