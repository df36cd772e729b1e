"""Human tables, units and JSON for the CLI."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["duration", "ms", "plural", "print_json", "size", "table"]


def ms(seconds: Any) -> str:
    """A request or query duration in the unit that reads best, or '-' when unknown."""
    return duration(seconds)


def duration(seconds: Any) -> str:
    """Seconds in human units: '75 µs', '12.3 ms', '4.5 s', '3 min 20 s', '2 h 5 min', '3 d 4 h'."""
    if not isinstance(seconds, (int, float)) or seconds != seconds:
        return "-"
    s = float(seconds)
    if s == 0:
        return "0 s"
    if s < 0.001:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1000:.1f} ms"
    if s < 60:
        return f"{s:.1f} s"
    whole = round(s)
    for big, big_name, small, small_name in (
        (86400, "d", 3600, "h"),
        (3600, "h", 60, "min"),
        (60, "min", 1, "s"),
    ):
        if whole >= big:
            rest = (whole % big) // small
            return f"{whole // big} {big_name}" + (f" {rest} {small_name}" if rest else "")
    return f"{whole} s"  # pragma: no cover - s >= 60 always matches above


def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 request', '2 requests' (or the given plural form)."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def size(n: float) -> str:
    """Bytes in binary units: '512 B', '1.5 KiB', '3.2 MiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover - loop always returns


def print_json(data: Any, out: TextIO | None = None) -> None:
    # sys.stdout looked up per call, not bound at import (it may be redirected then)
    out = out or sys.stdout
    json.dump(data, out, indent=2, default=str)
    out.write("\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO | None = None) -> None:
    """A plain aligned table; the first column left-aligned, the others right-aligned."""
    out = out or sys.stdout
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        )
        out.write(line.rstrip() + "\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")
    if not rows:
        out.write("(none)\n")
