"""JSON schemas of the API's request bodies (used by the OpenAPI document)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ALERT_RULE",
    "EXTERNAL_ALERT",
    "MAINTENANCE",
    "OBJECT",
    "config_schema",
    "validate",
]

OBJECT: dict[str, Any] = {"type": "object"}
_NUMBER = {"type": "number"}

ALERT_RULE: dict[str, Any] = {
    "type": "object",
    "required": ["name", "metric"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "metric": {"type": "string", "description": "a dotted metric key, e.g. system.cpu_percent"},
        "warning": _NUMBER,
        "critical": _NUMBER,
        "comparison": {"enum": [">", ">=", "<", "<="]},
        "for_seconds": {"type": "number", "minimum": 0},
        "cooldown_seconds": {"type": "number", "minimum": 0},
        "cooldown_minutes": {"type": "number", "minimum": 0},
        "message_template": {"type": "string"},
        "resolve_threshold": _NUMBER,
        "resolve_for_seconds": {"type": "number", "minimum": 0},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "description": {"type": "string"},
    },
}

EXTERNAL_ALERT: dict[str, Any] = {
    "type": "object",
    "required": ["name", "severity", "message"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "severity": {"enum": ["info", "warning", "critical"]},
        "message": {"type": "string"},
        "labels": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "metrics": {
            "type": "object",
            "description": 'numbers, or strings: "95%" and "0.25" are read as numbers',
            "additionalProperties": {"type": ["number", "string"]},
        },
        "state": {"enum": ["firing", "resolved"]},
    },
}

MAINTENANCE: dict[str, Any] = {
    "type": "object",
    "required": ["action"],
    "properties": {"action": {"enum": ["cleanup", "reset-counters"]}},
}


def config_schema(runtime: tuple[str, ...]) -> dict[str, Any]:
    """The settings that may change at run time, by type."""
    kinds = {
        "metrics_public": {"type": "boolean"},
        "log_requests": {"type": "boolean"},
        "api_rate_limit": {"type": "integer", "minimum": 0},
        "max_alerts_per_hour": {"type": "integer", "minimum": 0},
        "log_request_sample_rate": {"type": "number", "minimum": 0, "maximum": 1},
        "monitoring_interval": {"type": "number", "minimum": 0.1, "maximum": 86400},
    }
    percent = {"type": "number", "minimum": 0, "maximum": 100}
    properties = {
        name: kinds.get(
            name, percent if name.startswith("alert_") else {"type": "number", "minimum": 0}
        )
        for name in runtime
    }
    return {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": properties,
    }


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
}


def validate(value: Any, schema: dict[str, Any], where: str = "body") -> None:
    """Check `value` against the subset of JSON Schema these documents use.

    Raises ValueError naming the place and what was expected, so the API's
    answer and the OpenAPI document cannot disagree.
    """
    kind = schema.get("type")
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)  # "type": ["number", "string"]
        if not any(_is(value, k) for k in kinds):
            raise ValueError(f"{where}: expected {' or '.join(kinds)}, got {_describe(value)}")
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(repr(c) for c in schema["enum"])
        raise ValueError(f"{where}: expected one of {choices}, got {_describe(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise ValueError(f"{where}: must be >= {schema['minimum']}, got {value!r}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ValueError(f"{where}: must be <= {schema['maximum']}, got {value!r}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise ValueError(f"{where}: must have at least {schema['minLength']} character(s)")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise ValueError(f"{where}: must have at most {schema['maxLength']} characters")
    if isinstance(value, dict):
        _validate_object(value, schema, where)


def _is(value: Any, kind: str) -> bool:
    if not isinstance(value, _TYPES[kind]):
        return False
    if kind in ("number", "integer"):
        return not isinstance(value, bool) and value == value  # NaN is not a JSON number
    return True


def _validate_object(value: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    for name in schema.get("required", ()):
        if name not in value:
            raise ValueError(f"{where}: {name!r} is required")
    if len(value) < schema.get("minProperties", 0):
        raise ValueError(f"{where}: must have at least {schema['minProperties']} field(s)")
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            validate(item, properties[name], f"{where}.{name}")
        elif extra is False:
            allowed = ", ".join(sorted(properties))
            raise ValueError(f"{where}: unknown field {name!r} (allowed: {allowed})")
        elif isinstance(extra, dict):
            validate(item, extra, f"{where}.{name}")


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
