"""The app config: the project's kit, made the default kit, with query timing wired."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps

from ...kit import Perfkit, get_kit

__all__ = ["PerfkitConfig", "project_kit"]


class PerfkitConfig(AppConfig):  # type: ignore[misc]  # Django ships no types
    """``"perfkit.integrations.django"`` in ``INSTALLED_APPS``.

    `ready()` builds the kit from `perfkit_settings` (no thread, socket or file
    yet), makes it the default kit (`perfkit.get_kit()`, which the middleware,
    the commands and argument-less decorators use), and times every query of
    every database connection into the default kit.
    The middleware starts the kit's background work when the server loads it,
    so management commands such as ``migrate`` start nothing.
    """

    name = "perfkit.integrations.django"
    label = "perfkit"
    verbose_name = "perfkit"
    default = True
    instrumentation: Any = None

    def ready(self) -> None:
        from ...kit import set_default_kit
        from ..django_db import instrument_django
        from .conf import perfkit_settings

        set_default_kit(Perfkit(perfkit_settings()))
        # kit=None: the default kit, looked up at each query (tests may swap it)
        self.instrumentation = instrument_django(None)


def project_kit() -> Perfkit:
    """The project's kit (the default kit the app set up); a clear error without the app."""
    from django.core.exceptions import ImproperlyConfigured

    if not apps.is_installed("perfkit.integrations.django"):
        raise ImproperlyConfigured(
            "perfkit's Django middleware and commands need 'perfkit.integrations.django' "
            "in INSTALLED_APPS"
        )
    config = apps.get_app_config("perfkit")
    if not isinstance(config, PerfkitConfig):
        raise ImproperlyConfigured("another installed app uses perfkit's app label 'perfkit'")
    if config.instrumentation is None:
        raise ImproperlyConfigured("perfkit's app config has not run ready() yet")
    return get_kit()
