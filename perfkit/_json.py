"""One JSON parser for every body perfkit reads: bounded nesting, errors as ValueError.

``json.loads`` recurses once per level, so ``[[[[…]]]]`` a thousand levels
deep (2 KB) raises RecursionError, which escapes ``except ValueError`` and
becomes a 500; code walking the result (schema checks, ``json.dumps``) recurses
as well. The nesting is therefore measured first, without recursion, and a
body deeper than `MAX_DEPTH` is refused as invalid JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any

__all__ = ["MAX_DEPTH", "JsonDepthError", "check_depth", "loads"]

MAX_DEPTH = 64  # far above any document perfkit accepts, far below the recursion limit

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonDepthError(ValueError):
    """A JSON document (or value) nested deeper than allowed."""


def loads(
    data: str | bytes | bytearray,
    *,
    max_depth: int = MAX_DEPTH,
    object_hook: Callable[[dict[str, Any]], Any] | None = None,
) -> Any:
    """``json.loads`` that raises ValueError (never RecursionError) for deep nesting.

    Raises:
        JsonDepthError: nested more than `max_depth` levels (a ValueError).
        ValueError: not JSON (``json.JSONDecodeError``) or not decodable text.
    """
    text = data if isinstance(data, str) else bytes(data).decode(json.detect_encoding(data))
    brackets = "".join(_BRACKETS.findall(_STRING.sub("", text)))
    deepest = max(accumulate(map(_STEP.__getitem__, brackets)), default=0)
    if deepest > max_depth:
        raise JsonDepthError(f"JSON nested {deepest} levels deep; at most {max_depth} allowed")
    return json.loads(text, object_hook=object_hook)


def check_depth(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise `JsonDepthError` if dicts/lists in `value` nest deeper than `max_depth` (or loop)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > max_depth:
            raise JsonDepthError(f"value nested more than {max_depth} levels deep")
        seen += 1
        if seen > 1_000_000:  # a structure that contains itself never ends
            raise JsonDepthError("value too large or contains itself")
        stack.extend((child, depth + 1) for child in children)
