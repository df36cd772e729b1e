"""The documentation site builds with `mkdocs build --strict`, and assembles every benchmark."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _need_mkdocs() -> None:
    """Skip when the docs extra is missing locally; fail in CI, which must build the site."""
    wanted = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers")
    missing = [name for name in wanted if importlib.util.find_spec(name) is None]
    if missing:
        message = f"{', '.join(missing)} not installed: pip install -e '.[docs]'"
        if os.environ.get("PERFKIT_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " [PERFKIT_REQUIRE_SERVICES=1]")
        pytest.skip(message)


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    """Every page, link, anchor, include and API reference resolves (warnings are errors)."""
    _need_mkdocs()
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for page in (
        "index.html",
        "api/index.html",
        "configuration/index.html",
        "reference/index.html",
    ):
        assert (site / page).is_file(), page
    reference = (site / "reference" / "index.html").read_text(encoding="utf-8")
    assert "PerfkitMiddleware" in reference and "DatabaseBackup" in reference
    benchmarks = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "--8&lt;--" not in benchmarks and "--8<--" not in benchmarks


def test_benchmarks_page_includes_every_benchmark_report() -> None:
    """A new docs/benchmarks/<area>.md must be assembled into docs/benchmarks.md."""
    page = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    reports = sorted(p.name for p in (DOCS / "benchmarks").glob("*.md"))
    assert reports, "no benchmark reports?"
    missing = [name for name in reports if f'--8<-- "benchmarks/{name}"' not in page]
    assert not missing, f"include these in docs/benchmarks.md: {missing}"


def test_every_page_is_in_the_navigation() -> None:
    """No page is orphaned: each docs/*.md appears in mkdocs.yml's nav."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    missing = [name for name in pages if f": {name}" not in config]
    assert not missing, f"add these pages to the nav of mkdocs.yml: {missing}"
