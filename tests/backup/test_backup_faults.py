"""Bad input and faults: names, schemes, missing or misbehaving dump tools, custom strategies."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from _helpers_backup import make_sqlite
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.backup import BackupStrategy, DatabaseBackup, register_strategy
from perfkit.backup.base import Progress, mask_url
from perfkit.errors import BackupError, ConfigError


@pytest.fixture
def backups(tmp_path: Path) -> DatabaseBackup:
    make_sqlite(tmp_path / "a.db")
    manager = DatabaseBackup(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "backups")
    manager.create_backup()
    return manager


BAD_NAMES = [
    "../x",
    "/etc/passwd",
    "a/b",
    "",
    "a\x00b",
    "..",
    ".",
    ".hidden",
    "a\\b",
    "x.meta.json",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_that_are_not_plain_file_names_raise_value_error(
    backups: DatabaseBackup, name: str
) -> None:
    """delete, restore and verify take a name from the listing, never a path."""
    with pytest.raises(ValueError):
        backups.delete_backup(name)
    with pytest.raises(ValueError):
        backups.restore_backup(name)
    with pytest.raises(ValueError):
        backups.verify_backup(name)


def test_unknown_names_delete_false_restore_error(backups: DatabaseBackup) -> None:
    """A well-formed name that is not a backup: delete is False, restore raises BackupError."""
    assert backups.delete_backup("backup_19990101_000000.sqlite3.gz") is False
    assert backups.verify_backup("backup_19990101_000000.sqlite3.gz") is False
    with pytest.raises(BackupError, match="no backup named"):
        backups.restore_backup("backup_19990101_000000.sqlite3.gz")


def test_delete_removes_the_backup_and_its_side_files(backups: DatabaseBackup) -> None:
    (info,) = backups.list_backups()
    assert backups.delete_backup(info.filename) is True
    assert list(backups.backup_dir.iterdir()) == []
    assert backups.delete_backup(info.filename) is False


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_name_either_is_rejected_or_stays_inside_the_directory(name: str) -> None:
    """Whatever the text, delete never touches a file outside the backup directory."""
    from perfkit.backup.info import check_filename

    try:
        checked = check_filename(name)
    except ValueError:
        return
    assert os.path.basename(checked) == checked and checked not in (".", "..")
    assert "\x00" not in checked and "/" not in checked and not checked.startswith(".")


@pytest.mark.parametrize("prefix", ["", "a/b", "../x", "a b", "x" * 65, "-lead"])
def test_bad_prefixes_raise_value_error(backups: DatabaseBackup, prefix: str) -> None:
    with pytest.raises(ValueError):
        backups.create_backup(prefix)


@pytest.mark.parametrize(
    "url",
    ["redis://localhost/0", "not a url", "ftp://host/x", "sqlite:///", "sqlite:///:memory:"],
)
def test_unsupported_urls_are_config_errors(url: str, tmp_path: Path) -> None:
    """Unknown schemes and file-less SQLite URLs are refused up front."""
    with pytest.raises(ConfigError):
        DatabaseBackup(url, tmp_path)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="@/"), min_size=1, max_size=20))
def test_mask_url_hides_any_password(password: str) -> None:
    """The masked URL never contains the password."""
    masked = mask_url(f"postgresql://user:{password}@db.example:5432/app")
    assert masked == "postgresql://user:***@db.example:5432/app"


def _fake_tool(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_missing_pg_dump_names_the_tool_and_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    backups = DatabaseBackup("postgresql://u@127.0.0.1/db", tmp_path / "b")
    with pytest.raises(BackupError, match=r"pg_dump was not found.*postgresql-client"):
        backups.create_backup()


def test_missing_mysqldump_names_the_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    backups = DatabaseBackup("mysql://u@127.0.0.1/db", tmp_path / "b")
    with pytest.raises(BackupError, match=r"mysqldump was not found.*mariadb-client"):
        backups.create_backup()


@pytest.mark.parametrize(
    ("script", "message"),
    [
        # killed mid-write: partial output, death by signal
        ('printf "PGDMP partial"; kill -9 $$\n', "killed by signal 9"),
        # exits non-zero after writing something
        ('printf "PGDMP"; echo "fatal: boom" >&2; exit 3\n', "exited with code 3: fatal: boom"),
        # exits 0 but writes nothing
        ("exit 0\n", "wrote nothing"),
        # exits 0 with a truncated archive: pg_restore rejects it
        ('printf "PGDMP\\001\\016\\000"; exit 0\n', "pg_restore exited"),
    ],
)  # fmt: skip
def test_misbehaving_pg_dump_is_a_failed_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, message: str
) -> None:
    """Non-zero exit, signal, empty or truncated output: BackupError, nothing stored, older kept."""
    import shutil

    bin_dir = tmp_path / "bin"
    _fake_tool(bin_dir, "pg_dump", script)
    real_restore = shutil.which("pg_restore")
    if real_restore is None and "pg_restore" in message:
        pytest.skip("pg_restore is not installed")
    if real_restore:
        os.symlink(real_restore, bin_dir / "pg_restore")
    monkeypatch.setenv("PATH", str(bin_dir))
    backups = DatabaseBackup("postgresql://u@127.0.0.1/db", tmp_path / "b")
    with pytest.raises(BackupError, match=message):
        backups.create_backup()
    assert os.listdir(tmp_path / "b") == []
    assert backups.get_backup_stats()["failures"] == 1


class _EchoStrategy(BackupStrategy):
    """A toy strategy: the 'database' is one text file."""

    schemes = ("echo",)
    database_type = "echo"
    extension = ".txt"

    def dump(self, target: Path, progress: Progress, *, compress: bool, level: int) -> None:
        target.write_text(Path(self.url.split("://", 1)[1]).read_text() + "END\n")

    def check(self, dump: Path) -> None:
        if not dump.read_text().endswith("END\n"):
            raise BackupError("echo dump truncated")

    def restore(self, dump: Path, progress: Progress) -> None:
        Path(self.url.split("://", 1)[1]).write_text(dump.read_text()[: -len("END\n")])


def test_custom_strategies_register_a_scheme(tmp_path: Path) -> None:
    """A user strategy gets naming, gzip, checksums, verification and restore for free."""
    register_strategy(_EchoStrategy)
    source = tmp_path / "data.txt"
    source.write_text("hello")
    backups = DatabaseBackup(f"echo://{source}", tmp_path / "b")
    info = backups.create_backup()
    assert info.filename.endswith(".txt.gz") and info.database_type == "echo"
    source.write_text("changed")
    backups.restore_backup(info.filename)
    assert source.read_text() == "hello"


def test_register_strategy_needs_a_scheme() -> None:
    class Nameless(_EchoStrategy):
        schemes = ()

    with pytest.raises(ValueError, match="scheme"):
        register_strategy(Nameless)


BAD_OPTIONS = [{"max_backups": 0}, {"max_backups": True}, {"compress_level": 0},
               {"encryption_key": "short"}, {"check": "fast"}]  # fmt: skip


@pytest.mark.parametrize("kwargs", BAD_OPTIONS)
def test_bad_options_are_config_errors(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        DatabaseBackup(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, **kwargs)  # type: ignore[arg-type]
