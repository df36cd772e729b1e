"""The dashboard explored in one real headless Chromium session: the header weighs firing
alerts, the time range, the per-endpoint page, the sortable query table, backups and
recommendations; at 1400 and 390 px no element overflows its box, no grid leaves an
orphan row and no word breaks in the middle.

Screenshots go to $PERFKIT_ARTIFACTS (kept by CI) or the test's tmp_path.
"""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from perfkit.alerts import AlertRule
from perfkit.health import HealthChecks
from perfkit.wsgi import PerfkitMiddleware
from tests.web.test_dashboard_browser import (
    browser,  # noqa: F401  (the fixture)
    full_kit,
    get,
    sample_app,
    serve,
    severe_console_messages,
    wait_for,
)

pytestmark = pytest.mark.timeout(180)

# one script for the whole layout: returns a list of problems, empty when the page is right
LAYOUT_PROBLEMS = r"""
const problems = [];
const visible = e => e.offsetParent !== null || e === document.body;
if (document.documentElement.scrollWidth > window.innerWidth)
  problems.push('page ' + document.documentElement.scrollWidth + ' > ' + window.innerWidth);
// an element whose content spills out of its box, is clipped, or needs a scroll bar
for (const e of document.querySelectorAll('main *, header *')) {
  if (!visible(e) || e.closest('svg')) continue;
  if (getComputedStyle(e).display === 'inline') continue;
  if (e.scrollWidth > e.clientWidth + 1)
    problems.push('overflow ' + e.tagName + '.' + e.className + ' ' + e.scrollWidth + '>'
      + e.clientWidth + ' "' + e.textContent.slice(0, 40) + '"');
}
// a grid whose last row is not filled (an orphan card)
for (const g of document.querySelectorAll('.tiles, .charts, .tables')) {
  if (!visible(g)) continue;
  const kids = [...g.children].filter(visible);
  const rows = {};
  kids.forEach(k => {
    const t = Math.round(k.getBoundingClientRect().top);
    (rows[t] = rows[t] || []).push(k);
  });
  const width = g.getBoundingClientRect().width;
  for (const [top, row] of Object.entries(rows)) {
    const used = row.reduce((s, k) => s + k.getBoundingClientRect().width, 0);
    if (used < width * 0.9)
      problems.push('orphan row in ' + g.className + ' at ' + top + ': '
        + row.map(k => k.dataset.tile || k.dataset.chart || k.dataset.table || k.dataset.card)
        .join(',') + ' uses ' + Math.round(used) + ' of ' + Math.round(width));
  }
}
// a word (letters and digits) split over two lines although it fits its box
const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
const range = document.createRange();
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const box = n.parentElement;
  if (!visible(box) || box.closest('svg')) continue;
  const re = /[A-Za-z0-9]{2,}/g;
  let m;
  while ((m = re.exec(n.data))) {
    range.setStart(n, m.index); range.setEnd(n, m.index + m[0].length);
    const rects = [...range.getClientRects()].filter(r => r.width > 0);
    const wide = rects.reduce((s, r) => s + r.width, 0);
    if (rects.length > 1 && wide < box.clientWidth)
      problems.push('mid-word break "' + m[0] + '" in ' + box.tagName + '.' + box.className);
  }
}
return problems;
"""


def artifacts(tmp_path: Path) -> Path:
    target = Path(os.environ.get("PERFKIT_ARTIFACTS") or tmp_path) / "dashboard"
    target.mkdir(parents=True, exist_ok=True)
    return target


def shoot(driver: Any, path: Path) -> None:
    """A full-page screenshot at the current width, then back to a normal height."""
    width, height = driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollHeight]"
    )
    driver.set_window_size(width, min(height + 140, 7000))
    driver.execute_script("window.dispatchEvent(new Event('resize'))")
    time.sleep(0.4)  # the charts redraw 150 ms after a resize; nothing to poll for a repaint
    assert driver.save_screenshot(str(path)) and path.stat().st_size > 10_000


def layout_ok(driver: Any, where: str) -> None:
    problems = driver.execute_script(LAYOUT_PROBLEMS)
    assert problems == [], (where, problems)


