"""Serializers: how cached values become bytes and back.

`JsonSerializer` (the default) round-trips JSON types plus ``datetime``,
``date``, ``time``, ``timedelta``, ``Decimal``, ``UUID``, ``set``, ``frozenset``,
``tuple``, ``bytes`` and dicts with non-string keys, through tagged objects
``{"__pk__": tag, "v": ...}``. An aware datetime comes back with the same
instant and UTC offset (a fixed-offset tzinfo, not the zone name).
`PickleSerializer` handles any picklable value and signs every payload with
HMAC-SHA256 over the cache key and the value, so a value written by someone
without the key is refused and never unpickled, and a signed value copied to
another key (or namespace) is refused there too.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import hashlib
import hmac
import json
import pickle
import uuid
from typing import Any, Protocol

from .._json import loads as parse_json

__all__ = [
    "JsonSerializer",
    "PickleSerializer",
    "Serializer",
    "SignatureError",
    "make_serializer",
]

_TAG = "__pk__"


class Serializer(Protocol):
    """Turns values into bytes and back; `dumps` raises `TypeError` for what it cannot encode."""

    name: str

    def dumps(self, value: Any) -> bytes:
        """Encode `value`."""

    def loads(self, data: bytes) -> Any:
        """Decode what `dumps` produced; `ValueError` for anything else."""


def encode_for(serializer: Serializer, value: Any, where: str) -> bytes:
    """`value` encoded for the cache key `where` (bound to it when the serializer signs)."""
    dumps_for = getattr(serializer, "dumps_for", None)
    return serializer.dumps(value) if dumps_for is None else bytes(dumps_for(value, where))


def decode_for(serializer: Serializer, data: bytes, where: str) -> Any:
    """What `encode_for` produced for the same key `where`."""
    loads_for = getattr(serializer, "loads_for", None)
    return serializer.loads(data) if loads_for is None else loads_for(data, where)


class SignatureError(ValueError):
    """A pickled payload's signature is missing or wrong: it was not written by this key."""


