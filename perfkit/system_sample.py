"""`SystemMetrics`: one sample of the machine's figures (kept apart from the monitor so
the packed history can read its fields without importing the monitor)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["SystemMetrics"]


@dataclass(frozen=True, slots=True)  # slots: a day of samples in half the memory
class SystemMetrics:
    """One sample of the machine's figures; bytes in bytes, percentages 0-100.

    The ``disk_*`` fields describe the first configured path; every path is in
    `SystemMonitor.disks`. `thread_count` counts this process's threads.
    """

    timestamp: float
    cpu_percent: float
    cpu_count: int
    load_avg: tuple[float, float, float]
    ram_total: int
    ram_used: int
    ram_available: int
    ram_percent: float
    swap_total: int
    swap_used: int
    swap_percent: float
    disk_total: int
    disk_used: int
    disk_free: int
    disk_percent: float
    net_bytes_sent: int
    net_bytes_recv: int
    net_packets_sent: int
    net_packets_recv: int
    process_count: int
    thread_count: int

    def to_dict(self) -> dict[str, Any]:
        """The sample as JSON-serialisable values."""
        out = dataclasses.asdict(self)
        out["load_avg"] = list(self.load_avg)
        return out
