"""How many worker processes serve this app on this host, seen from inside one of them.

Nobody is asked: the answer comes from what the process can see. In order,
- uWSGI's own module (``uwsgi.numproc``) when the app runs inside uWSGI;
- the command line of this process and of its parent, for the servers that
  pre-fork or spawn workers: gunicorn, uvicorn, hypercorn, granian and uWSGI
  (``-w``/``--workers``/``--processes``, ``GUNICORN_CMD_ARGS``, ``WEB_CONCURRENCY``);
- any other pre-fork server: a parent running the same command line as this
  process with other children doing the same (siblings forked from one master);
- at request time, WSGI's ``wsgi.multiprocess`` (see `ProcessModel.from_environ`).

The scan reads ``/proc`` through psutil once, when the kit picks its store;
every failure reads as "one process".
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ProcessModel", "detect_process_model"]

# the servers recognised by name on a command line, and their worker-count flags
_SERVERS: dict[str, tuple[str, ...]] = {
    "gunicorn": ("-w", "--workers"),
    "uvicorn": ("--workers",),
    "hypercorn": ("-w", "--workers"),
    "granian": ("--workers",),
    "uwsgi": ("-p", "--processes", "--workers"),
}


@dataclass(frozen=True)
class ProcessModel:
    """What was seen: the server (or None), its worker count, and what told us."""

    server: str | None
    workers: int
    source: str

    @property
    def multiprocess(self) -> bool:
        return self.workers > 1

    def to_dict(self) -> dict[str, Any]:
        return {"server": self.server, "workers": self.workers, "source": self.source}

    @staticmethod
    def from_environ(environ: Mapping[str, Any]) -> ProcessModel | None:
        """The WSGI server's own word (``wsgi.multiprocess``), or None when it says one."""
        if environ.get("wsgi.multiprocess") is True:
            software = str(environ.get("SERVER_SOFTWARE", "") or "").split("/")[0] or None
            return ProcessModel(software, 2, "wsgi.multiprocess")
        return None


SINGLE = ProcessModel(None, 1, "no sign of other workers")


def detect_process_model(environ: Mapping[str, str] | None = None) -> ProcessModel:
    """The process model of the running server (`SINGLE` when nothing says otherwise)."""
    env = os.environ if environ is None else environ
    seen = _uwsgi_module()
    if seen is not None:
        return seen
    try:
        import psutil

        me = psutil.Process()
        own = me.cmdline()
        parent = me.parent()
        parent_cmd = parent.cmdline() if parent is not None else []
    except Exception:  # no /proc, a process gone meanwhile: nothing to see
        return SINGLE
    for cmd, whose in ((own, "command line"), (parent_cmd, "parent's command line")):
        found = from_command_line(cmd, env, whose)
        if found is not None:
            return found
    siblings = _forked_siblings(parent, own)
    if siblings > 1:
        return ProcessModel(None, siblings, "parent process forked same-command workers")
    return SINGLE


def from_command_line(
    cmd: Sequence[str], env: Mapping[str, str], whose: str = "command line"
) -> ProcessModel | None:
    """A known server on `cmd` with its worker count (None when `cmd` runs none)."""
    server = _server_of(cmd)
    if server is None:
        return None
    args = list(cmd)
    if server == "gunicorn":
        args = shlex.split(env.get("GUNICORN_CMD_ARGS", "")) + args  # the command line wins
    count = _flag_value(args, _SERVERS[server])
    if count is not None:
        return ProcessModel(server, count, f"{server} {whose}")
    if server != "uwsgi" and env.get("WEB_CONCURRENCY", "").strip().isdigit():
        return ProcessModel(server, int(env["WEB_CONCURRENCY"]), f"{server} WEB_CONCURRENCY")
    return ProcessModel(server, 1, f"{server} {whose} (default: one worker)")


def _server_of(cmd: Sequence[str]) -> str | None:
    """The server a command line runs: ``gunicorn ...``, ``python -m uvicorn ...``."""
    for i, arg in enumerate(cmd[:4]):
        base = os.path.basename(arg)
        if base in _SERVERS:
            return base
        if arg == "-m" and i + 1 < len(cmd) and cmd[i + 1] in _SERVERS:
            return cmd[i + 1]
    return None


def _flag_value(args: Sequence[str], flags: tuple[str, ...]) -> int | None:
    """The last integer given to one of `flags` (``-w 4``, ``-w4``, ``--workers=4``)."""
    found: int | None = None
    for i, arg in enumerate(args):
        value: str | None = None
        for flag in flags:
            if arg == flag and i + 1 < len(args):
                value = args[i + 1]
            elif flag.startswith("--") and arg.startswith(flag + "="):
                value = arg[len(flag) + 1 :]
            elif not flag.startswith("--") and arg.startswith(flag) and arg[len(flag) :].isdigit():
                value = arg[len(flag) :]
        if value is not None and value.strip().isdigit():
            found = int(value)
    return found


def _uwsgi_module() -> ProcessModel | None:
    uwsgi = sys.modules.get("uwsgi")  # only present inside uWSGI; never imported here
    numproc = getattr(uwsgi, "numproc", None)
    if isinstance(numproc, int):
        return ProcessModel("uwsgi", numproc, "uwsgi.numproc")
    return None


def _forked_siblings(parent: Any, own: Sequence[str]) -> int:
    """Children of `parent` running `own` command line, when the parent runs it too.

    A pre-fork master's workers keep its command line; a shell, a test runner
    or a process manager running one app does not share the app's.
    """
    try:
        if parent is None or parent.cmdline() != list(own):
            return 0
        return sum(1 for child in parent.children() if child.cmdline() == list(own))
    except Exception:
        return 0
