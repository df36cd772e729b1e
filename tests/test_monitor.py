"""The monitoring decorators: with and without arguments, sync, async, methods, introspection."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from perfkit import Perfkit, monitor_api_performance, monitor_query_performance, set_default_kit


def queries(kit: Perfkit) -> dict[str, int]:
    return {row["fingerprint"]: row["count"] for row in kit.snapshot()["queries"]["fingerprints"]}


def calls(kit: Perfkit) -> dict[str, tuple[int, int]]:
    return {
        row["name"]: (row["count"], row["errors"]) for row in kit.snapshot()["queries"]["calls"]
    }


def test_without_parentheses_uses_the_default_kit_at_call_time() -> None:
    kit = Perfkit()
    set_default_kit(kit)
    try:

        @monitor_query_performance
        def load(user_id: int) -> int:
            """Load a user."""
            return user_id

        assert load(3) == 3
        assert load.__doc__ == "Load a user."
        assert load.__name__ == "load"
        assert queries(kit) == {load.__qualname__: 1}
    finally:
        set_default_kit(None)


def test_sql_arguments_are_fingerprinted_and_values_never_stored() -> None:
    kit = Perfkit()

    @monitor_query_performance(kit=kit)
    def execute(sql: str, *params: object) -> None:
        return None

    execute("SELECT * FROM users WHERE email = 'bob@example.com'")
    execute("SELECT * FROM users WHERE email = 'eve@example.com'")
    assert queries(kit) == {"SELECT * FROM users WHERE email = ?": 2}
    assert b"example.com" not in kit.render_metrics()[1]


def test_async_functions_stay_coroutine_functions() -> None:
    kit = Perfkit()

    @monitor_api_performance(kit=kit, name="payments.charge")
    async def charge(amount: int, *, currency: str = "EUR") -> str:
        await asyncio.sleep(0)
        return f"{amount} {currency}"

    assert inspect.iscoroutinefunction(charge)
    assert inspect.signature(charge) == inspect.signature(charge.__wrapped__)
    assert list(inspect.signature(charge).parameters) == ["amount", "currency"]
    assert asyncio.run(charge(5)) == "5 EUR"
    assert calls(kit) == {"payments.charge": (1, 0)}


def test_methods_classmethods_and_errors() -> None:
    kit = Perfkit()

    class Repo:
        @monitor_query_performance(kit=kit, name="repo.get")
        def get(self, key: str) -> str:
            if key == "missing":
                raise KeyError(key)
            return key

        @classmethod
        @monitor_api_performance(kit=kit)
        def ping(cls) -> str:
            return cls.__name__

    repo = Repo()
    assert repo.get("a") == "a"
    with pytest.raises(KeyError):
        repo.get("missing")
    assert Repo.ping() == "Repo"
    assert list(inspect.signature(Repo.get).parameters) == ["self", "key"]
    assert list(inspect.signature(repo.get).parameters) == ["key"]
    rows = {row["fingerprint"]: row for row in kit.snapshot()["queries"]["fingerprints"]}
    assert rows["repo.get"]["count"] == 2 and rows["repo.get"]["errors"] == 1
    assert any(name.endswith("ping") for name in calls(kit))


def test_slow_threshold_is_per_decorator() -> None:
    kit = Perfkit()

    @monitor_query_performance(kit=kit, name="fast-enough", slow_threshold=0.0)
    def query() -> None:
        return None

    query()
    assert kit.snapshot()["queries"]["summary"]["slow"] == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"slow_threshold": -1}, "slow_threshold"), ({"name": ""}, "name must be")],
)
def test_bad_arguments_are_clear_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        monitor_query_performance(**kwargs)  # type: ignore[call-overload]


def test_async_generator_like_errors_propagate() -> None:
    kit = Perfkit()

    @monitor_api_performance(kit=kit, name="fails")
    async def fails() -> None:
        raise RuntimeError("upstream 502")

    with pytest.raises(RuntimeError, match="upstream 502"):
        asyncio.run(fails())
    assert calls(kit) == {"fails": (1, 1)}
