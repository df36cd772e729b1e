"""Faults found reviewing the library for the classes of issue 16: bounded error kinds,
no cache key (user data) in the log."""

from __future__ import annotations

import logging

import pytest

from perfkit._safety import MAX_KINDS, InternalErrors
from perfkit.cache import CacheManager


def test_internal_error_kinds_stay_bounded() -> None:
    """Kinds become metric labels and dict keys: client-chosen text cannot grow them."""
    errors = InternalErrors(logger=logging.getLogger("tests.review"))
    for n in range(5 * MAX_KINDS):
        errors.report(f"api /users/{n}", ValueError("x"), traceback=False)
    assert len(errors.counts) <= MAX_KINDS + 1
    assert sum(errors.counts.values()) == 5 * MAX_KINDS


def test_an_undecodable_cache_value_logs_no_key(caplog: pytest.LogCaptureFixture) -> None:
    """Cache keys hold call arguments (an e-mail here): the failure is logged without them."""
    with CacheManager(backend="memory", serializer="pickle", signing_key="k" * 32) as cache:
        for n in range(300):
            cache.memory.set(f"user:alice{n}@example.com", b"planted, not signed", None)
        with caplog.at_level(logging.ERROR):
            for n in range(300):
                assert cache.get(f"user:alice{n}@example.com", "miss") == "miss"
        assert "alice" not in caplog.text
        assert len(cache.log.counts) == 1
