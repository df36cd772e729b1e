"""One source of thresholds: alert_*_threshold (warning) and alert_*_critical decide the
default rules, /health (critical: 503) and `perfkit health-check` (exit 0/1/2), checked at
each boundary."""

from __future__ import annotations

from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.cli import main
from perfkit.errors import ConfigError
from perfkit.system import SystemMonitor, history_length, thresholds_from_settings
from perfkit.testing import FakeClock
from perfkit.web.api import handle
from perfkit.web.context import ApiRequest
from perfkit.wsgi import PerfkitMiddleware
from tests.conftest import serve_wsgi
from tests.system.test_system_monitor import FakePsutil

SETTINGS = PerfkitSettings(
    alert_cpu_threshold=70.0, alert_cpu_critical=90.0,
    alert_memory_threshold=60.0, alert_memory_critical=80.0,
    alert_disk_threshold=50.0, alert_disk_critical=75.0,
)  # fmt: skip
# (metric, warning, critical) as set above; each is checked with the others at rest
LEVELS = [("cpu", 70.0, 90.0), ("memory", 60.0, 80.0), ("disk", 50.0, 75.0)]
REST = {"cpu": 10.0, "memory": 20.0, "disk": 30.0}


class Machine:
    """A kit whose system monitor reads a fake psutil; `set()` puts the three figures."""

    def __init__(self) -> None:
        self.ps, self.clock = FakePsutil(), FakeClock()
        self.kit = Perfkit(SETTINGS, clock=self.clock)
        warning, critical = thresholds_from_settings(SETTINGS)
        monitor = SystemMonitor(
            warning, critical, disk_paths=["/"], psutil_module=self.ps, clock=self.clock
        )
        self.kit.register_component("system", monitor)

    def set(self, cpu: float, memory: float, disk: float) -> None:
        self.ps.busy += cpu  # 100 s of CPU time: `cpu` busy, the rest idle
        self.ps.idle += 100.0 - cpu
        self.ps.ram_percent, self.ps.disk_percent = memory, {"/": disk}
        self.clock.advance(10)  # past the health cache (5 s)
        self.kit.system.sample()


def figures(kind: str, value: float) -> dict[str, float]:
    return {**REST, kind: value}


CASES = [
    (kind, value, status)
    for kind, warning, critical in LEVELS
    for value, status in (
        (warning - 0.01, "healthy"),
        (warning, "warning"),
        (critical - 0.01, "warning"),
        (critical, "critical"),
    )
]


@pytest.mark.parametrize(("kind", "value", "status"), CASES)
def test_health_and_rules_agree_at_each_boundary(kind: str, value: float, status: str) -> None:
    """/health's status and code, and the default rule's severity, at both levels."""
    machine = Machine()
    machine.set(**figures(kind, value))
    response = handle(machine.kit, ApiRequest("GET", "/health", "", {}, b"", "10.0.0.1"))
    import json

    report = json.loads(response.body)
    assert report["status"] == status, report
    assert response.status == (503 if status == "critical" else 200)
    metric = {"cpu": "system.cpu_percent", "memory": "system.memory_percent"}.get(
        kind, "system.disk_percent"
    )
    rule = next(r for r in machine.kit.alerts.rules.values() if r.metric == metric)
    check = rule.check(machine.kit.alert_metrics(), firing=False)
    assert (check.severity if check.breached else "healthy") == status


def test_health_check_command_exits_0_1_2_against_a_real_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`perfkit health-check` reads /health over HTTP: healthy 0, warning 1, critical 2."""
    machine = Machine()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b""]

    with serve_wsgi(PerfkitMiddleware(app, machine.kit)) as port:
        url = f"http://127.0.0.1:{port}/perfkit"
        codes = []
        for disk in (49.99, 50.0, 74.99, 75.0):
            machine.set(cpu=10.0, memory=20.0, disk=disk)
            codes.append(main(["health-check", "--url", url]))
        assert codes == [0, 1, 1, 2]
    out = capsys.readouterr().out
    assert "critical" in out.splitlines()[-1]


def test_health_check_local_uses_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """--local applies this shell's PERFKIT_ALERT_* levels: 0 % critical is always critical."""
    for kind in ("CPU", "MEMORY", "DISK"):
        monkeypatch.setenv(f"PERFKIT_ALERT_{kind}_THRESHOLD", "0")
        monkeypatch.setenv(f"PERFKIT_ALERT_{kind}_CRITICAL", "0")
    assert main(["health-check", "--local"]) == 2


def test_kit_builds_its_monitor_from_the_settings() -> None:
    """kit.system takes the levels and the history length from the settings."""
    settings = SETTINGS.replace(system_history_hours=2.0, monitoring_interval=30.0)
    monitor = Perfkit(settings).system
    assert monitor.warning_threshold == {"cpu": 70.0, "ram": 60.0, "disk": 50.0}
    assert monitor.critical_threshold == {"cpu": 90.0, "ram": 80.0, "disk": 75.0}
    assert monitor.history.maxlen == history_length(settings) == 240
    assert history_length(PerfkitSettings()) == 8640  # 24 h at 10 s by default


def test_warning_past_critical_is_refused_naming_both_settings() -> None:
    with pytest.raises(
        ConfigError, match=r"PERFKIT_ALERT_DISK_THRESHOLD.*PERFKIT_ALERT_DISK_CRITICAL"
    ):
        PerfkitSettings(alert_disk_threshold=96.0)
