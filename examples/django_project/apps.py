"""The example's app config: its demo table, created on each new SQLite connection."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def create_schema(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Each new connection to the in-memory database starts empty: create the table."""
    if connection.alias != "default" or connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT)")
        cursor.execute("INSERT OR IGNORE INTO users (id, name) VALUES (1, 'ada'), (2, 'grace')")


class ExampleConfig(AppConfig):
    name = "django_project"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        connection_created.connect(create_schema, dispatch_uid="example-schema")
