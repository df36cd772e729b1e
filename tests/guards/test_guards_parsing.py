"""Parsing of guard settings and forwarded headers: limit strings, sizes, proxies, clients."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfkit import PerfkitSettings
from perfkit.errors import ConfigError
from perfkit.guards import Guards, LimitSpec, TrustedProxies, parse_rate_limits, parse_size
from perfkit.guards.clients import forwarded_for


def test_limit_strings_parse_into_specs() -> None:
    """Single, multiple, 'per' and multiples forms give amounts and windows in seconds."""
    assert parse_rate_limits("100/minute") == (LimitSpec(100, 1, "minute"),)
    specs = parse_rate_limits("10/second; 1000 per hour, 5/10 minutes|2/day")
    assert [(s.amount, s.seconds) for s in specs] == [(10, 1), (1000, 3600), (5, 600), (2, 86400)]
    assert str(specs[2]) == "5/10 minute"


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "100", "100/fortnight", "0/minute", "-1/minute", "ten/minute", "1/0 seconds",
     "1/minute;", "1/1000 years", "1/s;" * 9],
)  # fmt: skip
def test_malformed_limit_strings_are_refused_with_the_form(bad: str) -> None:
    """A bad limit string raises ValueError saying the expected form."""
    with pytest.raises(ValueError, match="rate limit"):
        parse_rate_limits(bad)


@given(st.text(max_size=60))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    """Arbitrary text never raises anything but ValueError, and parsed specs are sane."""
    try:
        specs = parse_rate_limits(text)
    except ValueError:
        return
    assert specs and all(s.amount >= 1 and 1 <= s.seconds <= 366 * 86400 for s in specs)


@given(st.integers(1, 10**9), st.integers(1, 100), st.sampled_from(["second", "minute", "hour"]))
def test_canonical_text_round_trips(amount: int, multiples: int, unit: str) -> None:
    """A spec's canonical text parses back to the same spec."""
    spec = LimitSpec(amount, multiples, unit)
    assert parse_rate_limits(spec.text) == (spec,)


def test_sizes_parse_with_units_and_refuse_absurd_values() -> None:
    """Bytes, kB/MB and KiB/MiB forms; zero, negative, > 1 TiB and garbage are refused."""
    assert parse_size(1024) == 1024
    assert parse_size("16MiB") == 16 * 1024 * 1024
    assert parse_size("10 MB") == 10_000_000
    assert parse_size("512k") == 512_000
    for bad in (0, -1, "-5", "2TiB", "lots", True, 1.5, "1e9"):
        with pytest.raises(ValueError, match="size"):
            parse_size(bad)  # type: ignore[arg-type]


def test_settings_read_guard_variables_and_name_them_when_bad() -> None:
    """PERFKIT_RATE_LIMIT, _MAX_CONTENT_LENGTH and _TRUSTED_PROXIES are validated and normalised."""
    settings = PerfkitSettings.from_env(
        {
            "PERFKIT_RATE_LIMIT": "10/second;1000/hour",
            "PERFKIT_MAX_CONTENT_LENGTH": "16MiB",
            "PERFKIT_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16",
            "PERFKIT_RATE_LIMIT_KEY": "user",
            "PERFKIT_RATE_LIMIT_HEADERS": "false",
        }
    )
    assert settings.rate_limit == "10/1 second;1000/1 hour"
    assert settings.max_content_length == 16 * 1024 * 1024
    assert settings.trusted_proxies == "10.0.0.1/32,192.168.0.0/16"
    assert (settings.rate_limit_key, settings.rate_limit_headers) == ("user", False)
    assert PerfkitSettings().rate_limit is None and PerfkitSettings().max_content_length is None
    cases = {
        "PERFKIT_RATE_LIMIT": "100/fortnight",
        "PERFKIT_MAX_CONTENT_LENGTH": "-3",
        "PERFKIT_TRUSTED_PROXIES": "10.0.0.1,not-an-ip",
        "PERFKIT_RATE_LIMIT_KEY": "cookie",
    }
    for var, value in cases.items():
        with pytest.raises(ConfigError, match=var):
            PerfkitSettings.from_env({var: value})


def test_guards_refuse_bad_arguments_clearly() -> None:
    """Bad route limits, keys, strategies, proxies and sizes are ConfigErrors."""
    with pytest.raises(ConfigError, match="route '/login'"):
        Guards(routes={"/login": "5/fortnight"})
    with pytest.raises(ConfigError, match="key"):
        Guards("1/second", key="cookie")
    with pytest.raises(ConfigError, match="strategy"):
        Guards("1/second", strategy="token-bucket")
    with pytest.raises(ConfigError, match="trusted proxy 'nope'"):
        Guards("1/second", trusted_proxies="nope")
    with pytest.raises(ConfigError, match="size"):
        Guards(max_content_length=-1)
    assert not Guards().enabled and Guards(max_content_length=10).enabled


def test_forwarded_header_is_only_believed_from_trusted_proxies() -> None:
    """Untrusted peer: the header is ignored; trusted: the rightmost untrusted hop is the client."""
    proxies = TrustedProxies("10.0.0.0/8, ::1")
    assert proxies.client("203.0.113.5", "1.2.3.4") == "203.0.113.5"  # spoof from the internet
    assert proxies.client("10.0.0.2", "1.2.3.4, 198.51.100.7") == "198.51.100.7"
    assert proxies.client("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.9") == "198.51.100.7"
    assert proxies.client("10.0.0.2", "10.1.1.1, 10.0.0.9") == "10.1.1.1"  # all proxies
    assert proxies.client("10.0.0.2", "garbage, 10.0.0.9") == "10.0.0.9"  # stop at garbage
    assert proxies.client("::1", "2001:db8::1") == "2001:db8::1"
    assert proxies.client("::ffff:10.0.0.2", "198.51.100.7") == "198.51.100.7"
    assert proxies.client(None, "1.2.3.4") == "unknown"
    assert TrustedProxies().client("10.0.0.2", "1.2.3.4") == "10.0.0.2"  # none trusted


def test_rfc7239_forwarded_values_are_parsed() -> None:
    """for= with ports, quoted IPv6, obfuscated ids; 'unknown' and garbage end the chain."""
    value = 'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"'
    assert forwarded_for(value) == ["192.0.2.60", "2001:db8:cafe::17"]
    assert forwarded_for('for="198.51.100.1:8080", for=_hidden-1') == ["198.51.100.1", "_hidden-1"]
    assert forwarded_for("for=unknown, proto=https") == [None, None]
    assert forwarded_for("for=1.2.3.4 junk")[-1] is None
    proxies = TrustedProxies("10.0.0.0/8", header="forwarded")
    assert proxies.client("10.0.0.1", "for=1.2.3.4, for=5.6.7.8") == "5.6.7.8"
    assert proxies.client("10.0.0.1", "for=5.6.7.8, for=unknown") == "10.0.0.1"
    with pytest.raises(ValueError, match="proxy header"):
        TrustedProxies(header="x-real-ip")


@given(st.text(max_size=200), st.ip_addresses(v=4))
def test_any_header_yields_an_address_and_untrusted_peers_are_never_overridden(
    header: str, peer: ipaddress.IPv4Address
) -> None:
    """Whatever the header holds, parsing never fails; an untrusted peer is always the client."""
    for kind in ("x-forwarded-for", "forwarded"):
        proxies = TrustedProxies("10.0.0.0/8", header=kind)
        client = proxies.client(str(peer), header)
        if not proxies.trusted(str(peer)):
            assert client == str(peer)
        assert client and len(client) <= 64
