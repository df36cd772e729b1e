"""When scheduled backups are due: daily at a local time, or every N minutes (epoch-aligned)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

__all__ = ["DailyTrigger", "IntervalTrigger", "Trigger"]


@dataclass(frozen=True)
class DailyTrigger:
    """Every day at `hour`:`minute` in `tz` (None: the machine's local zone, DST included)."""

    hour: int
    minute: int
    tz: tzinfo | None
    tz_name: str

    @property
    def period(self) -> float:
        return 86_400.0

    def _at(self, day: datetime) -> float:
        moment = datetime.combine(day.date(), time(self.hour, self.minute), tzinfo=self.tz)
        return moment.timestamp()  # a naive datetime is local time, resolved by mktime

    def latest_at_or_before(self, now: float) -> float:
        today = datetime.fromtimestamp(now, self.tz)
        at = self._at(today)
        return at if at <= now else self._at(today - timedelta(days=1))

    def next_after(self, now: float) -> float:
        today = datetime.fromtimestamp(now, self.tz)
        at = self._at(today)
        return at if at > now else self._at(today + timedelta(days=1))

    def describe(self) -> str:
        return f"daily at {self.hour:02d}:{self.minute:02d} ({self.tz_name})"


@dataclass(frozen=True)
class IntervalTrigger:
    """Every `seconds`, at multiples of `seconds` since the epoch, so every process of a fleet
    agrees on the same ticks whenever it started."""

    seconds: float

    @property
    def period(self) -> float:
        return self.seconds

    def latest_at_or_before(self, now: float) -> float:
        return math.floor(now / self.seconds) * self.seconds

    def next_after(self, now: float) -> float:
        return (math.floor(now / self.seconds) + 1) * self.seconds

    def describe(self) -> str:
        minutes = int(self.seconds // 60)
        return f"interval every {minutes // 60}h{minutes % 60:02d}m"


Trigger = DailyTrigger | IntervalTrigger
