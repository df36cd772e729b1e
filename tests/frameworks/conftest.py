"""Fixtures of the framework integration tests."""

from __future__ import annotations

import pytest

from perfkit import Perfkit, PerfkitSettings


@pytest.fixture
def kit() -> Perfkit:
    return Perfkit(PerfkitSettings())
