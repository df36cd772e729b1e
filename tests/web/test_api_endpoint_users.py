"""GET /api/requests/endpoints/{key} gives the endpoint's top users (its drill-down page);
they survive the JSON state and are pseudonymised like the users table."""

from __future__ import annotations

import json

from perfkit import Perfkit, PerfkitSettings
from perfkit.metrics.state import from_state, to_state
from perfkit.testing import FakeClock
from perfkit.web.api import handle
from perfkit.web.context import ApiRequest


def endpoint(kit: Perfkit, key: str) -> dict[str, object]:
    response = handle(
        kit, ApiRequest("GET", f"/api/requests/endpoints/{key}", "", {}, b"", "127.0.0.1")
    )
    assert response.status == 200, response.body
    return dict(json.loads(response.body))


def test_an_endpoint_lists_its_own_top_users() -> None:
    kit = Perfkit(PerfkitSettings())
    for user, route, status in (
        ("alice", "/a", 200), ("alice", "/a", 500), ("bob", "/a", 200),
        ("carol", "/b", 200), ("alice", "/b", 200),
    ):  # fmt: skip
        kit.record_request("GET", route, status, 0.02, user=user)
    kit.record_request("GET", "/a", 200, 0.01)  # no user: counted, in no user's row
    users = endpoint(kit, "GET /a")["users"]
    assert [(u["id"], u["count"], u["errors"]) for u in users] == [("alice", 2, 1), ("bob", 1, 0)]
    assert [u["id"] for u in endpoint(kit, "GET /b")["users"]] == ["alice", "carol"]
    # the table travels with the registry's state (file store, handover)
    registry = kit.registry
    registry.drain()
    again = from_state(json.loads(json.dumps(to_state(registry))), registry.settings, FakeClock())
    assert len(again.endpoint_users) == len(registry.endpoint_users) == 4


def test_users_are_pseudonymised_and_bounded() -> None:
    kit = Perfkit(PerfkitSettings(user_id_hash_key="k" * 32, max_users=2))
    for n in range(5):
        kit.record_request("GET", "/a", 200, 0.01, user=f"user{n}")
    users = endpoint(kit, "GET /a")["users"]
    assert all(not str(u["id"]).startswith("user") for u in users)  # never the raw id
    assert sum(int(u["count"]) for u in users) == 5 and len(users) <= 3  # cap + (others)
