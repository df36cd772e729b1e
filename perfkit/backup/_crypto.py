"""Streaming authenticated encryption (AES-256-GCM in 1 MiB records) for backups at rest.

Format: ``MAGIC | 8-byte nonce prefix`` then records ``4-byte length | ciphertext+tag``.
Record *i* uses nonce ``prefix | i`` and associated data ``MAGIC | prefix | i | final``,
so reordering, dropping or truncating records fails authentication, as does
any flipped byte.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from typing import Any

from ..errors import BackupError, ConfigError, MissingDependencyError

__all__ = ["Decryptor", "Encryptor", "key_bytes", "parse_key"]

MAGIC = b"PKENC1\x00"
RECORD = 1 << 20
_LEN = struct.Struct(">I")


def parse_key(text: str) -> bytes:
    """A 32-byte key from 64 hex digits or base64 (``PERFKIT_BACKUP_ENCRYPTION_KEY``)."""
    raw = text.strip()
    try:
        key = bytes.fromhex(raw) if len(raw) == 64 else base64.b64decode(raw, validate=True)
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32:
        raise ConfigError(
            "backup_encryption_key (PERFKIT_BACKUP_ENCRYPTION_KEY) is not valid: expected "
            "32 random bytes as 64 hex digits or base64 (e.g. `openssl rand -hex 32`)"
        )
    return key


def _aesgcm(key: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise MissingDependencyError("cryptography", "crypto") from None
    return AESGCM(key)


def _aad(prefix: bytes, index: int, final: bool) -> bytes:
    return MAGIC + prefix + struct.pack(">IB", index, final)


class Encryptor:
    """Turns a plaintext stream into the record format; call `update` then `finalize` once."""

    def __init__(self, key: bytes) -> None:
        self._aead = _aesgcm(key)
        self._prefix = os.urandom(8)
        self._index = 0
        self._buffer = bytearray()
        self.header = MAGIC + self._prefix

    def _record(self, plain: bytes, final: bool) -> bytes:
        if self._index >= 2**32 - 1:
            raise BackupError("backup too large for one encryption stream (4 PiB)")
        nonce = self._prefix + struct.pack(">I", self._index)
        sealed = self._aead.encrypt(nonce, plain, _aad(self._prefix, self._index, final))
        self._index += 1
        return _LEN.pack(len(sealed)) + bytes(sealed)

    def update(self, data: bytes) -> bytes:
        self._buffer += data
        out = []
        # Keep at least one byte back: only `finalize` knows which record is last.
        while len(self._buffer) > RECORD:
            out.append(self._record(bytes(self._buffer[:RECORD]), final=False))
            del self._buffer[:RECORD]
        return b"".join(out)

    def finalize(self) -> bytes:
        out = self._record(bytes(self._buffer), final=True)
        self._buffer.clear()
        return out


class Decryptor:
    """Inverse of `Encryptor`; raises `BackupError` on any tampering or truncation."""

    def __init__(self, key: bytes) -> None:
        self._aead = _aesgcm(key)
        self._buffer = bytearray()
        self._prefix: bytes | None = None
        self._index = 0
        self._pending: bytes | None = (
            None  # the newest record, decrypted once we know if it is last
        )

    def update(self, data: bytes) -> bytes:
        self._buffer += data
        if self._prefix is None:
            if len(self._buffer) < len(MAGIC) + 8:
                return b""
            if not self._buffer.startswith(MAGIC):
                raise BackupError("not an encrypted perfkit backup (bad header)")
            self._prefix = bytes(self._buffer[len(MAGIC) : len(MAGIC) + 8])
            del self._buffer[: len(MAGIC) + 8]
        out = []
        while len(self._buffer) >= _LEN.size:
            (size,) = _LEN.unpack_from(self._buffer)
            if size > RECORD + 16:
                raise BackupError("encrypted backup is corrupt (record too large)")
            if len(self._buffer) < _LEN.size + size:
                break
            record = bytes(self._buffer[_LEN.size : _LEN.size + size])
            del self._buffer[: _LEN.size + size]
            if self._pending is not None:
                out.append(self._open(self._pending, final=False))
            self._pending = record
        return b"".join(out)

    def finalize(self) -> bytes:
        if self._prefix is None or self._pending is None or self._buffer:
            raise BackupError("encrypted backup is truncated")
        out = self._open(self._pending, final=True)
        self._pending = None
        return out

    def _open(self, record: bytes, final: bool) -> bytes:
        from cryptography.exceptions import InvalidTag

        assert self._prefix is not None  # set before any record is parsed
        nonce = self._prefix + struct.pack(">I", self._index)
        try:
            plain: bytes = self._aead.decrypt(nonce, record, _aad(self._prefix, self._index, final))
        except InvalidTag:
            raise BackupError(
                "encrypted backup failed authentication (wrong key, corrupted or truncated)"
            ) from None
        self._index += 1
        return plain


def key_bytes(key: str | bytes | None) -> bytes | None:
    """A 32-byte key from bytes or text (hex/base64); None stays None."""
    if key is None:
        return None
    if isinstance(key, str):
        return parse_key(key)
    if len(key) != 32:
        raise ConfigError(f"encryption_key must be 32 bytes, got {len(key)}")
    return bytes(key)
