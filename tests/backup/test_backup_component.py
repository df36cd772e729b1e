"""DatabaseBackup as a kit component, and the streaming encryption format."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _helpers_backup import make_sqlite
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.backup import DatabaseBackup, _crypto
from perfkit.backup._crypto import Decryptor, Encryptor, parse_key
from perfkit.errors import BackupError, ConfigError
from perfkit.testing import FakeClock

KEY = bytes(range(32))


def test_component_snapshot_alert_metrics_and_families(tmp_path: Path) -> None:
    """snapshot() is the stats; alert_metrics() gives hours since success; collect() gauges."""
    make_sqlite(tmp_path / "a.db")
    clock = FakeClock()
    backups = DatabaseBackup(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "b", clock=clock)
    assert backups.alert_metrics() == {"backup.hours_since_success": None}
    info = backups.create_backup()
    clock.advance(7200)
    assert backups.alert_metrics()["backup.hours_since_success"] == pytest.approx(2.0)
    snap = backups.snapshot()
    assert snap["total_backups"] == 1 and snap["newest"]["filename"] == info.filename
    families = {f.name: f for f in backups.collect()}
    assert families["app_backup_last_success_timestamp_seconds"].samples[0].value == pytest.approx(
        info.timestamp.timestamp()
    )
    assert families["app_backups_stored"].samples[0].value == 1
    runs = {s.labels["result"]: s.value for s in families["app_backup_runs"].samples}
    assert runs == {"success": 1, "failure": 0}


def test_last_success_survives_a_restart(tmp_path: Path) -> None:
    """A new DatabaseBackup on the same directory knows when the newest backup was taken."""
    make_sqlite(tmp_path / "a.db")
    clock = FakeClock()
    url = f"sqlite:///{tmp_path / 'a.db'}"
    DatabaseBackup(url, tmp_path / "b", clock=clock).create_backup()
    clock.advance(3600 * 30)
    fresh = DatabaseBackup(url, tmp_path / "b", clock=clock)
    assert fresh.alert_metrics()["backup.hours_since_success"] == pytest.approx(30.0)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=600), record=st.sampled_from([1, 7, 64]))
def test_encryption_round_trips_any_data(data: bytes, record: int) -> None:
    """Whatever the data and however it is split, decrypt(encrypt(x)) == x."""
    old = _crypto.RECORD
    _crypto.RECORD = record  # small records exercise record boundaries
    try:
        enc = Encryptor(KEY)
        sealed = enc.header + enc.update(data[:100]) + enc.update(data[100:]) + enc.finalize()
        dec = Decryptor(KEY)
        plain = b"".join(dec.update(sealed[i : i + 13]) for i in range(0, len(sealed), 13))
        assert plain + dec.finalize() == data
    finally:
        _crypto.RECORD = old


def _sealed(data: bytes) -> bytes:
    enc = Encryptor(KEY)
    return enc.header + enc.update(data) + enc.finalize()


def test_dropping_the_last_record_is_detected() -> None:
    """Cutting the stream at a record boundary still fails: the last record is marked final."""
    old = _crypto.RECORD
    _crypto.RECORD = 16
    try:
        sealed = _sealed(os.urandom(100))
        header = len(_crypto.MAGIC) + 8
        first_record = header + 4 + 16 + 16
        truncated = sealed[: first_record + 4 + 16 + 16]  # keep two of seven records
        dec = Decryptor(KEY)
        with pytest.raises(BackupError):
            dec.update(truncated)
            dec.finalize()
    finally:
        _crypto.RECORD = old


def test_bad_header_and_wrong_key_are_refused() -> None:
    with pytest.raises(BackupError, match="header"):
        Decryptor(KEY).update(b"not encrypted at all")
    sealed = _sealed(b"secret data")
    dec = Decryptor(bytes(32))
    with pytest.raises(BackupError, match="authentication"):
        dec.update(sealed)
        dec.finalize()


@pytest.mark.parametrize("text", ["ab" * 32, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="])
def test_parse_key_accepts_hex_and_base64(text: str) -> None:
    assert len(parse_key(text)) == 32


@pytest.mark.parametrize("text", ["", "zz" * 32, "c2hvcnQ=", "ab" * 31])
def test_parse_key_rejects_other_forms(text: str) -> None:
    with pytest.raises(ConfigError, match="PERFKIT_BACKUP_ENCRYPTION_KEY"):
        parse_key(text)


def test_importing_the_backup_package_does_no_work() -> None:
    """No thread, no Redis, no cryptography, no engine module until a backup is asked for."""
    import subprocess
    import sys

    code = (
        "import sys, threading\n"
        "before = threading.active_count()\n"
        "import perfkit.backup\n"
        "assert threading.active_count() == before\n"
        "lazy = ('redis', 'cryptography', 'perfkit.backup.sqlite', 'perfkit.backup.postgres')\n"
        "for mod in lazy:\n"
        "    assert mod not in sys.modules, mod\n"
        "import perfkit.backup as b\n"
        "assert sorted(b.__all__) == ['BackupInfo', 'BackupScheduler', 'BackupStrategy',"
        " 'DatabaseBackup', 'register_strategy']\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
