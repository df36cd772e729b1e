"""Settings: defaults, environment parsing, and errors that name the variable."""

from __future__ import annotations

import dataclasses

import pytest

from perfkit import ConfigError, PerfkitSettings


def test_defaults_are_valid_and_from_env_reads_variables() -> None:
    settings = PerfkitSettings.from_env(
        {
            "PERFKIT_PREFIX": "/ops/",
            "PERFKIT_SLOW_REQUEST_THRESHOLD": "0.75",
            "PERFKIT_MAX_ENDPOINTS": "50",
            "PERFKIT_METRICS_PUBLIC": "off",
            "PERFKIT_HISTOGRAM_BUCKETS": "0.1, 0.5, 2",
            "PERFKIT_TOKEN": "s3cret",
            "UNRELATED": "x",
        }
    )
    assert settings.prefix == "/ops"
    assert settings.slow_request_threshold == 0.75
    assert settings.max_endpoints == 50
    assert settings.metrics_public is False
    assert settings.histogram_buckets == (0.1, 0.5, 2.0)
    assert settings.to_dict()["token"] == "***"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("PERFKIT_SLOW_REQUEST_THRESHOLD", "fast", "expected a number"),
        ("PERFKIT_SLOW_REQUEST_THRESHOLD", "-1", "must be >= 0"),
        ("PERFKIT_MAX_ENDPOINTS", "1.5", "expected an integer"),
        ("PERFKIT_MAX_ENDPOINTS", "0", "must be >= 1"),
        ("PERFKIT_METRICS_PUBLIC", "maybe", "true/false"),
        ("PERFKIT_PREFIX", "perfkit", "starting with '/'"),
        ("PERFKIT_PREFIX", "/", "root"),
        ("PERFKIT_HISTOGRAM_BUCKETS", "1,0.5", "increasing"),
        ("PERFKIT_LOG_LEVEL", "LOUD", "DEBUG, INFO"),
        ("PERFKIT_MONITORING_INTERVAL", "nan", "finite"),
    ],
)
def test_bad_values_name_the_variable_and_the_expected_form(
    variable: str, value: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        PerfkitSettings.from_env({variable: value})
    assert variable in str(caught.value)
    assert fragment in str(caught.value)


def test_every_field_has_an_env_variable_and_round_trips() -> None:
    """Each field's default, written the way the environment would, parses back to itself."""
    for field in dataclasses.fields(PerfkitSettings):
        default = getattr(PerfkitSettings(), field.name)
        if default is None:
            continue
        if isinstance(default, bool):
            raw = "true" if default else "false"
        elif isinstance(default, tuple):
            raw = ",".join(str(v) for v in default)
        else:
            raw = str(default)
        parsed = PerfkitSettings.from_env({f"PERFKIT_{field.name.upper()}": raw})
        assert getattr(parsed, field.name) == default, field.name


def test_unknown_override_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        PerfkitSettings.from_env({}, not_a_setting=1)


def test_urls_are_masked_in_to_dict() -> None:
    settings = PerfkitSettings(redis_url="redis://user:pw@host:6379/0")
    assert settings.to_dict()["redis_url"] == "redis://user:***@host:6379/0"
