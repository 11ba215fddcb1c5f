"""`crm2 migrate archive`: the retired system's raw records and crm2's crosswalk, with checksums.

A fresh full read of each source (its tap, no state, every stream and field) is written per
stream to ``OUT/<source>/<stream>.jsonl`` (``.jsonl.gz`` with ``--gzip``, ``.parquet`` with
``--format parquet``), and crm2's crosswalk for the source — source id → golden id, status — to
``OUT/<source>/_crosswalk.*``. ``OUT/manifest.json`` lists every file with rows, bytes and SHA-256,
the source and its taps' key properties, when and by which crm2 version and run it was written,
and the migration run it archives. ``--check DIR`` recomputes everything (see
:func:`sync.migrate.archive_files.check`). Erasures rewrite files and append to the manifest
(:mod:`sync.migrate.erase`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import sqlalchemy as sa

from sync.migrate import archive_crypto
from sync.migrate.archive_files import (
    ArchiveRefused,
    FileEntry,
    JsonlWriter,
    Manifest,
    jsonl_to_parquet,
    private_dir,
    safe_name,
    sha256_of,
    write_parquet,
)
from sync.migrate.full_run import last_migration_run
from sync.migrate.singer_reader import Record, Schema
from sync.migrate.sources import Source
from sync.store import Store
from sync.store.schema import crosswalk

FORMATS = ("jsonl", "parquet")
CROSSWALK_FILE = "_crosswalk"
"""Stream files are named after streams; a leading underscore keeps the crosswalk apart."""


def crm2_version() -> str:
    try:
        return version("crm2")
    except PackageNotFoundError:
        return "dev"


def _finish(folder: Path, entry: FileEntry) -> FileEntry:
    path = folder / entry.path
    entry.bytes = path.stat().st_size
    entry.sha256 = sha256_of(path)
    return entry


def _crosswalk_rows(store: Store, source: str) -> list[dict[str, str | None]]:
    c = crosswalk
    with store.engine.connect() as conn:
        return [{"source_system": source, "source_object": r.source_object, "source_id": r.source_id,
                 "entity": r.entity, "golden_id": r.golden_id, "status": r.status}
                for r in conn.execute(sa.select(c.c.source_object, c.c.source_id, c.c.entity, c.c.golden_id,
                                                c.c.status).where(c.c.source_system == source)
                                      .order_by(c.c.source_object, c.c.source_id))]


class _Writer:
    """Writes one source's files in the chosen format."""

    def __init__(self, folder: Path, source: str, fmt: str, compress: bool, key: bytes | None = None) -> None:
        self.folder, self.source, self.fmt, self.compress, self.key = folder, source, fmt, compress, key
        self.staging = folder / ".partial" / source  # Parquet is typed from the whole stream: JSONL first

    def suffix(self) -> str:
        return ".parquet" if self.fmt == "parquet" else ".jsonl.gz" if self.compress else ".jsonl"

    def relative(self, name: str) -> str:
        return f"{safe_name(self.source)}/{safe_name(name)}{self.suffix()}"

    def open(self, name: str) -> JsonlWriter:
        if self.fmt == "parquet":
            return JsonlWriter(self.staging / f"{safe_name(name)}.jsonl", compressed=False, key=self.key)
        return JsonlWriter(self.folder / self.relative(name), compressed=self.compress, key=self.key)

    def close(self, name: str, writer: JsonlWriter, entry: FileEntry) -> FileEntry:
        writer.close()
        if self.fmt == "parquet":
            entry.rows, entry.columns = jsonl_to_parquet(writer.path, self.folder / entry.path, self.key)
            writer.path.unlink()
        else:
            entry.rows = writer.rows
        return _finish(self.folder, entry)


