"""Running code in a forked child (gunicorn --preload) without keeping objects alive.

`os.register_at_fork` keeps whatever it is given forever; this module registers
one callback and holds only weak references, so kits, registries and stores can
still be garbage-collected. Callbacks run in the order objects subscribed.
"""

from __future__ import annotations

import os
import threading
import weakref

__all__ = ["after_fork_in_child"]

_subscribers: list[tuple[weakref.ref[object], str]] = []
_lock = threading.Lock()
_registered = False


def after_fork_in_child(obj: object, method: str) -> None:
    """Call ``obj.<method>()`` in every forked child while `obj` is alive."""
    global _registered
    with _lock:
        _subscribers[:] = [(ref, name) for ref, name in _subscribers if ref() is not None]
        _subscribers.append((weakref.ref(obj), method))
        if not _registered and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_run)
            _registered = True


def _run() -> None:
    global _lock
    _lock = threading.Lock()  # the parent may have held it while forking
    for ref, name in list(_subscribers):
        obj = ref()
        if obj is not None:
            getattr(obj, name)()
