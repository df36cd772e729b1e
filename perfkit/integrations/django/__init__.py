"""Django: one app and one middleware.

.. code-block:: python

    INSTALLED_APPS = [..., "perfkit.integrations.django"]
    MIDDLEWARE = ["perfkit.integrations.django.PerfkitMiddleware", ...]  # first
    PERFKIT = {"TOKEN": "...", "SLOW_REQUEST_THRESHOLD": 1.0}             # optional

The app builds the kit from ``settings.PERFKIT`` over the ``PERFKIT_*``
environment, makes it the default kit and times every database query; the
middleware records requests by their URL pattern, their exceptions and users,
and serves the perfkit endpoints under the prefix. ``manage.py perfkit
<command>`` and ``manage.py monitor_performance`` work locally.

Importing this package imports no Django; the middleware is loaded on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PerfkitMiddleware"]


def __getattr__(name: str) -> Any:
    if name == "PerfkitMiddleware":
        from .middleware import PerfkitMiddleware

        return PerfkitMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
