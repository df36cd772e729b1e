"""Request guards: per-client rate limits and a body-size limit, inside perfkit's middleware.

```python
from perfkit.guards import Guards
app = PerfkitMiddleware(app, kit, guards=Guards("100/minute", max_content_length="16MiB"))
```

or from the settings (``PERFKIT_RATE_LIMIT``, ``PERFKIT_MAX_CONTENT_LENGTH``,
``PERFKIT_TRUSTED_PROXIES``): `kit.guards`, used by the middleware when no
`guards=` is given. Rate limits need ``pip install perfkit[guards]`` (the
`limits` library); with ``PERFKIT_REDIS_URL`` they hold across the fleet.

Behaviour worth knowing:

- Refusals are answered inside perfkit's timing, so a 429 or 413 is measured
  like any response (``app_requests_total{status="429"}``) and also counted in
  ``app_rate_limited_total{endpoint}`` / ``app_request_too_large_total``.
- Redis down: each process falls back to its own in-memory counters at once
  (during the outage a fleet of N processes allows up to N times the limit);
  a background probe switches back when Redis answers. Requests never fail
  and never wait for a dead Redis (`perfkit.guards.limiter`).
- Client addresses: a forwarding header is believed only from
  ``trusted_proxies`` (`perfkit.guards.clients`). Servers may rewrite the peer
  address themselves: uvicorn does so from ``X-Forwarded-For`` for 127.0.0.1 by
  default (``--proxy-headers``); run it with ``--no-proxy-headers`` and let
  perfkit decide, or trust the same proxies in both places.
- The ``RateLimit-*`` headers follow draft-ietf-httpapi-ratelimit-headers-07.
- Paths excluded from monitoring (``exclude=``) are not guarded either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .body import RequestBodyTooLarge
from .clients import TrustedProxies
from .limiter import Decision, RateLimiter
from .policy import ALWAYS_EXEMPT, Guards
from .spec import LimitSpec, parse_rate_limits, parse_size
from .stats import GuardStats

if TYPE_CHECKING:
    from ..alerts.rules import AlertRule
    from ..kit import Perfkit

__all__ = [
    "ALWAYS_EXEMPT",
    "Decision",
    "GuardStats",
    "Guards",
    "LimitSpec",
    "RateLimiter",
    "RequestBodyTooLarge",
    "TrustedProxies",
    "guard_alert_rules",
    "guard_recommendations",
    "guards_from_settings",
    "parse_rate_limits",
    "parse_size",
]


def guards_from_settings(kit: Perfkit) -> Guards | None:
    """The kit's guards from its settings, bound and registered; None when none is enabled."""
    guards = Guards.from_settings(kit.settings)
    return guards.bind(kit) if guards.enabled else None


def guard_alert_rules() -> list[AlertRule]:
    """The default rule on ``guards.rejection_rate``: warning at 10 %, critical at 25 %
    of guarded requests refused (429 or 413) over the last five minutes."""
    from ..alerts.rules import AlertRule

    return [
        AlertRule(
            "high_rejection_rate", "guards.rejection_rate", 10.0, 25.0,
            message_template="{value:.1f}% of requests refused by rate or size limits "
            "(threshold {threshold:g}%)",
        )
    ]  # fmt: skip


def guard_recommendations(snapshot: dict[str, object]) -> list[str]:
    """Sentences for ``/api/recommendations`` from the snapshot's ``guards`` section."""
    section = snapshot.get("guards")
    if not isinstance(section, dict):
        return []
    tips: list[str] = []
    by_endpoint = section.get("limited_clients_by_endpoint") or {}
    limited = section.get("rate_limited") or {}
    for endpoint, clients in sorted(by_endpoint.items(), key=lambda kv: -kv[1])[:3]:
        tips.append(
            f"{clients} client{'s' if clients != 1 else ''} hit the rate limit on {endpoint} "
            f"({limited.get(endpoint, 0)} requests refused): raise the limit if they are "
            "legitimate, or look for abusive clients."
        )
    too_large = section.get("too_large") or 0
    if too_large:
        tips.append(
            f"{too_large} request{'s' if too_large != 1 else ''} refused for a body above "
            f"{section.get('max_content_length')} bytes: raise max_content_length if uploads "
            "are legitimate."
        )
    return tips
