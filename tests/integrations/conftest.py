"""Fixtures for the database integrations: a fresh kit, unique table names, Django set-up."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfkit import Perfkit, PerfkitSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def kit() -> Perfkit:
    return Perfkit(PerfkitSettings())


@pytest.fixture
def table() -> str:
    """A table name no other test (or engineer) uses."""
    return f"perfkit_t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def django_ready() -> Iterator[None]:
    """Django configured with the example project's settings (once per process)."""
    pytest.importorskip("django")
    import django
    from django.conf import settings
    from django.db import connections

    if not settings.configured:
        # the same settings as tests/examples use: one Django per test process
        if str(EXAMPLES) not in sys.path:
            sys.path.insert(0, str(EXAMPLES))
        os.environ["DJANGO_SETTINGS_MODULE"] = "django_project.settings"
        try:
            django.setup()
        finally:
            os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    try:
        yield
    finally:
        connections.close_all()
