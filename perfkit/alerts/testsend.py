"""Test notifications: one test alert through every notifier, each outcome reported.

Used by ``POST /api/alerts/test`` and ``perfkit test-alert --send``. Unlike
normal delivery this waits for the answers (an admin is looking at them), but
each notifier still runs on its own thread, so one that hangs delays the
report by at most `timeout` and never the others' outcomes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from .model import Alert, AlertEvent
from .notifiers.base import Notifier, notifier_name

__all__ = ["send_test"]


def probe_event(now: float, origin: str) -> AlertEvent:
    """The test alert: an info-level event whose labels say it is a test and who asked."""
    alert = Alert(
        "perfkit_test", "info", "firing", None, None,
        f"Test notification from perfkit ({origin}): if you read this, alerts reach you.",
        started_at=now, labels={"test": "true", "origin": origin}, source="test",
    )  # fmt: skip
    return AlertEvent(alert, "firing", now, test=True)


def send_test(
    notifiers: Sequence[Notifier], now: float, origin: str = "api", timeout: float = 30.0
) -> dict[str, Any]:
    """Send one test event to each of `notifiers`; ``{ok, results: [{notifier, sent, error,
    seconds}]}``, where `ok` is True when every notifier delivered."""
    event = probe_event(now, origin)
    runs: list[tuple[Notifier, threading.Thread, dict[str, Any]]] = []
    for notifier in notifiers:
        outcome: dict[str, Any] = {"started": time.perf_counter()}
        thread = threading.Thread(
            target=_deliver, args=(notifier, event, outcome), daemon=True,
            name=f"perfkit-test-{notifier_name(notifier)}",
        )  # fmt: skip
        thread.start()
        runs.append((notifier, thread, outcome))
    deadline = time.monotonic() + timeout
    results = []
    for notifier, thread, outcome in runs:
        thread.join(max(deadline - time.monotonic(), 0.0))
        error = outcome.get("error")
        if thread.is_alive():
            error = f"no answer after {timeout:g} s"  # abandoned: a daemon thread
        seconds = outcome.get("finished", time.perf_counter()) - outcome["started"]
        results.append(
            {"notifier": notifier_name(notifier), "sent": error is None, "error": error,
             "seconds": round(seconds, 3)}
        )  # fmt: skip
    return {"ok": all(r["sent"] for r in results), "results": results}


def _deliver(notifier: Notifier, event: AlertEvent, outcome: dict[str, Any]) -> None:
    try:
        notifier.send([event])
    except Exception as exc:  # the outcome is the report
        outcome["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        outcome["finished"] = time.perf_counter()
