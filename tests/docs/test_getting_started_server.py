"""The getting-started page's app.py, served as written by a real gunicorn (two workers):
requests are counted, the background sampler keeps running after the import, and the
paths the page and the README give answer."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "getting-started.md"
pytestmark = pytest.mark.timeout(120)


def app_module() -> str:
    """The page's first python block that starts with '# app.py'."""
    for block in re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S):
        if block.startswith("# app.py"):
            return str(block)
    raise AssertionError("docs/getting-started.md has no '# app.py' block")


def fetch(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), json.loads(exc.read())


def test_the_getting_started_app_under_gunicorn(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    source = app_module()
    assert "kit.stop()" not in source  # a module-level stop ends the sampler at import
    (tmp_path / "app.py").write_text(source)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
        "PERFKIT_DATA_DIR": str(tmp_path / "data"),
        "PERFKIT_MONITORING_INTERVAL": "0.2",
        "PERFKIT_FLUSH_INTERVAL": "0.2",
    }
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "app:app"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for_port(port, 30, proc, log)
        base = f"http://127.0.0.1:{port}"
        for _ in range(6):
            assert fetch(base + "/")[0] == 200
        # the README's and the page's paths
        for path in ("/perfkit/health", "/perfkit/health/live", "/perfkit/health/ready"):
            status, body = fetch(base + path)
            assert status in (200, 503) and "status" in body, (path, status, body)

        deadline = time.monotonic() + 30
        counted, samples = 0, 0
        while time.monotonic() < deadline:
            _, snap = fetch(base + "/perfkit/api/snapshot")
            counted = snap["requests"]["summary"]["count"]
            _, history = fetch(base + "/perfkit/api/system/history?minutes=5")
            samples = len(history["history"])
            # both workers' requests (the host store), and a sampler still sampling
            if counted == 6 and samples >= 3:
                break
            time.sleep(0.2)  # polling the live server with a deadline
        assert counted == 6, log.read_text()
        assert samples >= 3, f"the sampler is not running: {samples} samples\n{log.read_text()}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert "Traceback" not in log.read_text(), log.read_text()
