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

from .body import RequestBodyTooLarge
from .clients import TrustedProxies
from .limiter import Decision, RateLimiter
from .policy import ALWAYS_EXEMPT, Guards
from .spec import LimitSpec, parse_rate_limits, parse_size
from .stats import GuardStats

__all__ = [
    "ALWAYS_EXEMPT",
    "Decision",
    "GuardStats",
    "Guards",
    "LimitSpec",
    "RateLimiter",
    "RequestBodyTooLarge",
    "TrustedProxies",
    "parse_rate_limits",
    "parse_size",
]
