"""The seed modules' spellings perfkit keeps: ``CacheManager(use_redis=...)`` and deleting a
``@cached`` entry through its documented key builder."""

from __future__ import annotations

import uuid

import pytest

from perfkit import CacheManager, cached


def test_use_redis_true_is_auto_with_redis_tried(redis_url: str) -> None:
    """Redis is tried even without redis_url (the seed's localhost default), memory as fallback."""
    cache = CacheManager(use_redis=True, redis_url=redis_url, namespace=f"t-{uuid.uuid4().hex}")
    try:
        cache.set("k", {"v": 1})
        assert cache.get("k") == {"v": 1}
        stats = cache.get_stats()
        assert (stats["backend"], stats["cache_type"]) == ("auto", "redis")
    finally:
        cache.clear()


def test_use_redis_true_falls_back_to_memory_when_redis_is_down() -> None:
    cache = CacheManager(use_redis=True, redis_url="redis://127.0.0.1:1/0", namespace="t-down")
    cache.set("k", 1)
    assert cache.get("k") == 1 and cache.get_stats()["cache_type"] == "memory"


def test_use_redis_false_is_memory_and_a_conflict_is_refused() -> None:
    assert CacheManager(use_redis=False).get_stats()["backend"] == "memory"
    with pytest.raises(ValueError, match="backend= or use_redis=, not both"):
        CacheManager(backend="redis", use_redis=False)


def test_a_cached_entry_is_deleted_through_its_key_builder() -> None:
    cache = CacheManager(backend="memory")
    calls: list[int] = []

    @cached(ttl=60, key_prefix="boq", cache=cache)
    def load(boq_id: int) -> int:
        calls.append(boq_id)
        return boq_id

    load(42)
    assert not cache.delete("boq:42")  # the seed's key format is not perfkit's key
    assert cache.delete(load.cache_key(42))
    load(42)
    assert calls == [42, 42]
