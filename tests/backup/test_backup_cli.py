"""`perfkit backup ...` through a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _helpers_backup import count_rows, execute, make_sqlite

ROOT = Path(__file__).resolve().parents[2]


def cli(
    tmp_path: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    full_env.pop("PERFKIT_DATABASE_URL", None)
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "perfkit.cli", "backup", *args],
        cwd=tmp_path, env=full_env, input=stdin, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    make_sqlite(tmp_path / "app.db", rows=50)
    return tmp_path / "app.db"


def test_create_list_verify_stats_delete(tmp_path: Path, db: Path) -> None:
    """The whole lifecycle with --json output; the database comes from PERFKIT_DATABASE_URL."""
    env = {"PERFKIT_DATABASE_URL": f"sqlite:///{db}", "PERFKIT_BACKUP_DIR": "bk"}
    created = cli(tmp_path, "create", "--json", "--prefix", "manual", "--check", "quick", **env)
    assert created.returncode == 0, created.stderr
    info = json.loads(created.stdout)
    assert info["filename"].startswith("manual_") and (tmp_path / "bk" / info["filename"]).is_file()

    listed = json.loads(cli(tmp_path, "list", "--json", **env).stdout)
    assert [b["filename"] for b in listed] == [info["filename"]]
    verified = cli(tmp_path, "verify", info["filename"], "--json", **env)
    assert verified.returncode == 0 and json.loads(verified.stdout) == [
        {"filename": info["filename"], "ok": True}
    ]
    stats = json.loads(cli(tmp_path, "stats", "--json", **env).stdout)
    assert stats["total_backups"] == 1 and stats["database_type"] == "sqlite"
    deleted = cli(tmp_path, "delete", info["filename"], "--json", **env)
    assert deleted.returncode == 0 and json.loads(deleted.stdout)["deleted"] is True
    again = cli(tmp_path, "delete", info["filename"], **env)
    assert again.returncode == 2 and "no backup named" in again.stderr


def test_restore_asks_for_confirmation_unless_yes(tmp_path: Path, db: Path) -> None:
    """Answering no leaves the data alone; --yes restores without asking."""
    opts = ["--database-url", f"sqlite:///{db}", "--backup-dir", str(tmp_path / "bk")]
    name = json.loads(cli(tmp_path, "create", "--json", *opts).stdout)["filename"]
    execute(db, "DELETE FROM t")

    declined = cli(tmp_path, "restore", name, *opts, stdin="n\n")
    assert declined.returncode == 1 and "cancelled" in declined.stderr
    assert count_rows(db) == 0

    done = cli(tmp_path, "restore", name, "--yes", "--json", *opts)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["safety_backup"].startswith("pre_restore_")
    assert count_rows(db) == 50


def test_bad_input_gives_clear_errors_and_exit_codes(tmp_path: Path, db: Path) -> None:
    """No database: exit 2 naming the variable; a path as name: exit 2; corrupt: verify
    exits 1 (a check failed), restore refuses it with 2 (a failure perfkit reports)."""
    missing = cli(tmp_path, "list")
    assert missing.returncode == 2 and "PERFKIT_DATABASE_URL" in missing.stderr
    opts = ["--database-url", f"sqlite:///{db}", "--backup-dir", "bk"]
    traversal = cli(tmp_path, "restore", "../app.db", "--yes", *opts)
    assert traversal.returncode == 2 and "not valid" in traversal.stderr
    name = json.loads(cli(tmp_path, "create", "--json", "--no-compress", *opts).stdout)["filename"]
    path = tmp_path / "bk" / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    bad = cli(tmp_path, "verify", *opts)
    assert bad.returncode == 1 and "FAILED" in bad.stdout
    refused = cli(tmp_path, "restore", name, "--yes", "--json", *opts)
    assert refused.returncode == 2 and json.loads(refused.stdout)["error"] == "BackupError"


def test_progress_bar_on_request(tmp_path: Path, db: Path) -> None:
    """--progress draws a bar on stderr even when it is not a terminal."""
    opts = ["--database-url", f"sqlite:///{db}", "--backup-dir", "bk"]
    result = cli(tmp_path, "create", "--progress", *opts)
    assert result.returncode == 0 and "100.0%" in result.stderr and "created" in result.stdout
