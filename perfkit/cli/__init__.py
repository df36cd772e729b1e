"""The `perfkit` command. Each command group lives in its own module and adds its parser here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    from . import backup as backup_cmd
    from . import demo as demo_cmd
    from . import monitor as monitor_cmd
    from . import service as service_cmd

    parser = argparse.ArgumentParser(
        prog="perfkit", description="Performance monitoring for Python web services."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    demo_cmd.add_parser(sub)
    monitor_cmd.add_parser(sub)
    service_cmd.add_parsers(sub)
    backup_cmd.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `perfkit` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..errors import PerfkitError
    from ._client import CliError

    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"perfkit {args.command}: error: {exc}", file=sys.stderr)
        return exc.code
    except (PerfkitError, ValueError) as exc:
        print(f"perfkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
