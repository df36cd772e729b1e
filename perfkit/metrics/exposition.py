"""Prometheus text format 0.0.4 and OpenMetrics 1.0 rendering of metric families."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from .families import MetricFamily

__all__ = [
    "OPENMETRICS_CONTENT_TYPE",
    "PROMETHEUS_CONTENT_TYPE",
    "choose_format",
    "escape_label_value",
    "render",
    "render_into",
]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def choose_format(accept: str | None) -> bool:
    """True when the `Accept` header accepts OpenMetrics (media types are case-insensitive;
    ``q=0`` means "not acceptable")."""
    if not accept:
        return False
    for item in str(accept).split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media.lower() != "application/openmetrics-text":
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


def escape_label_value(value: str) -> str:
    """Escape backslash, double quote and newline, as both formats require."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{escape_label_value(str(v))}"' for k, v in labels.items())
    return "{" + inner + "}"


def render(families: Iterable[MetricFamily], openmetrics: bool = False) -> bytes:
    """Render `families`; families with invalid names or no samples of type are still typed."""
    lines: list[str] = []
    render_into(lines, set(), families, openmetrics)
    if openmetrics:
        lines.append("# EOF")
    return ("\n".join(lines) + "\n").encode("utf-8")


def render_into(
    lines: list[str], seen: set[str], families: Iterable[MetricFamily], openmetrics: bool
) -> None:
    """Append the lines of `families` to `lines`, skipping names already in `seen`."""
    for family in families:
        if not _NAME.fullmatch(family.name) or family.name in seen:
            continue  # an invalid or duplicate name would make the whole scrape fail
        seen.add(family.name)
        header_name = family.name
        if family.kind == "counter" and not openmetrics:
            header_name = family.name + "_total"
        lines.append(f"# HELP {header_name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {header_name} {family.kind}")
        for sample in family.samples:
            if any(not _LABEL_NAME.fullmatch(k) for k in sample.labels):
                continue
            name = family.name + sample.suffix
            lines.append(f"{name}{_labels(sample.labels)} {format_value(sample.value)}")
