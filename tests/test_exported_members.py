"""The public surface: __all__ matches what modules really export; importing does no work."""

from __future__ import annotations

import subprocess
import sys

import perfkit


def test_all_names_resolve() -> None:
    for name in perfkit.__all__:
        assert getattr(perfkit, name) is not None, name


def test_import_starts_no_thread_and_reads_no_env() -> None:
    code = (
        "import threading, os, sys\n"
        "before = threading.active_count()\n"
        "import perfkit, perfkit.wsgi, perfkit.asgi\n"
        "assert threading.active_count() == before, 'a thread was started at import'\n"
        "assert 'redis' not in sys.modules and 'psutil' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
