"""Human tables and JSON for the CLI."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["ms", "print_json", "table"]


def ms(seconds: Any) -> str:
    """Seconds shown as milliseconds, or '-' when unknown."""
    if not isinstance(seconds, (int, float)):
        return "-"
    return f"{seconds * 1000:.1f}ms"


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
