"""perfkit's settings in a Django project: ``settings.PERFKIT`` (a dict) over the environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ...config import PerfkitSettings
from ...errors import ConfigError

__all__ = ["perfkit_settings"]


def perfkit_settings(django_settings: Any = None) -> PerfkitSettings:
    """`PerfkitSettings` from ``PERFKIT_*`` variables, with ``settings.PERFKIT`` winning.

    Keys are the setting names in any case (``"TOKEN"`` or ``"token"``); an
    unknown key or a bad value raises `ConfigError` naming it.
    """
    if django_settings is None:
        from django.conf import settings

        django_settings = settings
    given = getattr(django_settings, "PERFKIT", None)
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise ConfigError(
            f"settings.PERFKIT must be a dict of perfkit settings, got {type(given).__name__}"
        )
    names = {f.name for f in dataclasses.fields(PerfkitSettings)}
    overrides: dict[str, Any] = {}
    for key, value in given.items():
        name = str(key).lower()
        if name not in names:
            raise ConfigError(
                f"settings.PERFKIT has an unknown key {key!r}; expected perfkit setting names "
                "such as 'TOKEN' or 'SLOW_REQUEST_THRESHOLD' (see docs/configuration.md)"
            )
        overrides[name] = value
    try:
        return PerfkitSettings.from_env(**overrides)
    except ConfigError as exc:
        raise ConfigError(f"settings.PERFKIT: {exc}") from None
