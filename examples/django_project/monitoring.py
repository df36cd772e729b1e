"""perfkit for the example project: route names from Django's resolver and query timing."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from django.db.backends.signals import connection_created
from django.urls import Resolver404, resolve

from perfkit import Perfkit
from perfkit.asgi import PerfkitMiddleware as AsgiMiddleware
from perfkit.integrations.django_db import instrument_django
from perfkit.wsgi import PerfkitMiddleware as WsgiMiddleware


def django_route_name(request: MutableMapping[str, Any]) -> str | None:
    """``route_name`` hook (WSGI environ or ASGI scope): the resolver's route pattern.

    ``/users/7`` becomes ``/users/<int:user_id>``; ``include()`` prefixes are part of it.
    """
    path = request.get("PATH_INFO") if "PATH_INFO" in request else request.get("path")
    try:
        match = resolve(path or "/")
    except Resolver404:
        return None  # perfkit collapses unmatched paths itself
    return "/" + match.route


def create_schema(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Each new connection to the in-memory database starts empty: create the table."""
    if connection.alias != "default" or connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT)")
        cursor.execute("INSERT OR IGNORE INTO users (id, name) VALUES (1, 'ada'), (2, 'grace')")


def setup() -> None:
    """Called from ``ExampleConfig.ready()``: time every query in the default kit."""
    connection_created.connect(create_schema, dispatch_uid="example-schema")
    instrument_django()  # kit=None: `perfkit.get_kit()`, looked up at each query


def wrap_wsgi(app: Any, kit: Perfkit | None = None) -> WsgiMiddleware:
    return WsgiMiddleware(app, kit=kit, route_name=django_route_name)


def wrap_asgi(app: Any, kit: Perfkit | None = None) -> AsgiMiddleware:
    return AsgiMiddleware(app, kit=kit, route_name=django_route_name)