def _encode(value: Any) -> Any:
    """`value` as plain JSON types, tagging the types JSON does not have."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and _TAG not in value:
            return {k: _encode(v) for k, v in value.items()}
        return {_TAG: "map", "v": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {_TAG: "tuple", "v": [_encode(v) for v in value]}
    if isinstance(value, frozenset):
        return {_TAG: "frozenset", "v": [_encode(v) for v in value]}
    if isinstance(value, set):
        return {_TAG: "set", "v": [_encode(v) for v in value]}
    if isinstance(value, _dt.datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, _dt.date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, _dt.time):
        return {_TAG: "time", "v": value.isoformat()}
    if isinstance(value, _dt.timedelta):
        return {_TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, decimal.Decimal):
        return {_TAG: "decimal", "v": str(value)}
    if isinstance(value, uuid.UUID):
        return {_TAG: "uuid", "v": str(value)}
    if isinstance(value, (bytes, bytearray)):
        return {_TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    raise TypeError(
        f"a value of type {type(value).__name__} cannot be serialised by the json serializer "
        f"(supported: JSON types, tuple, set, frozenset, bytes, datetime, date, time, "
        f"timedelta, Decimal, UUID); convert it or use serializer='pickle'"
    )


def _hashable(value: Any) -> Any:
    # decoded lists are unhashable; inside sets and map keys they were tuples
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


_DECODERS: dict[str, Any] = {
    "tuple": tuple,
    "set": lambda v: {_hashable(x) for x in v},
    "frozenset": lambda v: frozenset(_hashable(x) for x in v),
    "map": lambda v: {_hashable(k): val for k, val in v},
    "datetime": _dt.datetime.fromisoformat,
    "date": _dt.date.fromisoformat,
    "time": _dt.time.fromisoformat,
    "timedelta": lambda v: _dt.timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "decimal": decimal.Decimal,
    "uuid": uuid.UUID,
    "bytes": base64.b64decode,
}


def _decode_object(obj: dict[str, Any]) -> Any:
    tag = obj.get(_TAG)
    if tag is None or len(obj) != 2 or "v" not in obj:
        return obj
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise ValueError(f"unknown tag {tag!r} in cached JSON")
    return decoder(obj["v"])


class JsonSerializer:
    """JSON with tagged extra types (see the module docstring); the default."""

    name = "json"

    def dumps(self, value: Any) -> bytes:
        try:
            return json.dumps(_encode(value), separators=(",", ":")).encode()
        except RecursionError:
            raise TypeError("the value is nested too deeply (or contains itself)") from None

    def loads(self, data: bytes) -> Any:
        # deeper than API bodies may be, still far from the recursion limit
        return parse_json(data, max_depth=400, object_hook=_decode_object)


class PickleSerializer:
    """Pickle, signed: ``HMAC-SHA256(secret, where + pickle) + pickle``; unsigned data is refused.

    `where` is the cache key with its namespace (`dumps_for`/`loads_for`, which
    `CacheManager` uses), so a payload moved to another key fails its check.
    Plain `dumps`/`loads` sign for an empty `where`.

    Args:
        signing_key: the secret shared by every process that reads the cache.
    """

    name = "pickle"
    _MAC_SIZE = 32

    def __init__(self, signing_key: str | bytes) -> None:
        if isinstance(signing_key, str):
            signing_key = signing_key.encode()
        if not isinstance(signing_key, bytes) or len(signing_key) < 16:
            raise ValueError(
                "signing_key must be a str or bytes of at least 16 characters "
                "(the HMAC key that protects pickled cache values)"
            )
        self._key = signing_key

    def _mac(self, data: bytes, where: str = "") -> bytes:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        label = where.encode("utf-8", "surrogatepass")
        mac.update(len(label).to_bytes(4, "big"))  # length first: no (key, data) pair collides
        mac.update(label)
        mac.update(data)
        return mac.digest()

    def dumps(self, value: Any) -> bytes:
        return self.dumps_for(value, "")

    def loads(self, data: bytes) -> Any:
        return self.loads_for(data, "")

    def dumps_for(self, value: Any, where: str) -> bytes:
        """`value` pickled and signed for the key `where`."""
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as exc:
            raise TypeError(
                f"a value of type {type(value).__name__} cannot be pickled: {exc}"
            ) from None
        return self._mac(data, where) + data

    def loads_for(self, data: bytes, where: str) -> Any:
        """The value, if `data` was signed by this secret for the key `where`."""
        mac, body = data[: self._MAC_SIZE], data[self._MAC_SIZE :]
        if len(mac) != self._MAC_SIZE or not hmac.compare_digest(mac, self._mac(body, where)):
            raise SignatureError(
                "cached pickle has no valid signature for this key (planted, or moved "
                "from another key); refused"
            )
        return pickle.loads(body)  # authenticated above: only our own writes get here


def make_serializer(
    serializer: str | Serializer, signing_key: str | bytes | None = None
) -> Serializer:
    """The serializer named `serializer` (``json`` or ``pickle``), or `serializer` itself."""
    if not isinstance(serializer, str):
        if callable(getattr(serializer, "dumps", None)) and callable(
            getattr(serializer, "loads", None)
        ):
            return serializer
        raise TypeError(
            f"serializer must be 'json', 'pickle' or an object with dumps/loads, got {serializer!r}"
        )
    if serializer == "json":
        return JsonSerializer()
    if serializer == "pickle":
        if signing_key is None:
            raise ValueError(
                "serializer='pickle' needs signing_key (PERFKIT_CACHE_SIGNING_KEY): pickled "
                "values are signed so that data planted in the cache is never unpickled"
            )
        return PickleSerializer(signing_key)
    raise ValueError(f"serializer must be 'json' or 'pickle', got {serializer!r}")
