"""Archive files and their manifest: JSONL (optionally gzip) or Parquet, each with a SHA-256.

One file per source stream holds the raw records exactly as the tap extracted them; another per
source holds crm2's crosswalk for it. ``manifest.json`` lists every file with its rows, bytes and
SHA-256, so anyone can prove later that the archive is what was written (``crm2 migrate archive
--check``). Files are written reproducibly (gzip without a timestamp) so the same records give
the same checksums.

JSONL keeps every value as extracted (numbers as exact decimals). Parquet needs pyarrow (the
``crm2[parquet]`` extra); its columns are typed from what the records hold: booleans, 64-bit
integers and text stay themselves, other numbers are stored as exact decimal text, and nested or
mixed values as JSON text — the manifest names each column's encoding so rows read back as they
were written (a key a record did not have reads back as null).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import msgspec

from sync import private
from sync.errors import Crm2Error
from sync.exitcodes import ExitCode
from sync.migrate import archive_crypto
from sync.migrate.archive_crypto import ArchiveKeyError
from sync.migrate.singer_reader import decode

MANIFEST = "manifest.json"
FORMAT_NAME = "crm2-archive"
_ENCODER = msgspec.json.Encoder(decimal_format="number")
_VALUE = msgspec.json.Decoder(float_hook=Decimal)
_BATCH = 20_000
_INT64 = (-(2**63), 2**63 - 1)


class ArchiveError(Crm2Error):
    """An archive cannot be written or read as asked (a clear message, no data)."""


class ArchiveRefused(ArchiveError):
    """The request itself cannot work (not an archive, a folder that is not empty): nothing ran."""

    exit_code = ExitCode.CONFIG


def safe_name(name: str) -> str:
    """A stream name as a file name: unusual characters become '_' (the manifest keeps the real name)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".")
    return cleaned or "_"


def encode_line(row: Any) -> bytes:
    return _ENCODER.encode(row) + b"\n"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class FileEntry:
    path: str
    """Relative to the archive folder."""
    source: str
    kind: str
    """``records`` (a source stream, raw) or ``crosswalk``."""
    stream: str | None = None
    rows: int = 0
    bytes: int = 0
    sha256: str = ""
    columns: dict[str, str] | None = None
    """Parquet only: column → encoding (bool, int64, string, decimal, json)."""
    encrypted: bool = False
    """AES-256-GCM (sync.migrate.archive_crypto); bytes and SHA-256 are of the encrypted file."""


@dataclass
class Manifest:
    created_at: str
    crm2_version: str
    encoding: str
    """jsonl, jsonl.gz or parquet."""
    run_id: str | None = None
    migration_run_id: str | None = None
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Source → {tap, streams: {stream: {key_properties, file}}}."""
    files: list[FileEntry] = field(default_factory=list)
    erasures: list[dict[str, Any]] = field(default_factory=list)
    encryption: dict[str, str] | None = None
    """{scheme, key_env, key_id} when the files are encrypted (the key itself is never here)."""

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT_NAME, "version": 1, **asdict(self)}

    def save(self, folder: Path) -> None:
        tmp = folder / (MANIFEST + ".tmp")
        private.write_text(tmp, json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n")
        tmp.replace(folder / MANIFEST)  # never a half-written manifest

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ArchiveRefused(f"{path}: no manifest (not a crm2 archive)") from None
        except (OSError, ValueError) as exc:
            raise ArchiveError(f"{path}: unreadable manifest ({type(exc).__name__})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise ArchiveRefused(f"{path}: not a crm2 archive manifest")
        try:
            files = [FileEntry(**f) for f in data.get("files") or []]
            return cls(created_at=data["created_at"], crm2_version=data["crm2_version"], encoding=data["encoding"],
                       run_id=data.get("run_id"), migration_run_id=data.get("migration_run_id"),
                       sources=data.get("sources") or {}, files=files, erasures=data.get("erasures") or [],
                       encryption=data.get("encryption"))
        except (KeyError, TypeError) as exc:
            raise ArchiveError(f"{path}: manifest is missing or has a bad entry ({exc})") from None


# -- JSONL --------------------------------------------------------------------------------------
def private_dir(path: Path) -> None:
    """Archives hold personal data: folders only their owner can enter, files only they can read."""
    private.mkdir(path)


def _open_write(path: Path, compressed: bool, key: bytes | None = None) -> IO[bytes]:
    private_dir(path.parent)
    raw = private.open_write(path, "wb")
    if key is not None:
        raw = archive_crypto.open_encrypted_write(raw, key)
    if not compressed:
        return raw
    return _GzipWriter(raw)  # type: ignore[return-value]  # a GzipFile is a binary file object


class _GzipWriter(gzip.GzipFile):
    """gzip without a name or timestamp in its header, so the same rows give the same bytes."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        super().__init__(filename="", mode="wb", fileobj=raw, mtime=0)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


