"""The public names of the alerting, system and health modules are what `__all__` says."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "perfkit.alerts",
        "perfkit.alerts.notifiers",
        "perfkit.alerts.rules",
        "perfkit.alerts.anomaly",
        "perfkit.alerts.manager",
        "perfkit.system",
        "perfkit.health",
        "perfkit.recommendations",
    ],
)
def test_all_lists_existing_public_names(module: str) -> None:
    """Every name in __all__ exists, and the package exports the documented notifiers."""
    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name} is in __all__ but missing"


def test_documented_imports_work() -> None:
    """The four notifiers import from perfkit.alerts, as DESIGN documents."""
    from perfkit.alerts import CallbackNotifier, EmailNotifier, LogNotifier, WebhookNotifier

    assert all(callable(c) for c in (CallbackNotifier, EmailNotifier, LogNotifier, WebhookNotifier))
