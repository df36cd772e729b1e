"""ASGI entry point: ``uvicorn django_project.asgi:application`` (perfkit is in MIDDLEWARE)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")

application = get_asgi_application()
