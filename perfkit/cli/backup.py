"""`perfkit backup ...` (filled in by the backups work)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("backup", help="database backups")
    parser.set_defaults(handler=lambda args: parser.error("backup commands are not available yet"))
