"""The API's contract: rules round-trip, documented alert metrics, OpenAPI == validators."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from perfkit import Perfkit, PerfkitSettings
from perfkit.alerts import AnomalyRule
from perfkit.alerts.manager import DOCUMENTED_METRICS
from perfkit.backup.info import check_filename
from perfkit.errors import ConfigError
from perfkit.web import schemas
from perfkit.web.api import handle
from perfkit.web.context import ApiRequest
from perfkit.web.handlers import RUNTIME_SETTINGS

TOKEN = "contract-token"


def call(
    kit: Perfkit, method: str, path: str, body: Any = None, query: str = ""
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"authorization": f"Bearer {TOKEN}"}
    response = handle(kit, ApiRequest(method, path, query, headers, data, "127.0.0.1"))
    parsed = json.loads(response.body) if response.content_type == "application/json" else None
    return response.status, parsed


@pytest.fixture
def kit() -> Perfkit:
    return Perfkit(PerfkitSettings(token=TOKEN, api_rate_limit=0))


def _document(kit: Perfkit) -> dict[str, Any]:
    status, doc = call(kit, "GET", "/api/openapi.json")
    assert status == 200
    return doc


# --------------------------------------------------------------- item 19: round trip
def test_every_listed_rule_posts_back_as_it_is(kit: Perfkit) -> None:
    """GET /api/alerts/rules, delete each rule, POST the listed form back: same rule."""
    manager = kit.alerts
    manager.add_alert_rule(
        AnomalyRule("latency_anomaly", "requests.p95", k=4.0, resolve_k=2.0, min_deviation=0.01)
    )
    manager.add_alert_rule(
        {"name": "templated", "metric": "requests.rate", "warning": 5.0,
         "message_template": "{name}: rate {value:.1f}"}
    )  # fmt: skip
    status, listed = call(kit, "GET", "/api/alerts/rules")
    assert status == 200 and len(listed["rules"]) >= 3
    kinds = {rule["type"] for rule in listed["rules"]}
    assert kinds == {"AlertRule", "AnomalyRule"}
    for rule in listed["rules"]:
        assert call(kit, "DELETE", f"/api/alerts/rules/{rule['name']}")[0] == 200
        status, answer = call(kit, "POST", "/api/alerts/rules", rule)
        assert status == 200, (rule, answer)
        schemas.validate(rule, schemas.ALERT_RULE)  # the document accepts it too
    _, again = call(kit, "GET", "/api/alerts/rules")
    assert sorted(again["rules"], key=lambda r: r["name"]) == sorted(
        listed["rules"], key=lambda r: r["name"]
    )


def test_a_posted_rule_with_a_condition_is_still_refused(kit: Perfkit) -> None:
    body = {"name": "c", "metric": "requests.rate", "warning": 1, "condition": "lambda m: 1"}
    assert call(kit, "POST", "/api/alerts/rules", body)[0] == 400


# --------------------------------------------------------------- item 20: documented keys
def test_the_alert_metrics_always_have_every_documented_key() -> None:
    """Idle parts (no DB pool, no cache lookup yet) still give db.connections/cache.hit_rate."""
    metrics = Perfkit(PerfkitSettings()).alert_metrics()
    assert {"db.connections", "cache.hit_rate"} <= metrics.keys()
    assert metrics.keys() >= DOCUMENTED_METRICS
    assert metrics["db.connections"] is None and metrics["cache.hit_rate"] is None


# --------------------------------------------------------------- item 21: OpenAPI == behaviour
def test_metrics_documents_the_429_it_can_answer() -> None:
    kit = Perfkit(PerfkitSettings(token=TOKEN, api_rate_limit=2))
    statuses = [call(kit, "GET", "/metrics")[0] for _ in range(4)]
    assert 429 in statuses
    doc = _document(Perfkit(PerfkitSettings(token=TOKEN)))
    assert "429" in doc["paths"]["/perfkit/metrics"]["get"]["responses"]


def test_max_alerts_per_hour_takes_an_integral_float_and_the_schema_has_its_maximum(
    kit: Perfkit,
) -> None:
    status, body = call(kit, "POST", "/api/config", {"max_alerts_per_hour": 1456.0})
    assert status == 200 and body["settings"]["max_alerts_per_hour"] == 1456
    assert isinstance(kit.settings.max_alerts_per_hour, int)
    prop = _document(kit)["paths"]["/perfkit/api/config"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]["max_alerts_per_hour"]
    assert prop["type"] == "integer" and prop["maximum"] == 100_000
    assert call(kit, "POST", "/api/config", {"max_alerts_per_hour": 100_001})[0] == 400
    assert call(kit, "POST", "/api/config", {"max_alerts_per_hour": 1456.5})[0] == 400


def test_an_empty_metric_is_refused_and_the_schema_says_so(kit: Perfkit) -> None:
    body = {"name": "x", "metric": "", "warning": 1}
    assert call(kit, "POST", "/api/alerts/rules", body)[0] == 400
    rule = schemas.THRESHOLD_RULE["properties"]["metric"]
    assert rule["minLength"] == 1
    with pytest.raises(ValueError, match="at least 1"):
        schemas.validate(body, schemas.ALERT_RULE)


def test_the_backup_name_parameter_documents_its_pattern(kit: Perfkit) -> None:
    doc = _document(kit)
    for path in ("/perfkit/api/backups/{name}", "/perfkit/api/backups/{name}/restore"):
        for operation in doc["paths"][path].values():
            (param,) = [p for p in operation["parameters"] if p["name"] == "name"]
            assert param["schema"]["pattern"] == schemas.BACKUP_NAME["pattern"]


@given(st.text(st.characters(codec="ascii"), max_size=30) | st.sampled_from(
    ["a.meta.json", "backup_1.sqlite3", "..", ".x", "a/b", "x" * 201, "ok-1_2.gz"]
))  # fmt: skip
def test_the_backup_name_pattern_and_the_check_agree(name: str) -> None:
    """Vice versa: what the pattern accepts, check_filename accepts, and only that."""
    try:
        check_filename(name)
        accepted = True
    except ValueError:
        accepted = False
    matches = re.fullmatch(schemas.BACKUP_NAME["pattern"], name) is not None
    assert matches == accepted


@pytest.mark.parametrize("raw", ["1_0", " 10", "10 ", "+10", "١٠", "1e1", "0x10", "10.0"])
def test_integer_query_parameters_take_only_json_integers(kit: Perfkit, raw: str) -> None:
    status, body = call(kit, "GET", "/api/requests/summary", query=f"hours={raw}")
    assert status == 400 and "hours=" in body["detail"]
    assert call(kit, "GET", "/api/requests/summary", query="hours=10")[0] == 200


_values = st.one_of(
    st.integers(-10, 200_000), st.floats(-10, 200_000, allow_nan=False),
    st.booleans(), st.none(), st.text(max_size=3),
)  # fmt: skip


@given(st.sampled_from(RUNTIME_SETTINGS), _values)
def test_the_config_schema_accepts_exactly_what_the_settings_accept(name: str, value: Any) -> None:
    """Vice versa for POST /api/config: the document and PerfkitSettings agree on every value."""
    schema = schemas.config_schema(RUNTIME_SETTINGS)
    try:
        schemas.validate({name: value}, schema)
        documented = True
    except ValueError:
        documented = False
    try:
        PerfkitSettings().replace(**{name: value})
        accepted = True
    except (ConfigError, TypeError, ValueError) as exc:
        # a rule between two settings (warning not past critical) is beyond one field's schema
        assume("must not be past" not in str(exc))
        accepted = False
    assert documented == accepted, (name, value)
