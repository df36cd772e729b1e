"""Hooks into frameworks' and database libraries' own events; each imports its library lazily.

- `perfkit.integrations.flask`: ``init_app(app, kit=None)`` (url rules, exception types
  through Flask's signals, the flask-login user, the endpoints served);
- `perfkit.integrations.django`: the app (``INSTALLED_APPS``) and its
  ``PerfkitMiddleware``, ``manage.py perfkit`` and ``manage.py monitor_performance``;
- `perfkit.integrations.sqlalchemy`: ``instrument_engine(engine, kit=None)``
  (query timing from engine events, connection-pool figures);
- `perfkit.integrations.django_db`: ``instrument_django(kit=None)`` and
  ``record_queries()`` (``connection.execute_wrapper``);
- `perfkit.integrations.dbapi`: ``instrument_connection(conn, kit=None)``
  (a proxy for any DB-API 2 connection: sqlite3, psycopg, PyMySQL...).

Importing this package imports none of those libraries.
"""

from __future__ import annotations

__all__: list[str] = []
