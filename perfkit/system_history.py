"""The system monitor's history: a bounded ring of samples, each packed into one array.

A day of samples at the default 10 s interval is 8,640 of them. As
`SystemMetrics` objects they take about 1 KB each (an object with 21 boxed
numbers); packed as 23 doubles in an ``array('d')`` about 250 bytes, so the
default 24 h history holds in about 2 MiB (measured in
tests/system/test_system_history.py). Every figure is an integer below 2**53
or a float, so a double keeps it exactly.
"""

from __future__ import annotations

import dataclasses
import threading
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from .system_sample import SystemMetrics

__all__ = ["SampleHistory"]

_FIELDS = [f.name for f in dataclasses.fields(SystemMetrics)]
_INTS = {f.name for f in dataclasses.fields(SystemMetrics) if f.type in ("int", int)}


def _pack(m: SystemMetrics) -> array[float]:
    values: list[float] = []
    for name in _FIELDS:
        value: Any = getattr(m, name)
        if name == "load_avg":
            values.extend(float(v) for v in value)
        else:
            values.append(float(value))
    return array("d", values)


def _unpack(row: array[float]) -> SystemMetrics:
    out: dict[str, Any] = {}
    i = 0
    for name in _FIELDS:
        if name == "load_avg":
            out[name] = (row[i], row[i + 1], row[i + 2])
            i += 3
            continue
        out[name] = int(row[i]) if name in _INTS else row[i]
        i += 1
    return SystemMetrics(**out)


class SampleHistory:
    """The newest `maxlen` samples; iterating gives `SystemMetrics`, oldest first."""

    def __init__(self, maxlen: int, samples: Iterable[SystemMetrics] = ()) -> None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1:
            raise ValueError(f"max_history must be a positive integer, got {maxlen!r}")
        self._rows: deque[array[float]] = deque((_pack(m) for m in samples), maxlen=maxlen)
        self._lock = threading.Lock()

    @property
    def maxlen(self) -> int:
        return self._rows.maxlen or 0

    def append(self, sample: SystemMetrics) -> None:
        row = _pack(sample)
        with self._lock:
            self._rows.append(row)

    def resize(self, maxlen: int) -> None:
        """Keep at most `maxlen` samples from now on (the newest stay)."""
        with self._lock:
            self._rows = deque(self._rows, maxlen=maxlen)

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[SystemMetrics]:
        with self._lock:
            rows = list(self._rows)
        return (_unpack(r) for r in rows)

    def last(self, n: int) -> list[SystemMetrics]:
        """The newest `n` samples, oldest first (unpacking only those)."""
        with self._lock:
            rows = list(self._rows)[-n:] if n > 0 else []
        return [_unpack(r) for r in rows]
