"""Settings of the example project: no models, an in-memory SQLite database by default.

Run it from ``examples/``::

    DJANGO_SETTINGS_MODULE=django_project.settings gunicorn django_project.wsgi
    DJANGO_SETTINGS_MODULE=django_project.settings uvicorn django_project.asgi:application
"""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "django_project.urls"
# the app config instruments every database connection in ready()
INSTALLED_APPS = ["django_project.apps.ExampleConfig"]
MIDDLEWARE: list[str] = []
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DATABASE", ":memory:"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
