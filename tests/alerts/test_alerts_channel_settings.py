"""The notify_* settings: parsed, validated at start with errors naming the setting, and
never shown with their secrets (repr, str, GET /api/config, error messages)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfkit import Perfkit, PerfkitSettings
from perfkit.alerts.channels import notifiers_from_settings, parse_smtp_url
from perfkit.alerts.notifiers import EmailNotifier, WebhookNotifier
from perfkit.errors import ConfigError
from perfkit.web.api import handle
from perfkit.web.context import ApiRequest


@pytest.mark.parametrize(
    ("url", "host", "port", "user", "password", "tls", "starttls"),
    [
        ("smtp://mail.example.com", "mail.example.com", 25, None, None, False, False),
        ("smtp://u:p@mail:2525", "mail", 2525, "u", "p", False, False),
        ("smtp://u:p@mail?starttls=1", "mail", 587, "u", "p", False, True),
        ("smtps://u:p%40ss@mail", "mail", 465, "u", "p@ss", True, False),
        ("smtp://a%2Bb%40x.org:%3A%2F@[::1]:26?starttls=true", "::1", 26, "a+b@x.org", ":/",
         False, True),
    ],
)  # fmt: skip
def test_smtp_urls(
    url: str, host: str, port: int, user: str | None, password: str | None, tls: bool,
    starttls: bool,
) -> None:  # fmt: skip
    target = parse_smtp_url(url)
    assert (target.host, target.port, target.username, target.password) == (
        host, port, user, password,
    )  # fmt: skip
    assert (target.tls, target.starttls) == (tls, starttls)
    assert password is None or f"password={password!r}" not in repr(target)


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)


@given(user=_TEXT, password=_TEXT)
def test_any_percent_encoded_credentials_come_back_as_given(user: str, password: str) -> None:
    """Whatever the user and password hold, percent-encoding gets them through the URL."""
    url = f"smtp://{quote(user, safe='')}:{quote(password, safe='')}@mail.example.com:25"
    target = parse_smtp_url(url)
    assert (target.username, target.password) == (user, password)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"PERFKIT_NOTIFY_SMTP_URL": "http://mail"}, "PERFKIT_NOTIFY_SMTP_URL"),
        ({"PERFKIT_NOTIFY_SMTP_URL": "smtp://:25"}, "no host"),
        ({"PERFKIT_NOTIFY_SMTP_URL": "smtp://mail:99999"}, "port"),
        ({"PERFKIT_NOTIFY_SMTP_URL": "smtp://mail?tls=1"}, "unknown option"),
        ({"PERFKIT_NOTIFY_SMTP_URL": "smtp://mail?starttls=maybe"}, "starttls"),
        ({"PERFKIT_NOTIFY_SMTP_URL": "smtps://mail?starttls=1"}, "smtps is TLS already"),
        ({"PERFKIT_NOTIFY_SMTP_URL": "smtp://mail?cafile=/no/such.pem"}, "cafile"),
        ({"PERFKIT_NOTIFY_SMTP_URL": "smtp://user@mail"}, "both user and password"),
        ({"PERFKIT_NOTIFY_EMAIL_TO": "ops@example.com, nobody"}, "PERFKIT_NOTIFY_EMAIL_TO"),
        ({"PERFKIT_NOTIFY_EMAIL_FROM": "a@b.c, d@e.f"}, "one sender"),
        ({"PERFKIT_NOTIFY_WEBHOOK_URL": "https://ok.example.com,ftp://x"}, "ftp://x"),
        ({"PERFKIT_NOTIFY_WEBHOOK_FORMAT": "discord"}, "json, slack, teams"),
        (
            {"PERFKIT_NOTIFY_SMTP_URL": "smtp://mail", "PERFKIT_NOTIFY_EMAIL_TO": "a@b.c"},
            "PERFKIT_NOTIFY_EMAIL_FROM",
        ),
    ],
)
def test_a_misconfigured_channel_fails_at_start_naming_the_setting(
    env: dict[str, str], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle.replace("?", r"\?")) as info:
        PerfkitSettings.from_env(env)
    assert "(PERFKIT_NOTIFY_" in str(info.value), info.value  # the setting is named


def test_errors_and_views_never_show_the_secrets() -> None:
    """The SMTP password, the webhook secret and the secret part of webhook URLs stay hidden."""
    with pytest.raises(ConfigError) as info:
        PerfkitSettings(notify_smtp_url="smtp://u:hunter2@mail:notaport")
    assert "hunter2" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        PerfkitSettings(notify_webhook_url="https://hooks.slack.com/services/T1/B2/XYZ,gopher://q")
    assert "XYZ" not in str(info.value)

    settings = PerfkitSettings(
        token="t",
        notify_smtp_url="smtp://alerts:hunter2@mail:587?starttls=1",
        notify_email_from="perfkit@example.com",
        notify_email_to="ops@example.com",
        notify_webhook_url="https://hooks.slack.com/services/T1/B2/XYZ,http://10.0.0.5:9000/hook",
        notify_webhook_format="slack",
        notify_webhook_secret="sign-me",
    )
    kit = Perfkit(settings)
    response = handle(
        kit, ApiRequest("GET", "/api/config", "", {"authorization": "Bearer t"}, b"", "10.0.0.1")
    )
    shown = json.loads(response.body)["settings"]
    assert shown["notify_smtp_url"] == "smtp://alerts:***@mail:587?starttls=1"
    assert shown["notify_webhook_url"] == "https://hooks.slack.com/***,http://10.0.0.5:9000/***"
    assert shown["notify_webhook_secret"] == "***"
    for text in (repr(settings), str(settings), response.body.decode()):
        for secret in ("hunter2", "XYZ", "sign-me"):
            assert secret not in text
    kit.alerts.stop()


def test_the_settings_build_the_channels() -> None:
    """One e-mail notifier for all recipients and one webhook notifier per URL."""
    settings = PerfkitSettings(
        notify_smtp_url="smtp://u:p@mail?starttls=1",
        notify_email_from="perfkit@example.com",
        notify_email_to=" ops@example.com ,dev@example.com",
        notify_webhook_url="https://a.example.com/x, https://b.example.com/y",
        notify_webhook_format="teams",
        notify_webhook_secret="s",
    )
    email, *hooks = notifiers_from_settings(settings)
    assert isinstance(email, EmailNotifier)
    assert (email.host, email.port, email.starttls, email.tls) == ("mail", 587, True, False)
    assert email.recipients == ["ops@example.com", "dev@example.com"]
    assert [(h.url, h.format, h.secret) for h in hooks if isinstance(h, WebhookNotifier)] == [
        ("https://a.example.com/x", "teams", "s"), ("https://b.example.com/y", "teams", "s"),
    ]  # fmt: skip
    assert notifiers_from_settings(PerfkitSettings()) == []


def test_teams_payload_is_one_adaptive_card() -> None:
    from perfkit.alerts import Alert, AlertEvent

    alert = Alert("disk", "critical", "firing", 97.0, 95.0, "Disk is 97%", started_at=0.0)
    payload = WebhookNotifier("https://t.example.com/w", format="teams").payload(
        [AlertEvent(alert, "firing", 0.0)]
    )
    (attachment,) = payload["attachments"]
    assert payload["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    texts = [block["text"] for block in attachment["content"]["body"]]
    assert "[CRITICAL] disk firing: Disk is 97%" in texts


def test_alerts_are_logged_with_no_configuration(caplog: pytest.LogCaptureFixture) -> None:
    """The log notifier is always on; the resolution reads as one, not as the firing text."""
    import logging

    from perfkit.alerts import AlertManager, AlertRule
    from perfkit.testing import FakeClock

    metrics = {"queue.depth": 30.0}
    clock = FakeClock()
    manager = AlertManager(lambda: metrics, clock=clock, rules=[])
    manager.add_alert_rule(AlertRule("queue", "queue.depth", 10.0, 20.0), check_metric=False)
    with caplog.at_level(logging.INFO, logger="perfkit.alerts"):
        manager.evaluate()
        assert manager.dispatcher.flush(10)
        metrics["queue.depth"] = 2.0
        clock.advance(10)
        manager.evaluate()
        assert manager.dispatcher.flush(10)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "perfkit.alerts"]
    assert lines == [
        ("ERROR", "[CRITICAL] queue firing: queue: queue.depth is 30 (> 20, critical)"),
        ("INFO", "[RESOLVED] queue resolved: queue is resolved: now 2, back within 20"),
    ]
    manager.stop()
