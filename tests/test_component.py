"""Components: what the kit calls on its parts, perfkit's own and the host app's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.component import METHODS, Component, ForeignComponent
from perfkit.errors import ConfigError
from perfkit.metrics.families import MetricFamily
from perfkit.testing import FakeClock
from perfkit.web.api import ApiRequest, handle


class Recorder(Component):
    """A part that overrides every method and notes each call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")

    def stop(self) -> None:
        self.calls.append("stop")

    def collect(self) -> list[MetricFamily]:
        self.calls.append("collect")
        family = MetricFamily("app_recorder", "gauge", "A test gauge.")
        family.add(1.0)
        return [family]

    def snapshot(self) -> dict[str, Any]:
        self.calls.append("snapshot")
        return {"ok": True}

    def alert_metrics(self) -> dict[str, float | None]:
        self.calls.append("alert_metrics")
        return {"recorder.value": 1.0}

    def reset(self) -> None:
        self.calls.append("reset")

    def cleanup(self) -> dict[str, int]:
        self.calls.append("cleanup")
        return {"dropped": 0}

    def settings_changed(self, settings: PerfkitSettings) -> None:
        self.calls.append("settings_changed")


def test_the_kit_calls_every_method_of_the_protocol() -> None:
    kit = Perfkit(PerfkitSettings(), clock=FakeClock())
    part = Recorder()
    kit.register_component("recorder", part)
    assert kit.components["recorder"] is part  # a Component is kept as it is
    kit.start()
    try:
        assert kit.snapshot()["recorder"] == {"ok": True}
        assert kit.alert_metrics()["recorder.value"] == 1.0
        assert "app_recorder 1" in kit.render_metrics()[1].decode()
        kit.update_settings(slow_request_threshold=2.0)
        assert kit.cleanup()["recorder"] == {"dropped": 0}
        kit.reset()
    finally:
        kit.stop()
    assert sorted(set(part.calls)) == sorted(METHODS)


def test_a_duck_typed_part_is_wrapped_once_and_keeps_working() -> None:
    class OnlySnapshot:
        def snapshot(self) -> dict[str, int]:
            return {"depth": 3}

    kit = Perfkit(PerfkitSettings(), clock=FakeClock())
    obj = OnlySnapshot()
    kit.register_component("queue", obj)
    wrapped = kit.components["queue"]
    assert isinstance(wrapped, ForeignComponent) and wrapped.target is obj
    kit.start()
    kit.stop()
    assert kit.snapshot()["queue"] == {"depth": 3}
    assert kit.cleanup().get("queue") is None and kit.alert_metrics()["requests.rate"] == 0
    assert list(wrapped.collect()) == []


def test_a_wrong_object_under_a_part_name_is_a_clear_error_and_a_404() -> None:
    kit = Perfkit(PerfkitSettings(), clock=FakeClock())
    kit.register_component("cache", object())
    with pytest.raises(ConfigError, match=r"'cache' is .* not a CacheManager"):
        _ = kit.cache
    response = handle(kit, ApiRequest("GET", "/api/cache/stats", client="127.0.0.1"))
    assert response.status == 404
    assert json.loads(response.body)["error"] == "not_available"


def test_perfkit_parts_are_components_not_wrapped(tmp_path: Any) -> None:
    settings = PerfkitSettings(
        cache_backend="memory",
        metrics_store="file",
        metrics_file=str(tmp_path / "metrics.json"),
        rate_limit=None,
        max_content_length="1MiB",
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        backup_dir=str(tmp_path / "backups"),
    )
    kit = Perfkit(settings, clock=FakeClock())
    _ = kit.cache, kit.system, kit.alerts, kit.health_checks, kit.guards, kit.backups
    _ = kit.backup_scheduler
    wrapped = {n: c for n, c in kit.components.items() if isinstance(c, ForeignComponent)}
    assert wrapped == {} and len(kit.components) >= 8, kit.components
