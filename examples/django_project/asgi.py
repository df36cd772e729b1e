"""ASGI entry point, wrapped by perfkit: ``uvicorn django_project.asgi:application``."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from .monitoring import wrap_asgi

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")

application = wrap_asgi(get_asgi_application())
