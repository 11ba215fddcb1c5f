"""Encrypted migration archives: AES-256-GCM streams that fail loudly when changed, cut or keyed
wrong; `crm2 migrate archive --encrypt` and `--check` on a real org; erasure rewrites them encrypted."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_migrate_erase import _person
from test_migrate_support import Org, copy_store, crm2, find_values, start_org

from sync.migrate import archive_crypto
from sync.migrate.archive_crypto import ArchiveKeyError, DecryptingReader, EncryptingWriter

KEY = bytes(range(32))


def _seal(data: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    out.close = lambda: None  # keep the buffer readable after the writer closes it
    writer = EncryptingWriter(out, key)
    writer.write(data)
    writer.close()
    return out.getvalue()


def _open(sealed: bytes, key: bytes = KEY) -> bytes:
    return io.BufferedReader(DecryptingReader(io.BytesIO(sealed), key, "f")).read()


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_crypto, "CHUNK", 64)


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 128, 1000])
def test_round_trip_across_chunk_boundaries(small_chunks: None, size: int):
    data = os.urandom(size)
    sealed = _seal(data)
    assert _open(sealed) == data
    assert data[:16] not in sealed[len(archive_crypto.MAGIC) + 8:] or size < 16


def test_changed_cut_reordered_or_wrongly_keyed_files_fail(small_chunks: None):
    data = b"jane.doe@example.com,+4915112345678\n" * 20
    sealed = _seal(data)
    flipped = bytearray(sealed)
    flipped[40] ^= 1
    frame = 4 + 64 + 16
    start = len(archive_crypto.MAGIC) + 8
    swapped = sealed[:start] + sealed[start + frame:start + 2 * frame] + sealed[start:start + frame] + \
        sealed[start + 2 * frame:]
    cases = {"changed": bytes(flipped), "cut inside": sealed[:-5], "last chunk dropped": sealed[:start + frame],
             "reordered": swapped}
    for name, broken in cases.items():
        with pytest.raises(ArchiveKeyError):
            _open(broken)
            pytest.fail(name)
    with pytest.raises(ArchiveKeyError, match="wrong key"):
        _open(sealed, bytes(32))
    assert b"jane.doe" not in sealed


def test_key_must_be_256_bits_of_hex(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(archive_crypto.KEY_ENV, raising=False)
    with pytest.raises(ArchiveKeyError, match="set CRM2_ARCHIVE_KEY"):
        archive_crypto.key_from_env()
    monkeypatch.setenv(archive_crypto.KEY_ENV, "secret")
    with pytest.raises(ArchiveKeyError, match="64 hex digits"):
        archive_crypto.key_from_env()


# -- a real org ------------------------------------------------------------------------------------
ARCHIVE_KEY = archive_crypto.new_key()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    org = start_org(tmp_path_factory.mktemp("archive-encrypted"))
    org.env[archive_crypto.KEY_ENV] = ARCHIVE_KEY
    try:
        result = crm2(org, "migrate", "run", "--config", org.config)
        assert result.returncode in (0, 3), result.stderr
        yield org
    finally:
        org.stop()


@pytest.fixture
def archive_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(archive_crypto.KEY_ENV, ARCHIVE_KEY)  # for reading the archives in this process


def test_encrypted_archives_check_and_erase_without_plaintext(org: Org, tmp_path: Path, archive_key: None):
    store = copy_store(org.store, tmp_path / "erase.sqlite")
    config = org.config_for(store, "erase")
    folders = {}
    for name, args in {"jsonl": ["--gzip"], "parquet": ["--format", "parquet"]}.items():
        folders[name] = tmp_path / name
        done = crm2(org, "migrate", "archive", "--config", config, "--out", folders[name], "--encrypt", *args)
        assert done.returncode == 0, done.stderr
        manifest = json.loads((folders[name] / "manifest.json").read_text())
        assert manifest["encryption"]["scheme"] == archive_crypto.SCHEME
        assert ARCHIVE_KEY not in (folders[name] / "manifest.json").read_text()
        assert all(f["encrypted"] for f in manifest["files"])
        for path in folders[name].rglob("*"):
            if path.is_file() and path.name != "manifest.json":
                assert path.read_bytes().startswith(archive_crypto.MAGIC), path
        assert crm2(org, "migrate", "archive", "--check", folders[name]).returncode == 0
    person = _person(org, store, folders["jsonl"])
    assert find_values(store, folders.values(), person.needles)  # read through the key
    raw = b"".join(p.read_bytes() for f in folders.values() for p in f.rglob("*") if p.is_file())
    assert not any(n.encode() in raw for n in person.needles)  # but never in a byte on disk

    env_without = {**os.environ, **org.env}
    env_without.pop(archive_crypto.KEY_ENV)
    missing = subprocess.run([sys.executable, "-m", "sync", "--no-json-logs", "migrate", "archive", "--check",
                              str(folders["jsonl"])], capture_output=True, text=True, env=env_without, timeout=300)
    assert missing.returncode == 2 and "set CRM2_ARCHIVE_KEY" in missing.stderr
    wrong = subprocess.run([sys.executable, "-m", "sync", "--no-json-logs", "migrate", "archive", "--check",
                            str(folders["jsonl"])], capture_output=True, text=True, timeout=300,
                           env={**env_without, archive_crypto.KEY_ENV: archive_crypto.new_key()})
    assert wrong.returncode == 2 and "not this archive's key" in wrong.stderr

    subject = next(r for r in person.refs if r.startswith("salesforce/"))
    erased = crm2(org, "migrate", "erase", "--config", config, "--subject", subject, "--archive", folders["jsonl"],
                  "--archive", folders["parquet"], "--apply")
    assert erased.returncode == 0, erased.stderr
    assert find_values(store, folders.values(), person.needles) == []
    for folder in folders.values():
        assert crm2(org, "migrate", "archive", "--check", folder).returncode == 0
        rewritten = json.loads((folder / "manifest.json").read_text())["erasures"][0]["files"]
        assert rewritten and all((folder / p).read_bytes().startswith(archive_crypto.MAGIC) for p in rewritten)
        assert not list(folder.rglob("*.tmp"))

    target = next(p for p in folders["jsonl"].rglob("*.jsonl.gz") if p.stat().st_size > 1000)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x20
    target.write_bytes(bytes(data))
    changed = crm2(org, "migrate", "archive", "--check", folders["jsonl"])
    where = target.relative_to(folders["jsonl"])
    assert changed.returncode == 1 and f"{where}: SHA-256 does not match" in changed.stdout
