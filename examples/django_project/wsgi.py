"""WSGI entry point, wrapped by perfkit: ``gunicorn django_project.wsgi``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from .monitoring import wrap_wsgi

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")

application = wrap_wsgi(get_wsgi_application())
