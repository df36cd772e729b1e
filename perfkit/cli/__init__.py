"""The `perfkit` command. Each command group lives in its own module and adds its parser here."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..kit import Perfkit

__all__ = ["main"]


def build_parser(prog: str = "perfkit") -> argparse.ArgumentParser:
    from . import backup as backup_cmd
    from . import demo as demo_cmd
    from . import monitor as monitor_cmd
    from . import service as service_cmd

    parser = argparse.ArgumentParser(
        prog=prog, description="Performance monitoring for Python web services."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    demo_cmd.add_parser(sub)
    monitor_cmd.add_parser(sub)
    service_cmd.add_parsers(sub)
    backup_cmd.add_parser(sub)
    return parser


def main(
    argv: Sequence[str] | None = None, *, kit: Perfkit | None = None, prog: str = "perfkit"
) -> int:
    """Entry point of the `perfkit` console script; returns the exit code.

    Args:
        argv: the arguments (``sys.argv[1:]`` when None).
        kit: answer the service commands from this kit, in this process (no HTTP,
            no token; ``--url``/``--token`` are then ignored), as ``manage.py perfkit`` does.
        prog: the program name shown in help and errors.
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    args.kit = kit
    from ..errors import PerfkitError
    from ._client import CliError

    try:
        code: int = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        _silence_stdout()
        return 141  # 128 + SIGPIPE, as a shell reports a command ended by a closed pipe
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"perfkit {args.command}: error: {exc}", file=sys.stderr)
        return exc.code
    except (PerfkitError, ValueError) as exc:
        print(f"perfkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return code


def _silence_stdout() -> None:
    """The reader went away (`| head`): drop what is left, without a traceback at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (tests capture it)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
