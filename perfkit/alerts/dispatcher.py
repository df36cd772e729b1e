"""The dispatcher: one lane per notifier, each with its own worker thread and timeout.

Evaluation only enqueues. Every notifier has a lane: a queue and a worker
thread (``perfkit-notify-<name>``) that groups the events arriving within
`group_wait` seconds of the first and delivers them in one `send`. A send runs
on a thread of its own and is abandoned (logged, counted) after `timeout`
seconds. Lanes share nothing but a lock held only to move events, so a notifier
that hangs or fails delays neither evaluation nor any other notifier: the others
deliver at once, not when the slow one gives up.
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


class _Lane:
    """One notifier's queue, worker thread and the delivery it may have abandoned."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.name = notifier_name(notifier)
        self.inbox: deque[AlertEvent] = deque()
        self.due_at = 0.0  # when the group that the first queued event opened is sent
        self.busy = False
        self.closed = False  # removed from the dispatcher
        self.generation = 0  # bumped by stop(): older workers end
        self.thread: threading.Thread | None = None
        self.hung: threading.Thread | None = None


class Dispatcher:
    """Queues events and delivers them to every notifier off the caller's thread.

    Args:
        group_wait: seconds to collect events into one group per notifier.
        timeout: seconds a notifier's `send` may take before it is abandoned.
        max_queue: events kept waiting per notifier at most; more are dropped and counted.
    """

    def __init__(
        self, group_wait: float = 0.0, timeout: float = 10.0, max_queue: int = 1000
    ) -> None:
        for what, value in (("group_wait", group_wait), ("timeout", timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"Dispatcher {what} must be a non-negative number, got {value!r}")
        self.group_wait, self.timeout = float(group_wait), float(timeout)
        self.stats = {"delivered": 0, "failed": 0, "timed_out": 0, "dropped": 0}
        self.last_errors: deque[str] = deque(maxlen=20)
        self._lanes: list[_Lane] = []
        self._max_queue = max_queue
        self._flushing = 0  # flush() calls waiting: deliver now, ignore the group window
        self._cond = threading.Condition()

    @property
    def notifiers(self) -> list[Notifier]:
        """The notifiers events go to, in the order they were added."""
        with self._cond:
            return [lane.notifier for lane in self._lanes]

    def add_notifier(self, notifier: Notifier) -> None:
        """Deliver future events to `notifier` too."""
        if not callable(getattr(notifier, "send", None)):
            raise ValueError(f"a notifier needs a send(events) method, got {notifier!r}")
        with self._cond:
            self._lanes.append(_Lane(notifier))

    def remove_notifier(self, notifier: Notifier) -> bool:
        """Stop delivering to `notifier` (what it has queued is dropped)."""
        with self._cond:
            for lane in self._lanes:
                if lane.notifier is notifier or lane.notifier == notifier:
                    self._lanes.remove(lane)
                    lane.closed = True
                    lane.inbox.clear()
                    self._cond.notify_all()
                    return True
            return False

    def submit(self, events: Sequence[AlertEvent]) -> None:
        """Queue `events` for every notifier; returns at once."""
        if not events:
            return
        with self._cond:
            now = time.monotonic()
            for lane in self._lanes:
                if not lane.inbox:
                    lane.due_at = now + self.group_wait
                for event in events:
                    if len(lane.inbox) >= self._max_queue:
                        self.stats["dropped"] += 1
                    else:
                        lane.inbox.append(event)
                self._ensure_thread(lane)
            self._cond.notify_all()

    def _ensure_thread(self, lane: _Lane) -> None:
        if lane.thread is None or not lane.thread.is_alive():
            lane.thread = threading.Thread(
                target=self._run,
                args=(lane, lane.generation),
                name=f"perfkit-notify-{lane.name}",
                daemon=True,
            )
            lane.thread.start()

    def _pending(self) -> bool:
        return any(lane.inbox or lane.busy for lane in self._lanes)

    def flush(self, timeout: float = 10.0) -> bool:
        """Deliver everything queued now (ignoring the group window); wait until done.

        Returns False when deliveries are still running after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            if not self._pending():
                return True
            self._flushing += 1
            try:
                for lane in self._lanes:
                    if lane.inbox:
                        self._ensure_thread(lane)
                self._cond.notify_all()
                while self._pending():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(left)
                return True
            finally:
                self._flushing -= 1

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to `timeout`), then end the workers."""
        self.flush(timeout)
        with self._cond:
            threads = []
            for lane in self._lanes:  # a later submit starts fresh workers
                lane.generation += 1
                threads.append(lane.thread)
                lane.thread = None
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in threads:
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(deadline - time.monotonic(), 0.0))

    def _take(self, lane: _Lane, generation: int) -> list[AlertEvent] | None:
        """Under the lock: wait until `lane`'s group is due; its events (None: stop)."""
        while True:
            if lane.closed or lane.generation != generation:
                return None
            if lane.inbox:
                left = lane.due_at - time.monotonic()
                if left <= 0 or self._flushing:
                    events = list(lane.inbox)
                    lane.inbox.clear()
                    lane.busy = True
                    return events
                self._cond.wait(left)
            else:
                self._cond.wait(60.0)  # idle: woken by submit, flush or stop

    def _run(self, lane: _Lane, generation: int) -> None:
        while True:
            with self._cond:
                events = self._take(lane, generation)
            if events is None:
                return
            try:
                self._deliver(lane, events)
            finally:
                with self._cond:
                    lane.busy = False
                    self._cond.notify_all()

    def _deliver(self, lane: _Lane, events: list[AlertEvent]) -> None:
        """Send one group on a thread of its own; give up on it after the timeout."""
        if lane.hung is not None and lane.hung.is_alive():
            dropped = len(events)
            self._fail("timed_out", f"{lane.name}: previous delivery still hung; {dropped} dropped")
            return
        outcome: dict[str, Any] = {}
        thread = threading.Thread(
            target=_send,
            args=(lane.notifier, events, outcome),
            name=f"perfkit-send-{lane.name}",
            daemon=True,
        )
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            lane.hung = thread  # abandoned; it is a daemon thread
            self._fail("timed_out", f"{lane.name}: no answer after {self.timeout:g}s; abandoned")
        elif "error" in outcome:
            exc = outcome["error"]
            self._fail("failed", f"{lane.name}: {type(exc).__name__}: {exc}")
        else:
            with self._cond:
                self.stats["delivered"] += 1

    def _fail(self, kind: str, message: str) -> None:
        with self._cond:
            self.stats[kind] += 1
            self.last_errors.append(message)
        _log.error("perfkit alert notifier %s: %s", kind.replace("_", " "), message)

    def status(self) -> dict[str, Any]:
        """Counters, queue length, notifier names and the last errors."""
        with self._cond:
            return {
                **self.stats,
                "queued": sum(len(lane.inbox) for lane in self._lanes),
                "notifiers": [lane.name for lane in self._lanes],
                "last_errors": list(self.last_errors),
            }


def _send(notifier: Notifier, events: list[AlertEvent], outcome: dict[str, Any]) -> None:
    try:
        notifier.send(events)
    except BaseException as exc:  # reported by the lane's worker, not lost
        outcome["error"] = exc
