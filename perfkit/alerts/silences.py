"""Silences (the Alertmanager model): mute matching alerts until a time, with who and why."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from .model import Alert, iso

__all__ = ["Silence", "Silences"]


@dataclass(frozen=True)
class Silence:
    """Mutes alerts whose fields match every matcher (shell-style patterns allowed).

    Matcher keys: ``name`` (or ``alertname``), ``severity``, ``source``, or a label name.
    """

    id: str
    matchers: Mapping[str, str]
    until: float
    created_by: str
    comment: str
    created_at: float
    _fields: tuple[str, ...] = field(default=("name", "severity", "source"), repr=False)

    def matches(self, alert: Alert) -> bool:
        """True when every matcher matches `alert`."""
        for key, pattern in self.matchers.items():
            key = "name" if key == "alertname" else key
            value = getattr(alert, key) if key in self._fields else alert.labels.get(key)
            if value is None or not fnmatchcase(str(value), pattern):
                return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": dict(self.matchers),
            "until": self.until,
            "until_iso": iso(self.until),
            "created_by": self.created_by,
            "comment": self.comment,
            "created_at": self.created_at,
        }


class Silences:
    """The set of silences; expired ones are dropped as they are met."""

    def __init__(self) -> None:
        self._items: dict[str, Silence] = {}
        self._lock = threading.Lock()

    def add(
        self, matchers: Mapping[str, str], until: float, who: str, why: str, now: float
    ) -> Silence:
        """Add a silence; `until` is an epoch time after `now`; who and why are required."""
        if not matchers or not all(
            isinstance(k, str) and isinstance(v, str) and k and v for k, v in matchers.items()
        ):
            raise ValueError(
                f"a silence needs string matchers like {{'name': 'high_cpu'}}, got {matchers!r}"
            )
        if isinstance(until, bool) or not isinstance(until, (int, float)) or until <= now:
            raise ValueError(f"silence 'until' must be an epoch time in the future, got {until!r}")
        for what, text in (("who", who), ("why", why)):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"a silence needs a non-empty {what!r}, got {text!r}")
        silence = Silence(uuid.uuid4().hex[:12], dict(matchers), float(until), who, why, now)
        with self._lock:
            self._items[silence.id] = silence
        return silence

    def remove(self, silence_id: str) -> bool:
        """Expire a silence now; False when there is no such silence."""
        with self._lock:
            return self._items.pop(silence_id, None) is not None

    def active(self, now: float) -> list[Silence]:
        """Silences still in force at `now`."""
        with self._lock:
            for sid in [sid for sid, s in self._items.items() if s.until <= now]:
                del self._items[sid]
            return list(self._items.values())

    def match(self, alert: Alert, now: float) -> Silence | None:
        """The first silence in force that mutes `alert`, if any."""
        for silence in self.active(now):
            if silence.matches(alert):
                return silence
        return None
