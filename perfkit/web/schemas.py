"""JSON schemas of the API's request bodies (used by the OpenAPI document)."""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from ..backup.info import NAME_PATTERN

__all__ = [
    "ALERT_RULE",
    "ANOMALY_RULE",
    "BACKUP_NAME",
    "EXTERNAL_ALERT",
    "MAINTENANCE",
    "OBJECT",
    "THRESHOLD_RULE",
    "config_schema",
    "validate",
]

OBJECT: dict[str, Any] = {"type": "object"}
_NUMBER = {"type": "number"}
_OPTIONAL_NUMBER = {"type": ["number", "null"]}
_SECONDS = {"type": "number", "minimum": 0}
_NAME = {"type": "string", "minLength": 1, "maxLength": 200}
_METRIC = {
    "type": "string",
    "minLength": 1,
    "description": "a dotted metric key, e.g. system.cpu_percent",
}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
# what every rule lists (GET /api/alerts/rules) and so may post back
_COMMON = {
    "name": _NAME,
    "metric": _METRIC,
    "severity": {"enum": ["info", "warning", "critical", "low", "medium", "high", "error"]},
    "for_seconds": _SECONDS,
    "cooldown_seconds": _SECONDS,
    "cooldown_minutes": _SECONDS,
    "resolve_for_seconds": _SECONDS,
    "message_template": {"type": ["string", "null"]},
    "labels": _LABELS,
    "description": {"type": "string"},
}

THRESHOLD_RULE: dict[str, Any] = {
    "type": "object",
    "required": ["name", "metric"],
    "additionalProperties": False,
    "properties": {
        "type": {"enum": ["AlertRule"], "default": "AlertRule"},
        **_COMMON,
        "warning": _OPTIONAL_NUMBER,
        "critical": _OPTIONAL_NUMBER,
        "comparison": {"enum": [">", ">=", "<", "<="]},
        "resolve_threshold": _OPTIONAL_NUMBER,
        "condition": {"type": "null", "description": "condition callables are Python-only"},
    },
}

ANOMALY_RULE: dict[str, Any] = {
    "type": "object",
    "required": ["name", "metric", "type"],
    "additionalProperties": False,
    "properties": {
        "type": {"enum": ["AnomalyRule"]},
        **_COMMON,
        "k": {"type": "number", "minimum": 0.1},
        "alpha": {"type": "number", "minimum": 0.000001, "maximum": 1},
        "warmup": {"type": "integer", "minimum": 1},
        "direction": {"enum": ["up", "down", "both"]},
        "resolve_k": {"type": ["number", "null"], "minimum": 0},
        "min_deviation": {"type": "number", "minimum": 0},
        "comparison": {"enum": [">", "<", "!="], "readOnly": True},
        "baseline_mean": {"type": "number", "readOnly": True},
        "baseline_deviation": {"type": "number", "readOnly": True},
        "samples": {"type": "integer", "readOnly": True},
    },
}

# A rule as GET /api/alerts/rules lists it posts back as it is.
ALERT_RULE: dict[str, Any] = {"oneOf": [THRESHOLD_RULE, ANOMALY_RULE]}

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
    """The settings that may change at run time, with the bounds `PerfkitSettings` checks."""
    from ..config import PerfkitSettings

    kinds = {"int": "integer", "float": "number", "bool": "boolean"}
    fields = {f.name: f.metadata for f in dataclasses.fields(PerfkitSettings)}
    properties: dict[str, Any] = {}
    for name in runtime:
        meta = fields[name]
        prop: dict[str, Any] = {"type": kinds[meta["kind"]]}
        if meta["kind"] != "bool":
            for bound, key in ((meta["min"], "minimum"), (meta["max"], "maximum")):
                if bound is not None:  # 0 rather than 0.0: the same to JSON, kinder to read
                    prop[key] = int(bound) if float(bound).is_integer() else bound
        properties[name] = prop
    return {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": properties,
    }


BACKUP_NAME: dict[str, Any] = {"type": "string", "pattern": NAME_PATTERN}


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
    answer and the OpenAPI document cannot disagree. As in JSON Schema, an
    ``integer`` is any number without a fractional part (``1456.0`` too).
    """
    if "oneOf" in schema:
        _validate_one_of(value, schema["oneOf"], where)
        return
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
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
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise ValueError(f"{where}: {_describe(value)} does not match {schema['pattern']}")
    if isinstance(value, dict):
        _validate_object(value, schema, where)


def _is(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "integer":
        return isinstance(value, int) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, (int, float)) and math.isfinite(value)  # no NaN/inf in JSON
    return isinstance(value, _TYPES[kind])


def _validate_one_of(value: Any, options: list[dict[str, Any]], where: str) -> None:
    """Exactly one option must accept `value`; an error names the closest one's complaint."""
    errors: list[str] = []
    for option in options:
        try:
            validate(value, option, where)
        except ValueError as exc:
            errors.append(str(exc))
    if len(errors) == len(options) - 1:
        return
    if len(errors) < len(options) - 1:
        raise ValueError(f"{where}: matches more than one form")
    given = value.get("type") if isinstance(value, dict) else None
    for option, error in zip(options, errors, strict=True):  # the form its "type" names
        if given in option.get("properties", {}).get("type", {}).get("enum", ()):
            raise ValueError(error)
    raise ValueError(errors[0])


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
