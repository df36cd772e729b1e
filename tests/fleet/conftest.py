"""Fleet tests: a Redis namespace of the test's own, deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A fresh PERFKIT_REDIS_NAMESPACE; every key under it is deleted after the test."""
    name = f"perfkit-test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match="{" + name + "}:*"))
    if keys:
        client.delete(*keys)
    client.close()
