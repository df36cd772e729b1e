"""Seeing how many workers serve the app: server command lines, a generic pre-fork master,
and the WSGI server's own word."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfkit.metrics.process_model import ProcessModel, detect_process_model, from_command_line

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("cmd", "env", "server", "workers"),
    [
        (["/venv/bin/gunicorn", "-w", "4", "app:app"], {}, "gunicorn", 4),
        (["python", "-m", "gunicorn", "--workers=3", "app:app"], {}, "gunicorn", 3),
        (["gunicorn", "-w2", "app:app"], {}, "gunicorn", 2),
        (["gunicorn", "app:app"], {"GUNICORN_CMD_ARGS": "--workers 5"}, "gunicorn", 5),
        (["gunicorn", "-w", "2", "app:app"], {"GUNICORN_CMD_ARGS": "-w 5"}, "gunicorn", 2),
        (["gunicorn", "app:app"], {"WEB_CONCURRENCY": "6"}, "gunicorn", 6),
        (["gunicorn", "app:app"], {}, "gunicorn", 1),
        (["python3", "-m", "uvicorn", "--workers", "3", "app:app"], {}, "uvicorn", 3),
        (["uvicorn", "app:app"], {}, "uvicorn", 1),
        (["hypercorn", "-w", "2", "app:app"], {}, "hypercorn", 2),
        (["granian", "--interface", "asgi", "--workers", "4", "app:app"], {}, "granian", 4),
        (["uwsgi", "--http", ":8000", "--processes", "4"], {}, "uwsgi", 4),
    ],
)
def test_server_command_lines(
    cmd: list[str], env: dict[str, str], server: str, workers: int
) -> None:
    seen = from_command_line(cmd, env)
    assert seen is not None
    assert (seen.server, seen.workers) == (server, workers)
    assert seen.multiprocess is (workers > 1)


@pytest.mark.parametrize(
    "cmd",
    [
        ["python", "-m", "pytest", "-w", "4"],
        ["bash", "-c", "gunicorn -w 4 app:app"],  # a shell that runs it is not the server
        ["python", "manage.py", "runserver"],
        [],
    ],
)
def test_other_command_lines_are_not_servers(cmd: list[str]) -> None:
    assert from_command_line(cmd, {}) is None


@given(
    st.integers(min_value=1, max_value=512),
    st.sampled_from(["-w {n}", "-w{n}", "--workers {n}", "--workers={n}"]),
    st.lists(st.sampled_from(["--bind", "127.0.0.1:8000", "--preload", "-k", "sync"]), max_size=4),
)
def test_gunicorn_worker_flags_in_every_spelling(n: int, form: str, others: list[str]) -> None:
    cmd = ["gunicorn", *others, *form.format(n=n).split(), "app:app"]
    seen = from_command_line(cmd, {})
    assert seen is not None and seen.workers == n


def test_this_test_process_is_one_process() -> None:
    assert detect_process_model().workers == 1


def test_a_generic_pre_fork_master_is_seen_by_its_workers(tmp_path: Path) -> None:
    """A master that forks two workers sharing its command line (what pre-fork servers do)."""
    script = tmp_path / "prefork.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, os, sys, time
            sys.path.insert(0, sys.argv[1])
            from perfkit.metrics.process_model import detect_process_model
            out, pids = sys.argv[2], []
            for i in range(2):
                pid = os.fork()
                if pid == 0:
                    open(f"{out}.forked.{i}", "w").close()
                    while not all(os.path.exists(f"{out}.forked.{j}") for j in range(2)):
                        time.sleep(0.01)  # until the sibling is forked too (a barrier, not a guess)
                    seen = detect_process_model().to_dict()
                    with open(f"{out}.{i}", "w") as f:
                        json.dump(seen, f)
                    while not all(os.path.exists(f"{out}.{j}") for j in range(2)):
                        time.sleep(0.05)  # stay until the sibling has looked too
                    os._exit(0)
                pids.append(pid)
            for pid in pids:
                os.waitpid(pid, 0)
            """
        )
    )
    out = tmp_path / "seen"
    subprocess.run([sys.executable, str(script), str(ROOT), str(out)], check=True, timeout=60)
    for i in range(2):
        seen = json.loads(Path(f"{out}.{i}").read_text())
        assert seen["workers"] == 2, seen
        assert seen["source"] == "parent process forked same-command workers"


def test_wsgi_multiprocess_is_the_servers_word() -> None:
    said = ProcessModel.from_environ({"wsgi.multiprocess": True, "SERVER_SOFTWARE": "Foo/1.2"})
    assert said is not None and said.multiprocess and said.server == "Foo"
    assert ProcessModel.from_environ({"wsgi.multiprocess": False}) is None
    assert ProcessModel.from_environ({}) is None
