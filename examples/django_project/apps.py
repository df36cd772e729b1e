"""The example's app config: start perfkit's query timing once Django is ready."""

from __future__ import annotations

from django.apps import AppConfig


class ExampleConfig(AppConfig):
    name = "django_project"

    def ready(self) -> None:
        from . import monitoring

        monitoring.setup()