def write_archive(out: Path, store: Store, sources: Sequence[Source], *, fmt: str = "jsonl", compress: bool = False,
                  config: str | None = None, on_record: Callable[[str, int], None] | None = None,
                  encrypt: bool = False) -> Manifest:
    """Archive every source into the empty (or new) folder ``out``; the run is recorded as
    ``migrate-archive``. Raises ArchiveError for a folder that already holds files. With
    ``encrypt``, every file is AES-256-GCM encrypted with the key in ``CRM2_ARCHIVE_KEY``."""
    key = None
    if encrypt:
        try:
            key = archive_crypto.key_from_env()
        except archive_crypto.ArchiveKeyError as exc:
            raise ArchiveRefused(str(exc)) from None  # no usable key: nothing was written
    if fmt not in FORMATS:
        raise ArchiveRefused(f"unknown format '{fmt}' (expected one of: {', '.join(FORMATS)})")
    if out.exists() and any(out.iterdir()):
        raise ArchiveRefused(f"{out} is not empty: an archive is written to a new folder, never over another")
    created = not out.exists()
    private_dir(out)
    run_id = store.start_run("migrate-archive", config)
    encoding = "parquet" if fmt == "parquet" else "jsonl.gz" if compress else "jsonl"
    manifest = Manifest(created_at=datetime.now(UTC).isoformat(timespec="seconds"), crm2_version=crm2_version(),
                        encoding=encoding, run_id=run_id, migration_run_id=last_migration_run(store))
    if key is not None:
        manifest.encryption = {"scheme": archive_crypto.SCHEME, "key_env": archive_crypto.KEY_ENV,
                               "key_id": archive_crypto.key_id(key)}
    try:
        for source in sources:
            _archive_source(out, store, source, manifest, fmt, compress, on_record, key)
        shutil.rmtree(out / ".partial", ignore_errors=True)
        manifest.save(out)
    except BaseException as exc:
        store.finish_run(run_id, status="failed", exit_code=1, error=type(exc).__name__)
        _discard(out, created)  # half an archive is no archive; the folder is ready for the next attempt
        raise
    store.finish_run(run_id, status="ok", exit_code=0,
                     counts={"archived": {f.path: f.rows for f in manifest.files}})
    return manifest


def _discard(out: Path, created: bool) -> None:
    if created:
        shutil.rmtree(out, ignore_errors=True)
        return
    for child in out.iterdir():  # the folder was empty when we started: everything in it is ours
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _archive_source(out: Path, store: Store, source: Source, manifest: Manifest, fmt: str, compress: bool,
                    on_record: Callable[[str, int], None] | None, key: bytes | None = None) -> None:
    writer = _Writer(out, source.name, fmt, compress, key)
    files: dict[str, JsonlWriter] = {}
    keys: dict[str, list[str]] = {}
    progress = (lambda n: on_record(source.name, n)) if on_record else None
    try:
        for message in source.tap.read(None, on_record=progress):
            if isinstance(message, Schema):
                keys[message.stream] = message.key_properties
            elif isinstance(message, Record):
                if message.stream not in files:
                    files[message.stream] = writer.open(message.stream)
                files[message.stream].write(message.record)
    except BaseException:
        for w in files.values():
            w.close()
        raise
    streams: dict[str, dict[str, object]] = {}
    for stream in sorted(set(keys) | set(files)):
        entry = FileEntry(writer.relative(stream), source.name, "records", stream, encrypted=key is not None)
        w = files.get(stream) or writer.open(stream)  # a stream without records still gets its (empty) file
        manifest.files.append(writer.close(stream, w, entry))
        streams[stream] = {"key_properties": keys.get(stream, []), "file": entry.path}
    xw = FileEntry(writer.relative(CROSSWALK_FILE), source.name, "crosswalk", encrypted=key is not None)
    rows = _crosswalk_rows(store, source.name)
    if fmt == "parquet":
        xw.columns = {k: "string" for k in ("source_system", "source_object", "source_id", "entity", "golden_id",
                                            "status")}
        xw.rows = write_parquet(out / xw.path, rows, xw.columns, key)
    else:
        out_file = JsonlWriter(out / xw.path, compressed=compress, key=key)
        for row in rows:
            out_file.write(row)
        out_file.close()
        xw.rows = out_file.rows
    manifest.files.append(_finish(out, xw))
    manifest.sources[source.name] = {"tap": source.extractor.tap, "streams": streams,
                                     "crosswalk": xw.path}
