"""Parsing of guard settings: rate-limit strings and body sizes (no third-party imports).

``"100/minute"``, ``"10 per second; 1000/hour"`` and ``"5/10 minutes"`` are
rate limits (the grammar of the `limits` library, checked here so that a bad
``PERFKIT_RATE_LIMIT`` is reported at start-up even without the extra);
``16777216``, ``"16MiB"`` and ``"10 MB"`` are sizes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_BODY_LIMIT", "LimitSpec", "parse_rate_limits", "parse_size"]

_UNITS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86_400,
    "month": 2_592_000,
    "year": 31_104_000,
}  # fmt: skip  (limits' own month = 30 days, year = 12 months)
_ONE = re.compile(
    r"\s*(\d{1,12})\s*(?:/|\s+per\s+)\s*(\d{1,9})?\s*(second|minute|hour|day|month|year)s?\s*",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[;,|]")
MAX_AMOUNT = 1_000_000_000
MAX_WINDOW = 366 * 86_400  # longer windows are a misconfiguration, not a rate limit
MAX_LIMITS = 8
MAX_BODY_LIMIT = 1 << 40  # 1 TiB: above that the "limit" is a typo
_SIZE = re.compile(r"\s*(\d{1,16})\s*([kmgt]i?b?|b)?\s*", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
                 "ki": 1024, "mi": 1024**2, "gi": 1024**3, "ti": 1024**4}  # fmt: skip
RATE_LIMIT_FORM = "limits like '100/minute' or '10/second;1000/hour' (second, minute, hour, day)"


@dataclass(frozen=True)
class LimitSpec:
    """One rate limit: `amount` requests per `multiples` `unit`s."""

    amount: int
    multiples: int
    unit: str

    @property
    def seconds(self) -> int:
        """The window length in seconds."""
        return self.multiples * _UNITS[self.unit]

    @property
    def text(self) -> str:
        """The canonical form, e.g. ``100/1 minute`` (what `limits.parse` reads)."""
        return f"{self.amount}/{self.multiples} {self.unit}"

    def __str__(self) -> str:
        return self.text


def parse_rate_limits(text: str) -> tuple[LimitSpec, ...]:
    """Parse ``"100/minute"`` or ``"10/second;1000/hour"`` into limit specs.

    Raises:
        ValueError: naming the bad part and the expected form.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"rate limit {text!r} is empty: expected {RATE_LIMIT_FORM}")
    parts = _SEPARATORS.split(text)
    if len(parts) > MAX_LIMITS:
        raise ValueError(f"rate limit {text!r} has {len(parts)} parts: at most {MAX_LIMITS}")
    specs: list[LimitSpec] = []
    for part in parts:
        match = _ONE.fullmatch(part)
        if match is None:
            raise ValueError(f"rate limit part {part.strip()!r} is not valid: {RATE_LIMIT_FORM}")
        amount, multiples = int(match.group(1)), int(match.group(2) or 1)
        spec = LimitSpec(amount, multiples, match.group(3).lower())
        if not 1 <= amount <= MAX_AMOUNT:
            raise ValueError(f"rate limit {part.strip()!r}: the count must be 1..{MAX_AMOUNT}")
        if not 1 <= spec.seconds <= MAX_WINDOW:
            raise ValueError(f"rate limit {part.strip()!r}: the window must be 1 s .. 366 days")
        specs.append(spec)
    return tuple(specs)


def parse_size(value: int | str) -> int:
    """A body size in bytes from ``16777216``, ``"16MiB"``, ``"10 MB"`` or ``"512k"``.

    Raises:
        ValueError: for a negative, zero, absurd (> 1 TiB) or malformed size.
    """
    if isinstance(value, bool):
        raise ValueError(f"size {value!r} is not a number of bytes")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if match is None:
            raise ValueError(f"size {value!r} is not valid: expected bytes, e.g. 16777216 or 16MiB")
        unit = (match.group(2) or "").lower()
        unit = unit[:-1] if unit.endswith("b") else unit
        size = int(match.group(1)) * _SIZE_FACTORS[unit]
    else:
        raise ValueError(f"size {value!r} is not a number of bytes")
    if not 1 <= size <= MAX_BODY_LIMIT:
        raise ValueError(f"size {value!r} must be between 1 byte and 1 TiB")
    return size