def test_dashboard_explore_range_drilldown_and_layout(
    tmp_path: Path,
    browser: Callable[[int, int], Any],  # noqa: F811
) -> None:
    kit = full_kit(tmp_path)
    # 1 of 5 requests fails: the error-rate rule is critical while /health stays healthy
    kit.alerts.add_alert_rule(AlertRule("errors_critical", "requests.error_rate", 1, 2))
    # /health healthy whatever this machine's load: the alert alone makes it critical
    kit.register_component("health", HealthChecks(cache_ttl=0))
    users = ("alice", "bob", "alice")

    def identify(environ: dict[str, Any]) -> tuple[Any, Any]:
        return environ.get("HTTP_X_USER"), None

    app = PerfkitMiddleware(sample_app(kit), kit, identify=identify)
    out = artifacts(tmp_path)
    with serve(app) as base:
        for i in range(6):
            for path in ("/", f"/users/{i % 3}", "/fail", f"/missing/{i}"):
                get(base + path)
            get(base + "/slow", {"X-User": users[i % 3]})
        for n, sql in enumerate(("SELECT 1", "SELECT * FROM orders WHERE id = 7", "UPDATE t")):
            for _ in range(n * 3 + 1):
                kit.record_query_performance(sql, 0.01 * (3 - n))
        kit.record_query_performance("DELETE FROM t", 0.005, error=True)
        kit.system.sample()
        kit.alerts.evaluate()

        with urllib.request.urlopen(base + "/perfkit/", timeout=10) as page:
            csp = page.headers["Content-Security-Policy"]
            html = page.read().decode()
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "http://" not in html and "https://" not in html  # no third-party asset

        driver = browser(1400, 900)
        driver.get(base + "/perfkit/")
        wait_for(driver, "document.body.dataset.ready === '1'")

        # the header says critical: an alert is firing although /health is healthy
        badge = driver.find_element("id", "health")
        assert badge.get_attribute("data-status") == "critical", badge.get_attribute("title")
        assert "errors_critical" in badge.get_attribute("title")

        # every figure names its window; errors show 5xx and 4xx; p50 on a log axis
        for name in ("requests", "errors", "latency", "alerts", "queries", "guards"):
            label = driver.find_element("css selector", f'[data-tile="{name}"] h2 .window').text
            assert label.startswith("· "), (name, label)
        errors = driver.find_element("css selector", '[data-tile="errors"] .value').text
        assert "5xx" in errors and "4xx" in errors, errors
        assert driver.find_element("css selector", '[data-tile="errors"]').get_attribute(
            "data-state"
        ) in {"warn", "crit"}
        latency = driver.find_element("css selector", '[data-chart="latency"]')
        assert latency.get_attribute("data-scale") == "log"

        # the time range applies to every chart
        ranges = (("900", "last 15 min"), ("86400", "last 24 h"), ("3600", "last 1 h"))
        for seconds, label in ranges:
            driver.find_element("css selector", f'.range button[data-range="{seconds}"]').click()
            spans = wait_for(
                driver,
                "(() => { const s = [...document.querySelectorAll('#overview [data-chart]')]"
                ".map(f => f.dataset.span); return s.every(v => v === "
                f"'{seconds}') && s; }})()",
            )
            assert len(spans) == 4, spans
            captions = driver.execute_script(
                "return [...document.querySelectorAll('#overview .range-label')]"
                ".map(l => l.textContent)"
            )
            assert set(captions) == {label}, captions

        # all queries, sortable
        def first_query() -> str:
            return str(
                driver.execute_script(
                    "return document.querySelector('[data-table=\"queries\"] tbody td').textContent"
                )
            )

        assert first_query() == "SELECT * FROM orders WHERE id = ?"  # most total time
        driver.find_element("css selector", 'button.sort[data-sort="count"]').click()
        wait_for(driver, "document.querySelector('[data-table=\"queries\"] tbody td')"
                 ".textContent === 'UPDATE t'")  # fmt: skip
        driver.find_element("css selector", 'button.sort[data-sort="errors"]').click()
        wait_for(driver, "document.querySelector('[data-table=\"queries\"] tbody td')"
                 ".textContent === 'DELETE FROM t'")  # fmt: skip

        # backups with their verification; recommendations
        backups = driver.find_element("css selector", '[data-table="backups"]')
        assert backups.get_attribute("data-rows") == "1" and "✓" in backups.text
        wait_for(driver, "Number(document.getElementById('recommendations').dataset.items) > 0")
        assert "error" in driver.find_element("id", "recommendations").text.lower()

        layout_ok(driver, "overview 1400")
        shoot(driver, out / "overview-1400.png")

        # the per-endpoint page, from the slowest table
        driver.set_window_size(1400, 900)
        driver.find_element("css selector", '[data-table="slowest"] a.ep-link').click()
        wait_for(driver, "!document.getElementById('endpoint-view').hidden")
        assert driver.execute_script("return document.getElementById('overview').hidden")
        key = driver.find_element("id", "endpoint-view").get_attribute("data-endpoint")
        assert key == "GET /slow", key
        assert driver.find_element("css selector", '[data-tile="ep-requests"] .value').text == "6"
        slow_rows = driver.find_element("css selector", '[data-table="ep-slow"]')
        assert slow_rows.get_attribute("data-rows") == "6"
        users_table = driver.find_element("css selector", '[data-table="ep-users"]')
        assert users_table.get_attribute("data-rows") == "2"
        assert users_table.find_element("css selector", "tbody td").text == "alice"
        statuses = driver.find_element("css selector", '[data-table="ep-statuses"]').text
        assert "200" in statuses and "100" in statuses
        layout_ok(driver, "endpoint 1400")
        shoot(driver, out / "endpoint-1400.png")

        # narrow: the same page and the overview at 390 px
        driver.set_window_size(390, 844)
        wait_for(driver, "window.innerWidth <= 400")
        driver.execute_script("window.dispatchEvent(new Event('resize'))")
        layout_ok(driver, "endpoint 390")
        shoot(driver, out / "endpoint-390.png")
        driver.set_window_size(390, 844)
        driver.find_element("id", "endpoint-back").click()
        wait_for(driver, "!document.getElementById('overview').hidden")
        layout_ok(driver, "overview 390")
        shoot(driver, out / "overview-390.png")
        assert severe_console_messages(driver) == []
