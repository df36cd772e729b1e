"""``manage.py perfkit <command>``: the ``perfkit`` CLI against this project's kit, locally.

Every command of the ``perfkit`` CLI is there (``status``, ``summary``, ``alerts``,
``test-alert``, ``export-metrics``, ``reset-counters``, ``cleanup``,
``health-check``, ``monitor``, ``backup ...``); the service commands are
answered in this process by perfkit's API, with no HTTP and no token, so
``--url`` and ``--token`` are ignored.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from django.core.management.base import BaseCommand

from perfkit.cli import main
from perfkit.integrations.django.apps import project_kit


class Command(BaseCommand):  # type: ignore[misc]  # Django ships no types
    help = "perfkit's commands (status, summary, alerts, health-check, backup ...), locally"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("argv", nargs=argparse.REMAINDER, help="a perfkit command and options")

    def handle(self, *args: Any, **options: Any) -> None:
        code = main(options["argv"] or ["--help"], kit=project_kit(), prog="manage.py perfkit")
        if code:
            sys.exit(code)
