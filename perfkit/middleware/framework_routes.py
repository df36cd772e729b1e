"""Route templates that frameworks leave behind after routing, read without importing them.

- ASGI (Starlette, FastAPI and routers built the same way): the router puts the
  matched route in ``scope["route"]`` (FastAPI always; Starlette from 1.0) and
  ``scope["endpoint"]``; each ``Mount`` extends ``scope["root_path"]`` and keeps the
  outer one in ``scope["app_root_path"]``.
- WSGI (Flask and other werkzeug apps): werkzeug's request object sits in
  ``environ["werkzeug.request"]`` with the matched ``url_rule``; it is read when
  the app calls ``start_response`` (Flask drops it right after). An integration
  may instead leave the template in ``environ[ROUTE_KEY]``.

Only attributes are read (duck typing); a mount whose own path has parameters is
resolved against the outermost router so ``/org/acme/...`` reads ``/org/{org}/...``.
"""

from __future__ import annotations

import weakref
from collections.abc import MutableMapping
from typing import Any

from ..metrics.routes import template_segment

__all__ = ["ROUTE_KEY", "environ_route", "remember_url_rule", "scope_route"]

# the environ key where a WSGI framework integration (or the app) leaves the route template
ROUTE_KEY = "perfkit.route"

_MAX_DEPTH = 8  # nested mounts followed; deeper trees fall back to templating the segments
_MAX_CACHED = 1024

# keyed by id() (routers define __eq__, so they are unhashable), each entry holding a weak
# reference that proves the id still names the same router
_mount_cache: dict[tuple[int, str], tuple[Any, str]] = {}
_endpoint_cache: dict[tuple[int, int], tuple[Any, Any, str | None]] = {}


def _template_of(route: Any) -> str | None:
    # path_format drops converters ("{id:int}" -> "{id}"), as the URL shows them
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else None


def _is_mount(route: Any) -> bool:
    return hasattr(route, "routes") and hasattr(route, "path_regex")


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _MAX_CACHED:
        cache.clear()  # bounded; mounts and endpoints are few, so this is rare
    cache[key] = value


def _alive(ref: Any, obj: Any) -> bool:
    return ref is not None and ref() is obj


def _ref(obj: Any) -> Any:
    try:
        return weakref.ref(obj)
    except TypeError:
        return None  # not weak-referenceable: never served from the cache


def _mount_prefix(router: Any, mounted: str) -> str:
    """The template of the mounts that consumed `mounted` (``/org/acme`` -> ``/org/{org}``)."""
    key = (id(router), mounted)
    cached = _mount_cache.get(key)
    if cached is not None and _alive(cached[0], router):
        return cached[1]
    template = _walk_mounts(getattr(router, "routes", None), mounted + "/")
    if template is None:  # not a tree we can read: template the raw segments instead
        template = "/".join(template_segment(s) for s in mounted.split("/"))
    _remember(_mount_cache, key, (_ref(router), template))
    return template


def _walk_mounts(routes: Any, remaining: str) -> str | None:
    template = ""
    for _ in range(_MAX_DEPTH):
        if remaining == "/":
            return template
        for route in routes or ():
            if not _is_mount(route):
                continue
            match = route.path_regex.match(remaining)
            if match is None or "path" not in match.groupdict():
                continue
            fmt = _template_of(route) or ""
            template += fmt[: -len("/{path}")] if fmt.endswith("/{path}") else fmt
            remaining = "/" + match.group("path")
            routes = route.routes
            break
        else:
            return None
    return None


def _route_by_endpoint(router: Any, endpoint: Any) -> str | None:
    """Starlette before 1.0 leaves only the endpoint: find its route in the router's tree."""
    key = (id(router), id(endpoint))
    cached = _endpoint_cache.get(key)
    if cached is not None and _alive(cached[0], router) and _alive(cached[1], endpoint):
        return cached[2]
    found = _search(getattr(router, "routes", None), endpoint, "", 0)
    _remember(_endpoint_cache, key, (_ref(router), _ref(endpoint), found))
    return found


def _search(routes: Any, endpoint: Any, prefix: str, depth: int) -> str | None:
    for route in routes or ():
        if _is_mount(route):
            if depth < _MAX_DEPTH:
                fmt = _template_of(route) or ""
                inner = prefix + (fmt[: -len("/{path}")] if fmt.endswith("/{path}") else fmt)
                found = _search(route.routes, endpoint, inner, depth + 1)
                if found is not None:
                    return found
        elif getattr(route, "endpoint", None) is endpoint:
            template = _template_of(route)
            return None if template is None else prefix + template
    return None


def scope_route(scope: MutableMapping[str, Any], status: int) -> str | None:
    """The matched route's template after an ASGI router ran, or None when none matched."""
    route = scope.get("route")
    router = scope.get("router")
    if route is None:
        endpoint = scope.get("endpoint")
        if endpoint is None or router is None:
            return None
        return _route_by_endpoint(router, endpoint)
    mount = _is_mount(route)
    if mount and status == 404:
        return None  # the mounted app matched nothing: an unmatched path, not a route
    template = _template_of(route)
    if template is None:
        return None
    root_path = scope.get("root_path")
    if not root_path:
        return template  # not under a mount: the common case, answered first
    outer = scope.get("app_root_path")
    if isinstance(outer, str) and root_path.startswith(outer) and len(root_path) > len(outer):
        mounted = root_path[len(outer) :]
        if mount:  # the mount itself answered (e.g. static files): its path is in root_path
            return _mount_prefix(router, mounted) + "/{path}"
        return _mount_prefix(router, mounted) + template
    return template


def environ_route(environ: dict[str, Any], status: int) -> str | None:
    """The route an integration left under `ROUTE_KEY`, else werkzeug's matched url rule."""
    route = environ.get(ROUTE_KEY)
    if route is not None:
        return str(route)
    request = environ.get("werkzeug.request")
    return None if request is None else _url_rule(request)  # plain WSGI apps: no call


def remember_url_rule(environ: dict[str, Any]) -> None:
    """Keep werkzeug's url rule under `ROUTE_KEY` while the request object is still there
    (Flask drops ``environ["werkzeug.request"]`` when its request context ends, before
    the body is sent); called from ``start_response``."""
    if ROUTE_KEY not in environ:
        rule = _url_rule(environ.get("werkzeug.request"))
        if rule is not None:
            environ[ROUTE_KEY] = rule


def _url_rule(request: Any) -> str | None:
    rule = getattr(request, "url_rule", None)
    text = getattr(rule, "rule", None)
    return text if isinstance(text, str) else None
