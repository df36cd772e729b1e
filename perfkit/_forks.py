"""Running code around a fork (gunicorn --preload) without keeping objects alive.

`os.register_at_fork` keeps whatever it is given forever; this module registers
one callback per phase and holds only weak references, so kits, registries and
stores can still be garbage-collected. Callbacks run in the order objects
subscribed (``before`` ones in reverse, as `os.register_at_fork` does).
"""

from __future__ import annotations

import os
import threading
import weakref

__all__ = ["after_fork_in_child", "around_fork"]

_Subscribers = list[tuple[weakref.ref[object], str]]
_child: _Subscribers = []
_before: _Subscribers = []
_parent: _Subscribers = []
_lock = threading.Lock()
_registered = False


def after_fork_in_child(obj: object, method: str) -> None:
    """Call ``obj.<method>()`` in every forked child while `obj` is alive."""
    _subscribe(_child, obj, method)


def around_fork(obj: object, before: str, after_in_parent: str) -> None:
    """Call ``obj.<before>()`` in the parent just before each fork and
    ``obj.<after_in_parent>()`` in the parent just after (the child gets
    `after_fork_in_child`'s callbacks)."""
    _subscribe(_before, obj, before)
    _subscribe(_parent, obj, after_in_parent)


def _subscribe(table: _Subscribers, obj: object, method: str) -> None:
    global _registered
    with _lock:
        for subscribers in (_child, _before, _parent):
            subscribers[:] = [(ref, name) for ref, name in subscribers if ref() is not None]
        table.append((weakref.ref(obj), method))
        if not _registered and hasattr(os, "register_at_fork"):
            os.register_at_fork(
                before=_run_before, after_in_parent=_run_parent, after_in_child=_run
            )
            _registered = True


def _call(subscribers: _Subscribers) -> None:
    for ref, name in list(subscribers):
        obj = ref()
        if obj is not None:
            getattr(obj, name)()


def _run_before() -> None:
    _call(list(reversed(_before)))


def _run_parent() -> None:
    _call(_parent)


def _run() -> None:
    global _lock
    _lock = threading.Lock()  # the parent may have held it while forking
    _call(_child)
