"""The system history: bounded by system_history_hours, packed, and read back exactly."""

from __future__ import annotations

import dataclasses
import gc
import tracemalloc

from perfkit import PerfkitSettings
from perfkit.system import SystemMetrics, history_length
from perfkit.system_history import SampleHistory


def sample(i: int) -> SystemMetrics:
    """A sample whose every figure differs from the others' (no shared small ints)."""
    big = 2**40 + 1_000_003 * i
    return SystemMetrics(
        timestamp=1_700_000_000.0 + 10 * i, cpu_percent=i % 100 + 0.25, cpu_count=8,
        load_avg=(i / 7, i / 11, i / 13), ram_total=big, ram_used=big + 1, ram_available=big + 2,
        ram_percent=41.5, swap_total=big + 3, swap_used=big + 4, swap_percent=1.5,
        disk_total=big + 5, disk_used=big + 6, disk_free=big + 7, disk_percent=63.25,
        net_bytes_sent=big + 8, net_bytes_recv=big + 9, net_packets_sent=big + 10,
        net_packets_recv=big + 11, process_count=300 + i, thread_count=20 + i % 7,
    )  # fmt: skip


def test_samples_come_back_exactly_and_the_oldest_go() -> None:
    history = SampleHistory(3)
    for i in range(5):
        history.append(sample(i))
    assert len(history) == 3 and history.maxlen == 3
    assert list(history) == [sample(2), sample(3), sample(4)]
    assert history.last(2) == [sample(3), sample(4)]
    assert all(isinstance(m.ram_total, int) for m in history)
    history.resize(2)
    assert list(history) == [sample(3), sample(4)]


def test_a_day_at_the_default_interval_stays_near_2_mib() -> None:
    """24 h at 10 s = 8,640 samples; measured about 250 bytes each (about 1 KB as objects)."""
    count = history_length(PerfkitSettings())
    assert count == 8640
    rows = [sample(i) for i in range(count + 100)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        history = SampleHistory(count)
        for row in rows:
            history.append(row)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(history) == count
    per_sample = used / count
    assert per_sample < 400, per_sample  # about 250 bytes; a bound, not a benchmark
    assert used < 3 * 2**20
    assert dataclasses.asdict(next(iter(history)))["cpu_percent"] == sample(100).cpu_percent
