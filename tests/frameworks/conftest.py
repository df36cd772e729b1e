"""Fixtures of the framework integration tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfkit import Perfkit, PerfkitSettings
from tests.conftest import setup_example_django


@pytest.fixture
def kit() -> Perfkit:
    return Perfkit(PerfkitSettings())


APPS = Path(__file__).resolve().parent / "apps"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
for _where in (APPS, EXAMPLES):
    if str(_where) not in sys.path:
        sys.path.insert(0, str(_where))


@pytest.fixture
def django_site(kit: Perfkit) -> Iterator[Perfkit]:
    """Django in this process with the test site's urls and middleware; `kit` as the default kit.

    Django is set up once per process: with the example project's settings (as
    tests/examples do), which install perfkit's app; the test site's urls and
    middleware are put in with ``override_settings``.
    """
    pytest.importorskip("django")
    from django.db import connections
    from django.test.utils import override_settings

    from perfkit import set_default_kit

    setup_example_django()
    set_default_kit(kit)
    try:
        with override_settings(
            ROOT_URLCONF="djsite.urls",
            MIDDLEWARE=["perfkit.integrations.django.PerfkitMiddleware", "djsite.views.HeaderUser"],
        ):
            yield kit
    finally:
        set_default_kit(None)
        kit.stop()  # the middleware started it, as a server's would
        connections.close_all()