class JsonlWriter:
    def __init__(self, path: Path, compressed: bool, key: bytes | None = None) -> None:
        self.path, self.rows = path, 0
        self._out = _open_write(path, compressed, key)

    def write(self, row: Any) -> None:
        self._out.write(encode_line(row))
        self.rows += 1

    def close(self) -> None:
        self._out.close()


def read_jsonl(path: Path, key: bytes | None = None) -> Iterator[Any]:
    raw = archive_crypto.open_decrypted(path, key) if key is not None else path.open("rb")
    with raw, (gzip.GzipFile(fileobj=raw, mode="rb") if path.name.endswith(".gz") else raw) as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            row = decode(line)
            if row is None:
                raise ArchiveError(f"{path}: line {number} is not a JSON object")
            yield row


# -- Parquet --------------------------------------------------------------------------------------
def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ModuleNotFoundError:
        raise ArchiveRefused("Parquet needs pyarrow: pip install 'crm2[parquet]' (or use --format jsonl)") from None
    return pyarrow


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if _INT64[0] <= value <= _INT64[1] else "number"
    if isinstance(value, Decimal | float):
        return "number"
    if isinstance(value, str):
        return "str"
    return "json"


def column_encoding(kinds: set[str]) -> str:
    if not kinds or kinds == {"str"}:
        return "string"
    if kinds == {"bool"}:
        return "bool"
    if kinds == {"int"}:
        return "int64"
    if kinds <= {"int", "number"}:
        return "decimal"
    return "json"


def _encode_cell(value: Any, encoding: str) -> Any:
    if value is None:
        return None
    if encoding == "string":
        return value if isinstance(value, str) else None
    if encoding == "bool":
        return value if isinstance(value, bool) else None
    if encoding == "int64":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if encoding == "decimal":
        return str(value) if isinstance(value, int | Decimal | float) and not isinstance(value, bool) else None
    return _ENCODER.encode(value).decode()


def _decode_cell(value: Any, encoding: str) -> Any:
    if value is None:
        return None
    if encoding == "decimal":
        return Decimal(value)
    if encoding == "json":
        return _VALUE.decode(value)
    return value


def write_parquet(path: Path, rows: Iterable[dict[str, Any]], columns: dict[str, str],
                  key: bytes | None = None) -> int:
    """Write rows with the given column encodings (encrypted with ``key``); returns the row count."""
    pa = _pyarrow()
    arrow_type = {"bool": pa.bool_(), "int64": pa.int64()}
    schema = pa.schema([(name, arrow_type.get(enc, pa.string())) for name, enc in columns.items()])
    private_dir(path.parent)
    private.touch(path)
    count = 0
    sink = (pa.PythonFile(archive_crypto.open_encrypted_write(private.open_write(path, "wb"), key), mode="w")
            if key is not None else str(path))
    with pa.parquet.ParquetWriter(sink, schema, compression="zstd") as writer:
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            table = pa.Table.from_pylist(
                [{name: _encode_cell(row.get(name), enc) for name, enc in columns.items()} for row in batch],
                schema=schema)
            writer.write_table(table)
            batch.clear()

        for row in rows:
            batch.append(row if isinstance(row, dict) else {"value": row})
            count += 1
            if len(batch) >= _BATCH:
                flush()
        if batch or count == 0:
            flush()
    if key is not None:
        assert not isinstance(sink, str)  # a key always builds the encrypted PythonFile above
        sink.close()
    return count


def _parquet_source(path: Path, key: bytes | None) -> Any:
    # Parquet needs random access: an encrypted file is decrypted into memory, never onto disk
    return archive_crypto.decrypt_to_memory(path, key) if key is not None else str(path)


def read_parquet(path: Path, columns: dict[str, str], key: bytes | None = None) -> Iterator[dict[str, Any]]:
    pa = _pyarrow()
    parquet_file = pa.parquet.ParquetFile(_parquet_source(path, key))
    for batch in parquet_file.iter_batches(batch_size=_BATCH):
        for row in batch.to_pylist():
            yield {name: _decode_cell(row.get(name), columns.get(name, "string")) for name in row}


