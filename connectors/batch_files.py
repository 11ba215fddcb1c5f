"""Singer BATCH files as crm2's programs write and read them.

A tap configured with singer-sdk's ``batch_config`` sends, instead of one RECORD line per record,
one BATCH message per file of records (JSON Lines, optionally gzip; the SDK's format, so any
BATCH-aware target reads crm2's files and target-crm2 reads any tap's). What crm2 adds:

* **private files** — each file is created 0600 with ``O_EXCL`` (never over an existing file)
  in a 0700 folder, whatever the process umask; they hold personal data in the clear, like the
  pipe would, so the orchestrator puts them in a private temporary folder and target-crm2
  deletes each one once its rows are committed;
* **speed** — records are encoded by msgspec (about 4× singer-sdk's simplejson) with money kept
  exact (Decimal written as a JSON number, digit for digit), and gzip only when asked for;
* **reading line by line** (target side) — each line is decoded on its own with the same
  decoder as a RECORD line (floats as exact Decimals, the same size, depth and range limits), so
  a record gets the same fingerprint whichever way it came, and a line nothing can read is
  handed back with its reason to be quarantined while the lines around it load. Files are read
  in chunks, never whole, so a big file does not sit in memory.

Storage other than the local file system (``s3://…``) is read through singer-sdk's fsspec
storage, as singer-sdk's own targets do; crm2's taps write only to local folders.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlparse
from uuid import uuid4

import msgspec
from singer_sdk.batch import BaseBatcher, lazy_chunked_generator

from sync import private

BATCH_SIZE = 10_000
"""Records per file when the orchestrator turns batches on (singer-sdk's default too)."""


class BatchFileError(OSError):
    """A batch file named in a BATCH message cannot be opened or read to its end."""


def _encode_other(value: Any) -> Any:
    return str(value)  # what singer-sdk's writer does with types JSON lacks


_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=_encode_other)


def local_path(url: str) -> Path | None:
    """The local file a ``file://`` URL (or a plain path) names; None for remote storage."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file") and parsed.netloc in ("", "localhost"):
        return Path(unquote(parsed.path))
    if len(parsed.scheme) == 1:  # a Windows drive letter, not a scheme
        return Path(url)
    return None


class PrivateJSONLBatcher(BaseBatcher):
    """JSON Lines batch files, private, written with msgspec; gzip when the encoding asks."""

    last_count = 0
    """Records in the file last yielded (crm2's BATCH messages say it, for progress bars)."""

    def get_batches(self, records: Iterator[dict]) -> Iterator[list[str]]:
        storage = self.batch_config.storage
        folder = local_path(storage.root)
        if folder is None:
            raise ValueError("crm2's taps write batch files to a local folder only (batch_config.storage.root)")
        private.mkdir(folder)
        gz = (self.batch_config.encoding.compression or "").lower() == "gzip"
        sync_id = f"{storage.prefix or ''}{self.tap_name}--{self.stream_name}-{uuid4()}"
        for i, chunk in enumerate(lazy_chunked_generator(records, self.batch_config.batch_size), start=1):
            path = folder / f"{sync_id}-{i}.jsonl{'.gz' if gz else ''}"
            rows = list(chunk)
            data = _ENCODER.encode_lines(rows)
            with private.open_write(path, "xb") as raw:
                if gz:
                    # level 1: the file lives for seconds on a local disk; CPU matters more than bytes
                    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as out:
                        out.write(data)
                else:
                    raw.write(data)
            self.last_count = len(rows)
            yield [path.as_uri()]


# -- reading (target side) --------------------------------------------------------------------

def _open(url: str, gz: bool, stack: ExitStack) -> IO[bytes]:
    path = local_path(url)
    if path is not None:
        raw: IO[bytes] = stack.enter_context(open(path, "rb"))  # noqa: SIM115 - closed by the stack
    else:
        from singer_sdk.helpers._batch import StorageTarget

        head, tail = StorageTarget.split_url(url)
        raw = stack.enter_context(StorageTarget.from_url(head).open(tail, mode="rb"))
    if gz:
        unzipped: IO[bytes] = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))  # type: ignore[arg-type]
        return unzipped
    return raw


def read_jsonl(url: str, *, gz: bool, chunk: int, max_line_bytes: int, max_depth: int,
               ) -> Iterator[list[tuple[int, Any]]]:
    """Chunks of (line number, record or Unreadable) from one JSON Lines batch file; blank lines
    skipped. Raises BatchFileError when the file cannot be opened or read to its end."""
    from connectors.crm2.target.lines import decode_record, read_lines

    try:
        with ExitStack() as stack:
            source = _open(url, gz, stack)
            items: list[tuple[int, Any]] = []
            for number, line in enumerate(read_lines(source, max_line_bytes), 1):
                value = line if not isinstance(line, bytes) else decode_record(line, max_depth)
                if value is None:
                    continue  # a blank line
                items.append((number, value))
                if len(items) >= chunk:
                    yield items
                    items = []
            if items:
                yield items
    except (OSError, EOFError, gzip.BadGzipFile, ValueError) as exc:
        raise BatchFileError(f"{type(exc).__name__}") from None


def read_parquet(url: str, *, chunk: int) -> Iterator[list[tuple[int, Any]]]:
    """Chunks of (row number, record) from one Parquet batch file (needs pyarrow)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BatchFileError("Parquet batch files need pyarrow installed") from None
    number = 0
    try:
        with ExitStack() as stack:
            table = pq.ParquetFile(_open(url, False, stack))
            for batch in table.iter_batches(batch_size=chunk):
                rows = batch.to_pylist()
                yield [(number + i, row) for i, row in enumerate(rows, 1)]
                number += len(rows)
    except (OSError, EOFError, ValueError) as exc:
        raise BatchFileError(f"{type(exc).__name__}") from None


def read(url: str, encoding: dict[str, Any], *, chunk: int, max_line_bytes: int,
         max_depth: int) -> Iterable[list[tuple[int, Any]]]:
    """The records of one batch file in chunks, whatever its singer-sdk encoding."""
    fmt = str(encoding.get("format", "")).lower()
    if fmt == "jsonl":
        gz = str(encoding.get("compression") or "").lower() == "gzip"
        return read_jsonl(url, gz=gz, chunk=chunk, max_line_bytes=max_line_bytes, max_depth=max_depth)
    if fmt == "parquet":
        return read_parquet(url, chunk=chunk)
    raise BatchFileError(f"unsupported batch encoding format {fmt!r}")


def remove_under(url: str, folder: Path) -> bool:
    """Delete a local batch file once its rows are committed, only if it lies inside ``folder``
    (a tap must not be able to make the target delete anything else). True when removed."""
    path = local_path(url)
    if path is None:
        return False
    try:
        resolved = path.resolve(strict=True)
    except OSError:
        return False
    if not resolved.is_file() or not resolved.is_relative_to(folder.resolve()):
        return False
    try:
        os.remove(resolved)
    except OSError:
        return False
    return True
