"""Encrypted archive files: AES-256-GCM (``cryptography``), streamed in chunks, key from the environment.

An archive holds a retired system's raw records — personal data that must outlive the system,
so it is encrypted at rest with a key kept away from it (``CRM2_ARCHIVE_KEY``: 64 hex digits;
``openssl rand -hex 32`` makes one). Files are written and read as streams, so a
multi-gigabyte stream never sits in memory and plaintext never touches the disk; only Parquet,
which needs random access to read, is decrypted into memory (one file at a time).

Format (one file)::

    b"CRM2AEAD1" | 8-byte random file id | chunks…
    chunk = 4-byte big-endian length | AES-GCM(ciphertext + 16-byte tag)

Each chunk's 96-bit nonce is the file id and the chunk's number; its associated data is the
header, the chunk number and whether it is the last chunk. So a chunk that is changed, moved,
swapped in from another file or cut off the end fails authentication, and so does a file that
ends without its last chunk. Hand-written framing because ``cryptography`` offers AES-GCM but
no streaming container; the construction follows the STREAM scheme (Hoang, Reyhanitabar,
Rogaway, Vizár 2015) that age and Tink's streaming AEAD use.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import struct
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sync.errors import Crm2Error
from sync.exitcodes import ExitCode

KEY_ENV = "CRM2_ARCHIVE_KEY"
SCHEME = "aes-256-gcm-stream-v1"
MAGIC = b"CRM2AEAD1"
CHUNK = 1 << 20
_TAG = 16
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class ArchiveKeyError(Crm2Error):
    """The archive key is missing, malformed or wrong, or a file failed authentication."""


class ArchiveKeyMissing(ArchiveKeyError):
    """No usable key in the environment: a setting to fix, nothing was read or written."""

    exit_code = ExitCode.CONFIG


def new_key() -> str:
    return secrets.token_hex(32)


def key_from_env(name: str = KEY_ENV) -> bytes:
    text = os.environ.get(name, "").strip()
    if not text:
        raise ArchiveKeyMissing(f"the archive is encrypted: set {name} to its key (64 hex digits)")
    if not _HEX.match(text):
        raise ArchiveKeyMissing(f"{name} must hold 64 hex digits (a 256-bit key); "
                              "`openssl rand -hex 32` makes one")
    return bytes.fromhex(text)


def key_id(key: bytes) -> str:
    """A fingerprint naming the key in the manifest (so a wrong key is told apart from a changed file)."""
    return hashlib.sha256(b"crm2-archive-key-id\0" + key).hexdigest()[:16]


def _aad(file_id: bytes, number: int, last: bool) -> bytes:
    return MAGIC + file_id + struct.pack(">Q?", number, last)


def _nonce(file_id: bytes, number: int) -> bytes:
    return file_id + struct.pack(">I", number)


class EncryptingWriter(io.RawIOBase):
    """A binary file object that encrypts everything written to it into ``raw``."""

    def __init__(self, raw: IO[bytes], key: bytes) -> None:
        super().__init__()
        self._raw, self._aead = raw, AESGCM(key)
        self._file_id = secrets.token_bytes(8)
        self._buffer = bytearray()
        self._number = 0
        raw.write(MAGIC + self._file_id)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK:  # keep one chunk back: only close() knows which is last
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def _seal(self, plain: bytes, *, last: bool) -> None:
        if self._number >= 2**32:
            raise ArchiveKeyError("archive file too large for one key stream (4 PiB)")
        sealed = self._aead.encrypt(_nonce(self._file_id, self._number), plain, _aad(self._file_id, self._number, last))
        self._raw.write(struct.pack(">I", len(sealed)) + sealed)
        self._number += 1

    def close(self) -> None:
        if not self.closed:
            try:
                self._seal(bytes(self._buffer), last=True)
                self._buffer.clear()
            finally:
                self._raw.close()
        super().close()


class DecryptingReader(io.RawIOBase):
    """A binary file object reading the plaintext of an encrypted file; every chunk is
    authenticated before a byte of it is returned."""

    def __init__(self, raw: IO[bytes], key: bytes, name: str) -> None:
        super().__init__()
        self._raw, self._aead, self._name = raw, AESGCM(key), name
        header = raw.read(len(MAGIC) + 8)
        if len(header) != len(MAGIC) + 8 or not header.startswith(MAGIC):
            raise ArchiveKeyError(f"{name}: not an encrypted crm2 archive file")
        self._file_id = header[len(MAGIC):]
        self._number = 0
        self._plain = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def _next(self) -> None:
        head = self._raw.read(4)
        if len(head) < 4:
            raise ArchiveKeyError(f"{self._name}: the file ends before its last chunk (cut short)")
        (size,) = struct.unpack(">I", head)
        sealed = self._raw.read(size)
        if len(sealed) != size or size < _TAG:
            raise ArchiveKeyError(f"{self._name}: the file ends inside a chunk (cut short)")
        nonce = _nonce(self._file_id, self._number)
        for last in (False, True):
            try:
                self._plain = self._aead.decrypt(nonce, sealed, _aad(self._file_id, self._number, last))
            except InvalidTag:
                continue
            self._number += 1
            if last:
                self._done = True
                if self._raw.read(1):
                    raise ArchiveKeyError(f"{self._name}: data after the last chunk")
            return
        raise ArchiveKeyError(f"{self._name}: chunk {self._number} fails authentication (wrong key, or the "
                              "file was changed)")

    def readinto(self, buffer: Any) -> int:
        while not self._plain and not self._done:
            self._next()
        n = min(len(buffer), len(self._plain))
        buffer[:n] = self._plain[:n]
        self._plain = self._plain[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def open_encrypted_write(raw: IO[bytes], key: bytes) -> IO[bytes]:
    return io.BufferedWriter(EncryptingWriter(raw, key), buffer_size=CHUNK)  # type: ignore[return-value]


def open_decrypted(path: Path, key: bytes) -> IO[bytes]:
    return io.BufferedReader(DecryptingReader(path.open("rb"), key, path.name), buffer_size=CHUNK)  # type: ignore[return-value]


def decrypt_to_memory(path: Path, key: bytes) -> io.BytesIO:
    with open_decrypted(path, key) as f:
        return io.BytesIO(f.read())