def parquet_rows(path: Path, key: bytes | None = None) -> int:
    return int(_pyarrow().parquet.ParquetFile(_parquet_source(path, key)).metadata.num_rows)


def jsonl_to_parquet(jsonl: Path, target: Path, key: bytes | None = None) -> tuple[int, dict[str, str]]:
    """Convert a (plain) JSONL file of objects to Parquet, typing columns from what the rows hold;
    with ``key``, both files are encrypted with it."""
    kinds: dict[str, set[str]] = {}
    for row in read_jsonl(jsonl, key):
        for name, value in (row.items() if isinstance(row, dict) else [("value", row)]):
            seen = kinds.setdefault(str(name), set())
            kind = _kind(value)
            if kind:
                seen.add(kind)
    columns = {name: column_encoding(k) for name, k in kinds.items()}
    rows = write_parquet(target, read_jsonl(jsonl, key), columns, key)
    return rows, columns


# -- any format -----------------------------------------------------------------------------------
def entry_key(entry: FileEntry) -> bytes | None:
    """The key of an encrypted file (from the environment), None for a plain one."""
    if not entry.encrypted:
        return None
    try:
        return archive_crypto.key_from_env()
    except ArchiveKeyError as exc:
        raise ArchiveRefused(str(exc)) from None  # no usable key: a setting to fix


def read_rows(folder: Path, entry: FileEntry) -> Iterator[dict[str, Any]]:
    path, key = folder / entry.path, entry_key(entry)
    try:
        if entry.path.endswith(".parquet"):
            yield from read_parquet(path, entry.columns or {}, key)
        else:
            yield from read_jsonl(path, key)
    except ArchiveKeyError as exc:
        raise ArchiveError(str(exc)) from None


def count_rows(folder: Path, entry: FileEntry) -> int:
    path, key = folder / entry.path, entry_key(entry)
    if entry.path.endswith(".parquet"):
        return parquet_rows(path, key)
    return sum(1 for _ in read_jsonl(path, key))


def rewrite(folder: Path, entry: FileEntry, rows: Iterable[dict[str, Any]]) -> None:
    """Replace a file's rows (same format, same columns), then refresh its rows, bytes and SHA-256."""
    path, key = folder / entry.path, entry_key(entry)
    tmp = path.with_name(path.name + ".tmp")
    if entry.path.endswith(".parquet"):
        entry.rows = write_parquet(tmp, rows, entry.columns or {}, key)
    else:
        writer = JsonlWriter(tmp, entry.path.endswith(".gz"), key)
        try:
            for row in rows:
                writer.write(row)
        finally:
            writer.close()
        entry.rows = writer.rows
    tmp.replace(path)
    entry.bytes = path.stat().st_size
    entry.sha256 = sha256_of(path)


def check(folder: Path) -> list[str]:
    """Problems with an archive: missing files, checksum or row-count mismatches, unlisted files."""
    manifest = Manifest.load(folder)
    problems: list[str] = []
    listed = set()
    if manifest.encryption:
        # rows are counted by decrypting in memory: an intact file also proves the key and the tags
        try:
            key = archive_crypto.key_from_env(manifest.encryption.get("key_env") or archive_crypto.KEY_ENV)
        except ArchiveKeyError as exc:
            raise ArchiveRefused(str(exc)) from None
        if archive_crypto.key_id(key) != manifest.encryption.get("key_id"):
            raise ArchiveRefused(f"the key in ${manifest.encryption.get('key_env')} is not this archive's key")
    for entry in manifest.files:
        listed.add(entry.path)
        path = folder / entry.path
        if not path.is_file():
            problems.append(f"{entry.path}: missing")
            continue
        if sha256_of(path) != entry.sha256:
            problems.append(f"{entry.path}: SHA-256 does not match the manifest (the file was changed)")
            continue
        try:
            rows = count_rows(folder, entry)
        except ArchiveKeyError as exc:
            problems.append(f"{entry.path}: {str(exc).removeprefix(Path(entry.path).name + ': ')}")
            continue
        except (ArchiveError, OSError, ValueError) as exc:
            problems.append(f"{entry.path}: unreadable ({type(exc).__name__})")
            continue
        if rows != entry.rows:
            problems.append(f"{entry.path}: {rows} rows, the manifest says {entry.rows}")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel != MANIFEST and rel not in listed:
            problems.append(f"{rel}: not listed in the manifest")
    return problems
