"""The dashboard in real headless Chromium (Selenium + Debian's chromium-driver) on a live server.

Needs `apt-get install chromium chromium-driver` and `pip install selenium` (the
`test` extra): skipped when missing, failed when PERFKIT_REQUIRE_SERVICES=1 (CI).
Screenshots are saved under the test's tmp_path (dashboard-wide.png, dashboard-narrow.png).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.alerts import AlertRule
from perfkit.backup import DatabaseBackup
from perfkit.wsgi import PerfkitMiddleware
from tests.conftest import REQUIRE_SERVICES, serve_wsgi

pytestmark = pytest.mark.timeout(120)

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)
# the path a hostile client may send: it must show as text, never as markup
HOSTILE = "/echo/<img src=x onerror=alert(1)>"


def _missing(what: str) -> None:
    message = f"{what}; install: apt-get install -y chromium chromium-driver; pip install selenium"
    if REQUIRE_SERVICES:
        pytest.fail(message + " [PERFKIT_REQUIRE_SERVICES=1]")
    pytest.skip(message)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Callable[[int, int], Any]]:
    """A factory of headless Chromium sessions (fresh profile each), all closed after the test."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        _missing("chromium or chromedriver is not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed")
    drivers: list[Any] = []

    def start(width: int, height: int) -> Any:
        options = webdriver.ChromeOptions()
        options.binary_location = str(chromium)
        for arg in CHROMIUM_ARGS:
            options.add_argument(arg)
        options.add_argument(f"--user-data-dir={tmp_path / f'profile-{len(drivers)}'}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # an explicit driver path: Selenium Manager is never asked to download anything
        driver = webdriver.Chrome(options=options, service=Service(str(driver_path)))
        drivers.append(driver)
        driver.set_page_load_timeout(30)
        # after the start: --window-size is clamped to a desktop minimum width
        driver.set_window_size(width, height)
        return driver

    yield start
    for driver in drivers:
        driver.quit()


@contextmanager
def serve(app: Callable[..., Any]) -> Iterator[str]:
    """Serve a WSGI app on a free 127.0.0.1 port in a thread; yields the base URL."""
    with serve_wsgi(app) as port:
        yield f"http://127.0.0.1:{port}"


def sample_app(kit: Perfkit) -> Callable[..., Any]:
    """Ids in paths, a slow endpoint, a failing one, a cached one, and an echo of the path."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ["PATH_INFO"]
        status = "200 OK"
        if path.startswith("/slow"):
            time.sleep(0.06)  # the endpoint under test is slow on purpose (threshold 0.05 s)
        elif path.startswith("/fail"):
            status = "500 Internal Server Error"
        elif path.startswith("/users/"):
            if kit.cache.get(path) is None:
                kit.cache.set(path, {"id": path})
        elif not path.startswith("/echo/") and path != "/":
            status = "404 Not Found"
        start_response(status, [("Content-Type", "text/plain")])
        return [b"ok"]

    return app


def get(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> int:
    """The status of a GET (a POST when `data` is given), HTTP errors included."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


def drive(base: str, rounds: int) -> int:
    """Send traffic with successes, 500s, 404s, slow requests and repeated (cached) users."""
    sent = 0
    for i in range(rounds):
        for path in (f"/users/{i % 3}", "/", "/slow", "/fail", f"/missing/{i}"):
            get(base + path)
            sent += 1
    get(base + urllib.parse.quote(HOSTILE))
    return sent + 1


def wait_for(driver: Any, script: str, timeout: float = 20.0) -> Any:
    """Poll a JS expression in the page until it is truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = driver.execute_script("return " + script)
        if value:
            return value
        time.sleep(0.1)  # polling the page with a deadline
    raise AssertionError(f"{script!r} still {value!r} after {timeout} s")


def severe_console_messages(driver: Any) -> list[str]:
    """Console errors, except /health's 503: a loaded test machine may really be past
    the critical CPU level, and the browser logs every 503 it receives."""
    severe = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    return [m for m in severe if not ("/health - " in m and " 503 " in m)]


def screenshot(driver: Any, path: Path) -> None:
    """A full-page screenshot: grow the window to the page's height first."""
    width = driver.execute_script("return window.innerWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(height + 140, 6000))
    driver.execute_script("window.dispatchEvent(new Event('resize'))")
    time.sleep(0.4)  # the charts redraw 150 ms after a resize; nothing to poll for a repaint
    assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
    assert path.stat().st_size > 10_000


def full_kit(tmp_path: Path) -> Perfkit:
    """A kit with every part in use: system samples, alerts, memory cache, SQLite backups."""
    database = tmp_path / "app.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    db.close()
    kit = Perfkit(
        PerfkitSettings(
            slow_request_threshold=0.05,
            slow_query_threshold=0.05,
            cache_backend="memory",
            database_url=f"sqlite:///{database}",
            backup_dir=str(tmp_path / "backups"),
        )
    )
    backups = DatabaseBackup(f"sqlite:///{database}", backup_dir=tmp_path / "backups")
    backups.create_backup()
    kit.register_component("backups", backups)
    kit.alerts.add_alert_rule(AlertRule("api_errors", "requests.error_rate", 5, 50))
    return kit


def test_dashboard_draws_live_data_from_a_server_with_traffic(
    tmp_path: Path, browser: Callable[[int, int], Any]
) -> None:
    """Charts have points, tables and tiles fill, the badge shows, no console error, it updates."""
    kit = full_kit(tmp_path)
    with serve(PerfkitMiddleware(sample_app(kit), kit)) as base:
        sent = drive(base, 6)
        kit.record_query_performance("SELECT * FROM orders WHERE id = 7", 0.2)
        for _ in range(3):
            kit.system.sample()  # history for the CPU/RAM/disk chart (also evaluates alerts)
        kit.alerts.evaluate()
        assert kit.snapshot()["requests"]["summary"]["count"] == sent

        driver = browser(1280, 900)
        driver.get(base + "/perfkit/")
        wait_for(driver, "document.body.dataset.ready === '1'")
        points = wait_for(
            driver,
            "(() => { const p = {}; document.querySelectorAll('[data-chart]').forEach("
            "f => p[f.dataset.chart] = Number(f.dataset.points)); "
            "return p.rate > 0 && p.system > 0 ? p : null; })()",
        )
        assert points["latency"] >= 3 and points["errors"] >= 2, points  # p50/p95/p99; 5xx/4xx
        assert points["system"] >= 3 * 3, points  # three samples of CPU, RAM and disk
        circles = driver.execute_script(
            "return document.querySelectorAll('.plot svg circle').length"
        )
        lines = driver.execute_script("return document.querySelectorAll('.plot svg path').length")
        assert circles >= 6 and lines >= 3

        badge = driver.find_element("id", "health")
        assert badge.is_displayed()
        assert badge.get_attribute("data-status") in {"healthy", "warning", "critical"}
        assert badge.text.strip().lower() == badge.get_attribute("data-status")

        def rows(name: str) -> int:
            return int(
                driver.execute_script(
                    f"return Number(document.querySelector('[data-table=\"{name}\"]').dataset.rows)"
                )
            )

        assert rows("top") >= 4 and rows("slowest") >= 4
        assert rows("slow-requests") >= 6 and rows("slow-queries") == 1
        assert rows("alerts") >= 1
        alerts_text = driver.find_element("css selector", '[data-table="alerts"]').text
        assert "api_errors" in alerts_text
        assert "GET /slow" in driver.find_element("css selector", '[data-table="slowest"]').text

        def tile(name: str) -> str:
            return str(driver.find_element("css selector", f'[data-tile="{name}"] .value').text)

        assert tile("requests") == str(sent)
        assert tile("cache").endswith("%") and tile("backups") == "1"
        assert tile("alerts") != "not in use"
        assert "5xx" in tile("errors") and "4xx" in tile("errors")

        # a hostile path is shown as text and never becomes markup
        top_text = driver.find_element("css selector", '[data-table="top"]').text
        assert "<img src=x onerror=alert(1)>" in top_text
        assert not driver.execute_script("return document.querySelectorAll('main img').length")

        # live: new traffic appears without a reload (the page polls every 5 s)
        more = drive(base, 2)
        wait_for(
            driver,
            f"document.querySelector('[data-tile=\"requests\"] .value').textContent === "
            f"'{sent + more}'",
            timeout=20,
        )
        assert severe_console_messages(driver) == []
        screenshot(driver, tmp_path / "dashboard-wide.png")

        # readable on a narrow screen: nothing wider than the viewport
        phone = browser(390, 844)
        phone.get(base + "/perfkit/")
        wait_for(phone, "document.body.dataset.ready === '1'")
        widths = phone.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert widths[1] <= 400 and widths[0] <= widths[1], widths
        assert severe_console_messages(phone) == []
        screenshot(phone, tmp_path / "dashboard-narrow.png")


def test_dashboard_asks_for_the_token_and_shows_parts_not_in_use(
    tmp_path: Path, browser: Callable[[int, int], Any]
) -> None:
    """With a token: the form appears, a wrong token is refused, the right one loads the data."""
    kit = Perfkit(PerfkitSettings(token="s3cret-token", prefix="/ops/perf"))
    with serve(PerfkitMiddleware(sample_app(kit), kit)) as base:
        for i in range(5):
            assert get(f"{base}/echo/{i}") == 200
        driver = browser(1024, 800)
        driver.get(base + "/ops/perf/")
        wait_for(driver, "!document.getElementById('login').hidden")
        assert driver.execute_script("return document.getElementById('app').hidden")

        field = driver.find_element("id", "token")
        field.send_keys("wrong")
        driver.find_element("css selector", "#login button").click()
        wait_for(
            driver, "document.getElementById('login-error').textContent.includes('not accepted')"
        )
        assert driver.execute_script("return sessionStorage.getItem('perfkit.token')") is None

        field.send_keys("s3cret-token")
        driver.find_element("css selector", "#login button").click()
        wait_for(driver, "document.body.dataset.ready === '1'")
        assert driver.execute_script("return sessionStorage.getItem('perfkit.token')") == (
            "s3cret-token"
        )
        assert driver.find_element("css selector", '[data-tile="requests"] .value').text == "5"
        for part in ("cache", "backups", "alerts", "guards"):
            value = driver.find_element("css selector", f'[data-tile="{part}"] .value').text
            assert value == "not in use", (part, value)
        alerts_cell = driver.find_element("css selector", '[data-table="alerts"] td').text
        assert alerts_cell.startswith("not in use")
        guards_tile = driver.find_element("css selector", '[data-tile="guards"] .sub').text
        assert "PERFKIT_RATE_LIMIT" in guards_tile and "PERFKIT_MAX_CONTENT_LENGTH" in guards_tile
        guards_cell = driver.find_element("css selector", '[data-table="guard-endpoints"] td').text
        assert guards_cell.startswith("not in use") and "PERFKIT_RATE_LIMIT" in guards_cell

        # the only console errors are the two refused requests (no token, wrong token)
        messages = severe_console_messages(driver)
        assert messages and all("401" in m and "/ops/perf/api/snapshot" in m for m in messages), (
            messages
        )
        screenshot(driver, tmp_path / "dashboard-token.png")


def test_dashboard_shows_the_request_guards_refusals(
    tmp_path: Path, browser: Callable[[int, int], Any]
) -> None:
    """A rate limit and a body limit from the settings: 429s and 413s in the tile and tables."""
    kit = Perfkit(
        PerfkitSettings(
            rate_limit="3/minute",
            max_content_length=1024,
            trusted_proxies="127.0.0.1",  # the test's clients are told apart by X-Forwarded-For
        )
    )
    statuses: list[int] = []
    with serve(PerfkitMiddleware(sample_app(kit), kit)) as base:
        hostile = base + urllib.parse.quote(HOSTILE)
        # three clients over the limit (3 a minute each), on two endpoints
        for client, url, times in (
            ("203.0.113.7", f"{base}/users/1", 7),
            ("203.0.113.8", hostile, 5),
            ("198.51.100.20", f"{base}/users/2", 4),
        ):
            for _ in range(times):
                statuses.append(get(url, {"X-Forwarded-For": client}))
        # one oversize body from a client still within its limit
        big = {"X-Forwarded-For": "192.0.2.1", "Content-Type": "application/octet-stream"}
        statuses.append(get(f"{base}/users/3", big, b"x" * 4096))
        limited, too_large = statuses.count(429), statuses.count(413)
        assert limited == 4 + 2 + 1 and too_large == 1, statuses
        section = kit.snapshot()["guards"]
        assert sum(section["rate_limited"].values()) == limited

        driver = browser(1280, 900)
        driver.get(base + "/perfkit/")
        wait_for(driver, "document.body.dataset.ready === '1'")
        tile = driver.find_element("css selector", '[data-tile="guards"]')
        assert tile.find_element("css selector", ".value").text == str(limited + too_large)
        sub = tile.find_element("css selector", ".sub").text
        assert f"{limited} rate-limited" in sub and f"{too_large} too large" in sub, sub
        assert tile.get_attribute("data-state") == "crit"  # 8 of 17 guarded requests refused

        def table(name: str) -> tuple[int, list[list[str]]]:
            card = driver.find_element("css selector", f'[data-table="{name}"]')
            cells = [
                [td.text for td in tr.find_elements("css selector", "td")]
                for tr in card.find_elements("css selector", "tbody tr")
            ]
            return int(card.get_attribute("data-rows")), cells

        n, endpoints = table("guard-endpoints")
        assert n == len(section["rate_limited"]) == 2, endpoints
        # most 429s first: /users/{id} (clients .7 and .20), then the hostile path (.8)
        assert endpoints[0][1:] == ["5", "2"] and endpoints[1][1:] == ["2", "1"], endpoints
        shown = {row[0]: int(row[1]) for row in endpoints}
        assert shown == section["rate_limited"]  # the hostile endpoint is shown as text
        assert any("<img src=x onerror=alert(1)>" in name for name in shown)
        assert not driver.execute_script("return document.querySelectorAll('main img').length")
        n, clients = table("guard-clients")
        assert n == 3, clients
        assert "203.0.113.7" in clients[0][0] and clients[0][1] == "4", clients
        assert [row[1] for row in clients] == ["4", "2", "1"]
        info = driver.find_element("id", "guards-info").text
        assert "3/1 minute" in info and "1.0 KB" in info, info
        assert severe_console_messages(driver) == []
        screenshot(driver, tmp_path / "dashboard-guards.png")

        # the guards card stays inside a phone's width
        driver.set_window_size(390, 844)
        widths = wait_for(
            driver,
            "document.documentElement.scrollWidth <= window.innerWidth "
            "&& [document.documentElement.scrollWidth, window.innerWidth]",
        )
        assert widths[1] <= 400, widths
        screenshot(driver, tmp_path / "dashboard-guards-narrow.png")


def test_dashboard_hides_admin_controls_from_the_read_token(
    browser: Callable[[int, int], Any],
) -> None:
    """The read token sees the figures and no admin controls; the admin token can act."""
    kit = Perfkit(PerfkitSettings(token="admin-token", read_token="read-token"))
    with serve(PerfkitMiddleware(sample_app(kit), kit)) as base:
        assert get(f"{base}/echo/1") == 200
        for token, role in (("read-token", "read"), ("admin-token", "admin")):
            driver = browser(1024, 800)
            driver.get(base + "/perfkit/")
            wait_for(driver, "!document.getElementById('login').hidden")
            driver.find_element("id", "token").send_keys(token)
            driver.find_element("css selector", "#login button").click()
            wait_for(driver, "document.body.dataset.ready === '1'")
            assert wait_for(driver, "document.body.dataset.role") == role
            admin = driver.find_element("id", "admin")
            assert admin.is_displayed() is (role == "admin"), role
        driver.find_element("css selector", '#admin button[data-action="cleanup"]').click()
        wait_for(driver, "document.getElementById('admin-result').textContent === 'Cleanup done.'")


def test_dashboard_says_this_worker_only_with_a_per_process_store(
    tmp_path: Path, browser: Callable[[int, int], Any]
) -> None:
    """The server says several workers run (wsgi.multiprocess); the store is memory by choice."""
    kit = Perfkit(PerfkitSettings(metrics_store="memory", data_dir=str(tmp_path / "data")))
    wrapped = PerfkitMiddleware(sample_app(kit), kit)

    def multiprocess_server(environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgi.multiprocess"] = True  # what gunicorn -w 4 says to every request
        return wrapped(environ, start_response)

    with serve(multiprocess_server) as base:
        get(base + "/")
        driver = browser(1280, 900)
        driver.get(base + "/perfkit/")
        note = wait_for(driver, "!document.querySelector('#scope-note').hidden && "
                        "document.querySelector('#scope-note').textContent")  # fmt: skip
        assert note.startswith("This worker only")
        assert "keeps figures per process" in note
        screenshot(driver, tmp_path / "dashboard-scope-note.png")
    healthy = Perfkit(PerfkitSettings(metrics_store="memory"))
    with serve(PerfkitMiddleware(sample_app(healthy), healthy)) as base:
        driver = browser(1280, 900)
        driver.get(base + "/perfkit/")
        wait_for(driver, "document.querySelector('#meta').textContent")
        assert driver.execute_script("return document.querySelector('#scope-note').hidden")
