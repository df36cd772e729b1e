"""Serving the dashboard: one HTML shell and its assets, all inside the package (no CDN)."""

from __future__ import annotations

import re
from importlib import resources

from .context import ApiResponse, Ctx
from .router import ApiError

__all__ = ["asset", "dashboard"]

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}")
# the shell carries no data: scripts only from this origin, data over fetch with the token
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _read(name: str) -> bytes | None:
    try:
        return (resources.files("perfkit.web") / "static" / name).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def dashboard(ctx: Ctx) -> ApiResponse:
    body = _read("index.html")
    if body is None:
        raise ApiError(404, "not_available", "the dashboard files are not installed")
    # the page needs to know where the API lives when mounted under another prefix
    body = body.replace(b"{{PREFIX}}", ctx.kit.settings.prefix.encode())
    return ApiResponse(200, _TYPES[".html"], body, [("Content-Security-Policy", _CSP)])


def asset(ctx: Ctx) -> ApiResponse:
    name = ctx.args["file"]
    suffix = name[name.rfind(".") :] if "." in name else ""
    if not _SAFE_NAME.fullmatch(name) or ".." in name or suffix not in _TYPES or suffix == ".html":
        raise ApiError(404, "not_found", f"no dashboard asset {name!r}")
    body = _read(name)
    if body is None:
        raise ApiError(404, "not_found", f"no dashboard asset {name!r}")
    return ApiResponse(200, _TYPES[suffix], body, [("Cache-Control", "public, max-age=300")])
