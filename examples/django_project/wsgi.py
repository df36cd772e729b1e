"""WSGI entry point: ``gunicorn django_project.wsgi`` (perfkit is in MIDDLEWARE)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")

application = get_wsgi_application()
