"""The host store's encoding: the Redis store's delta operations, and its file read back.

Batches are the very operations the Redis store sends (`delta_ops`), so both
stores ship one protocol; `registry_from` turns what the SQLite file holds back
into a registry with the same reader as the Redis store (`codec.registry_from`).
"""

from __future__ import annotations

from ...clock import Clock
from ...config import PerfkitSettings
from ..registry import Registry
from ..routes import OTHER
from ..state import fold_into_other
from ..tables import TABLES
from . import codec
from .codec import Keys, Stored
from .host_db import HostDb, Snapshot

__all__ = ["KEYS", "cap_new_names", "registry_from"]

KEYS = Keys("host")  # one host file holds one service: the prefix only keeps the Redis layout


def registry_from(snap: Snapshot, settings: PerfkitSettings, clock: Clock) -> Registry:
    """The host's figures as a registry (the reading side of `delta_ops`)."""
    stored = Stored(
        members={k: set(v) for k, v in snap.members.items()},
        cells=snap.cells,
        # the file keeps lists oldest first; the reader expects the Redis order (newest first)
        recent={k: list(reversed(v)) for k, v in snap.recent.items()},
    )
    return codec.registry_from(stored, KEYS, settings, clock)


def cap_new_names(delta: Registry, db: HostDb) -> None:
    """Hold the caps host-wide: names past a cap that the host has not seen go to ``__other__``.

    Two workers admitting new names at the same moment can overshoot a cap by
    what they admit together (as in the Redis store); it cannot grow past that.
    """
    settings = delta.settings
    over: dict[str, set[str]] = {}
    for declared in TABLES:
        if not declared.shared_cap or declared.cap is None:
            continue
        names = [declared.key_text(k) for k in getattr(delta, declared.name)]
        if not names:
            continue
        count, known = db.names_known(KEYS.prefix + declared.names_key, names)
        room = max(declared.cap(settings) - count, 0)
        rejected: set[str] = set()
        for name in names:
            if name not in known and name != OTHER and not name.endswith(" " + OTHER):
                if room > 0:
                    room -= 1
                else:
                    rejected.add(name)
        over[declared.name] = rejected
    if any(over.values()):
        fold_into_other(delta, **over)
