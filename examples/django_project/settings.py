"""Settings of the example project: perfkit's app and middleware, an in-memory SQLite database.

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
# perfkit's app: the kit from PERFKIT below (over PERFKIT_* variables), every query timed
INSTALLED_APPS = ["perfkit.integrations.django", "django_project.apps.ExampleConfig"]
# first, so its time covers the rest; it also serves /perfkit/...
MIDDLEWARE = ["perfkit.integrations.django.PerfkitMiddleware"]
PERFKIT = {"SLOW_REQUEST_THRESHOLD": 1.0}
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DATABASE", ":memory:"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
