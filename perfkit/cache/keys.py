"""Cache keys: validation of user keys and keys built from a call's arguments.

A call's key is ``<name>:<arguments>`` where `name` is the key prefix or the
function's identity (`function_identity`: ``module.qualname``, plus a digest of
what a closure captured) and `arguments` is a canonical JSON text of the
arguments bound through the signature: defaults are applied, keyword order is
irrelevant and ``1``, ``1.0``, ``True`` and ``"1"`` give different keys.
A key longer than `MAX_BUILT_KEY_LENGTH` keeps its name and replaces the
arguments by their SHA-256.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import hashlib
import inspect
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring_ascii
from typing import Any

__all__ = [
    "MAX_BUILT_KEY_LENGTH",
    "MAX_KEY_LENGTH",
    "function_identity",
    "function_key",
    "function_name",
    "key_builder",
    "normalize_arg",
    "validate_key",
]

MAX_KEY_LENGTH = 1024
"""The longest key `CacheManager` accepts (characters)."""

MAX_BUILT_KEY_LENGTH = 200
"""Keys built by `function_key` longer than this are hashed."""


def validate_key(key: object, argument: str = "key") -> str:
    """Return `key` as the string the cache uses, or raise naming `argument`.

    Strings and integers are accepted (an integer becomes its decimal text).
    """
    if type(key) is str and 0 < len(key) <= MAX_KEY_LENGTH and key.isascii():
        return key  # the common case, checked cheaply: it is on every cache hit
    if isinstance(key, str):
        text = key
    elif isinstance(key, int) and not isinstance(key, bool):
        text = str(key)
    else:
        raise TypeError(
            f"{argument} must be a str or an int, got {type(key).__name__} ({key!r:.80})"
        )
    if not text:
        raise ValueError(f"{argument} must not be empty")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{argument} {text!r:.80} is not valid UTF-8 text") from None
    if len(text) > MAX_KEY_LENGTH:
        raise ValueError(
            f"{argument} is {len(text)} characters long; the maximum is {MAX_KEY_LENGTH} "
            f"(use a shorter key, or a hash of it)"
        )
    return text


def function_name(func: Callable[..., Any]) -> str:
    """``module.qualname`` of `func`: the default name part of its keys."""
    module = getattr(func, "__module__", None) or "?"
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))
    return f"{module}.{qualname}"


_seen_lock = threading.Lock()
_decorations: dict[str, int] = {}  # identity -> times decorated with uncomparable captures


def function_identity(func: Callable[..., Any]) -> str:
    """The name part of `func`'s keys: one per function, the same in every process.

    ``module.qualname`` for a plain function (keys unchanged). Functions that
    share a qualname but not their behaviour get a suffix:

    - a closure (``make(2)`` and ``make(3)`` from one factory) adds a digest of
      the values it captured (functions by their own name), so equal captures
      share entries across processes and different ones never mix;
    - a ``<lambda>`` adds its line;
    - captures that cannot be compared (objects) add the decoration's number
      among decorations of that identity in this process (``#1``, ``#2``…), so
      they never share; processes that build them in one order agree.
    """
    base = function_name(func)
    code = getattr(func, "__code__", None)
    parts: list[str] = []
    if code is not None and "<lambda>" in base:
        parts.append(f"L{code.co_firstlineno}")
    cells = getattr(func, "__closure__", None) or ()
    if cells:
        try:
            captured = [_captured(cell) for cell in cells]
        except TypeError:
            captured = None
        if captured is not None:
            names = list(getattr(code, "co_freevars", ()))
            digest = hashlib.sha256(_canonical([names, captured]).encode()).hexdigest()[:12]
            parts.append(digest)
        else:
            identity = base + ("~" + "~".join(parts) if parts else "")
            with _seen_lock:
                number = _decorations.get(identity, 0)
                _decorations[identity] = number + 1
            if number:
                parts.append(f"#{number}")
    return base + ("~" + "~".join(parts) if parts else "")


def _captured(cell: Any) -> Any:
    try:
        value = cell.cell_contents
    except ValueError:  # not assigned yet (a recursive closure)
        return {"empty": True}
    if callable(value) and hasattr(value, "__qualname__"):
        return {"fn": function_name(value)}
    return normalize_arg(value, "a captured variable")


def normalize_arg(value: Any, where: str = "argument") -> Any:
    """A JSON-ready canonical form of `value`; `TypeError` naming `where` if unsupported.

    Types are tagged so that values which are equal in Python but different in
    kind (``1`` and ``1.0``, ``(1,)`` and ``[1]`` excepted) map to different keys.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return {"E": f"{type(value).__qualname__}.{value.name}"}
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        # repr keeps 1.0 apart from 1 and is exact; JSON has no NaN/inf
        return {"f": repr(value)}
    if isinstance(value, (list, tuple)):
        return [normalize_arg(v, where) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [normalize_arg(v, where) for v in value]
        return {"s": sorted(items, key=_canonical)}
    if isinstance(value, Mapping):
        pairs = [[normalize_arg(k, where), normalize_arg(v, where)] for k, v in value.items()]
        return {"d": sorted(pairs, key=lambda p: _canonical(p[0]))}
    if isinstance(value, bytes):
        return {"b": value.hex()}
    if isinstance(value, _dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, _dt.date):
        return {"da": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"D": str(value)}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    raise TypeError(
        f"{where} has type {type(value).__name__}, which cannot be part of a cache key "
        f"(supported: None, bool, int, float, str, bytes, list, tuple, set, dict, datetime, "
        f"date, Decimal, UUID, Enum); pass key=... to @cached to build the key yourself"
    )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def function_key(
    name: str,
    signature: inspect.Signature | None,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    skip_first: bool = False,
) -> str:
    """The key of one call: `name` plus the canonical bound arguments.

    Args:
        name: the key prefix or qualified function name.
        signature: the function's signature (None: arguments are used as given).
        skip_first: leave out the first parameter (``self``/``cls``).
    """
    if signature is None:
        items: list[Any] = [
            [normalize_arg(a, f"argument {i}") for i, a in enumerate(args)],
            normalize_arg(dict(kwargs), "keyword arguments"),
        ]
    else:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        items = []
        for index, (param_name, value) in enumerate(bound.arguments.items()):
            if skip_first and index == 0:
                continue
            param = signature.parameters[param_name]
            where = f"argument {param_name!r} of {name}"
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                items.append([param_name, normalize_arg(dict(value), where)])
            else:
                items.append([param_name, normalize_arg(value, where)])
    text = f"{name}:{_canonical(items)}"
    if len(text) > MAX_BUILT_KEY_LENGTH:
        digest = hashlib.sha256(text.encode()).hexdigest()
        text = f"{name[: MAX_BUILT_KEY_LENGTH - 70]}:#{digest}"
    return text


_SCALARS: dict[type, Callable[[Any], str]] = {
    int: int.__repr__,
    str: encode_basestring_ascii,
    bool: lambda v: "true" if v else "false",
    type(None): lambda v: "null",
}


def key_builder(
    name: str, signature: inspect.Signature | None, skip_first: bool = False
) -> Callable[[tuple[Any, ...], Mapping[str, Any]], str]:
    """A fast `function_key` for one function; the same text, built without binding.

    Calls with positional str/int/bool/None arguments only (the common hit
    path) skip `inspect.Signature.bind` and the JSON encoder; anything else
    goes through `function_key`.
    """

    def general(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
        return function_key(name, signature, args, kwargs, skip_first)

    if signature is None:
        return general
    params = list(signature.parameters.values())
    if any(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params):
        return general
    n, first = len(params), 1 if skip_first else 0
    quoted = [encode_basestring_ascii(p.name) for p in params]
    # tails[k]: the defaults of parameters k..n-1, or None if one of them has none
    tails: list[tuple[Any, ...] | None] = []
    for k in range(n + 1):
        rest = [p.default for p in params[k:]]
        tails.append(None if inspect.Parameter.empty in rest else tuple(rest))
    prefix = name + ":["

    def build(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
        if not kwargs and len(args) <= n:
            tail = tails[len(args)]
            if tail is not None:
                values = args + tail if tail else args
                parts = []
                for i in range(first, n):
                    value = values[i]
                    encode = _SCALARS.get(type(value))
                    if encode is None:
                        break
                    parts.append(f"[{quoted[i]},{encode(value)}]")
                else:
                    text = prefix + ",".join(parts) + "]"
                    if len(text) <= MAX_BUILT_KEY_LENGTH:
                        return text
        return general(args, kwargs)

    return build
