"""Settings: PostgreSQL (``PERFKIT_TEST_POSTGRES_URL``), perfkit's app and middleware.

``DJSITE_PERFKIT`` (JSON) becomes ``settings.PERFKIT``, so a test can give the
server and the management commands the same perfkit settings.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlparse

_pg = urlparse(
    os.environ.get("PERFKIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
)

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "djsite.urls"
INSTALLED_APPS = ["perfkit.integrations.django"]
MIDDLEWARE = ["perfkit.integrations.django.PerfkitMiddleware", "djsite.views.HeaderUser"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _pg.path.lstrip("/") or "test",
        "USER": _pg.username or "postgres",
        "PASSWORD": _pg.password or "",
        "HOST": _pg.hostname or "127.0.0.1",
        "PORT": str(_pg.port or 5432),
    }
}
USE_TZ = True
PERFKIT = json.loads(os.environ.get("DJSITE_PERFKIT", "{}"))
