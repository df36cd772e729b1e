"""The dispatcher: a background worker that groups events per notifier and delivers them.

Evaluation only enqueues; delivery happens on the ``perfkit-alerts`` thread.
Events for one notifier that arrive within `group_wait` seconds of the first
are delivered together (one message per channel). Each delivery runs on its
own daemon thread and is abandoned (and logged) after `timeout` seconds, so a
hanging notifier delays neither evaluation nor the other notifiers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from .model import AlertEvent
from .notifiers.base import Notifier, notifier_name

__all__ = ["Dispatcher"]

_log = logging.getLogger("perfkit.alerts")


class Dispatcher:
    """Queues events and delivers them to every notifier off the caller's thread.

    Args:
        group_wait: seconds to collect events into one group per notifier.
        timeout: seconds a notifier's `send` may take before it is abandoned.
        max_queue: events kept waiting at most; more are dropped and counted.
    """

    def __init__(
        self, group_wait: float = 0.0, timeout: float = 10.0, max_queue: int = 1000
    ) -> None:
        for what, value in (("group_wait", group_wait), ("timeout", timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"Dispatcher {what} must be a non-negative number, got {value!r}")
        self.group_wait, self.timeout = float(group_wait), float(timeout)
        self.notifiers: list[Notifier] = []
        self.stats = {"delivered": 0, "failed": 0, "timed_out": 0, "dropped": 0}
        self.last_errors: deque[str] = deque(maxlen=20)
        self._inbox: deque[AlertEvent] = deque()
        self._max_queue = max_queue
        self._groups: dict[int, tuple[float, Notifier, list[AlertEvent]]] = {}
        self._hung: dict[int, threading.Thread] = {}
        self._busy = 0
        self._flushing = False
        self._stopping = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def add_notifier(self, notifier: Notifier) -> None:
        """Deliver future events to `notifier` too."""
        if not callable(getattr(notifier, "send", None)):
            raise ValueError(f"a notifier needs a send(events) method, got {notifier!r}")
        with self._cond:
            self.notifiers.append(notifier)

    def remove_notifier(self, notifier: Notifier) -> bool:
        with self._cond:
            if notifier in self.notifiers:
                self.notifiers.remove(notifier)
                return True
            return False

    def submit(self, events: Sequence[AlertEvent]) -> None:
        """Queue `events` for delivery; returns at once."""
        if not events:
            return
        with self._cond:
            if not self.notifiers:
                return  # nobody to tell; no worker thread needed
            for event in events:
                if len(self._inbox) >= self._max_queue:
                    self.stats["dropped"] += 1
                    continue
                self._inbox.append(event)
            self._ensure_thread()
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="perfkit-alerts", daemon=True)
            self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Deliver everything queued now (ignoring the group window); wait until done.

        Returns False when deliveries are still running after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            if not (self._inbox or self._groups or self._busy):
                return True
            self._flushing = True
            self._ensure_thread()
            self._cond.notify_all()
            while self._inbox or self._groups or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to `timeout`), then end the worker."""
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _take_due(self) -> list[tuple[Notifier, list[AlertEvent]]] | None:
        """Under the lock: group the inbox, return the groups due (None: stop)."""
        while True:
            now = time.monotonic()
            while self._inbox:
                event = self._inbox.popleft()
                for notifier in self.notifiers:
                    key = id(notifier)
                    if key not in self._groups:
                        self._groups[key] = (now + self.group_wait, notifier, [])
                    self._groups[key][2].append(event)
            due = [k for k, (at, _, _) in self._groups.items() if at <= now or self._flushing]
            if due:
                self._busy += 1
                return [self._groups.pop(k)[1:] for k in due]
            self._flushing = False
            self._cond.notify_all()  # wake flush(): nothing is pending any more
            if self._stopping:
                return None
            wait = min((at for at, _, _ in self._groups.values()), default=now + 3600) - now
            self._cond.wait(max(wait, 0.001))

    def _run(self) -> None:
        while True:
            with self._cond:
                due = self._take_due()
            if due is None:
                return
            try:
                self._deliver(due)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _deliver(self, due: list[tuple[Notifier, list[AlertEvent]]]) -> None:
        """Send each group on its own thread; wait for all up to the timeout."""
        started: list[tuple[Notifier, threading.Thread, dict[str, Any]]] = []
        for notifier, events in due:
            name, key = notifier_name(notifier), id(notifier)
            hung = self._hung.get(key)
            if hung is not None and hung.is_alive():
                self._fail(
                    "timed_out", f"{name}: previous delivery still hung; {len(events)} dropped"
                )
                continue
            outcome: dict[str, Any] = {}
            thread = threading.Thread(
                target=_send,
                args=(notifier, events, outcome),
                name=f"perfkit-notify-{name}",
                daemon=True,
            )
            thread.start()
            started.append((notifier, thread, outcome))
        deadline = time.monotonic() + self.timeout
        for notifier, thread, outcome in started:
            thread.join(max(deadline - time.monotonic(), 0.0))
            name = notifier_name(notifier)
            if thread.is_alive():
                self._hung[id(notifier)] = thread  # abandoned; it is a daemon thread
                self._fail("timed_out", f"{name}: no answer after {self.timeout:g}s; abandoned")
            elif "error" in outcome:
                exc = outcome["error"]
                self._fail("failed", f"{name}: {type(exc).__name__}: {exc}")
            else:
                self.stats["delivered"] += 1

    def _fail(self, kind: str, message: str) -> None:
        self.stats[kind] += 1
        self.last_errors.append(message)
        _log.error("perfkit alert notifier %s: %s", kind.replace("_", " "), message)

    def status(self) -> dict[str, Any]:
        """Counters, queue length, notifier names and the last errors."""
        with self._cond:
            return {
                **self.stats,
                "queued": len(self._inbox) + sum(len(g[2]) for g in self._groups.values()),
                "notifiers": [notifier_name(n) for n in self.notifiers],
                "last_errors": list(self.last_errors),
            }


def _send(notifier: Notifier, events: list[AlertEvent], outcome: dict[str, Any]) -> None:
    try:
        notifier.send(events)
    except BaseException as exc:  # reported by the dispatcher thread, not lost
        outcome["error"] = exc
