"""A Singer message writer that sends records down the pipe in blocks, not one write each.

singer-sdk's writer flushes stdout after every message: one ``write`` system call per record,
and with ``PYTHONUNBUFFERED`` (set by many schedulers and containers) nothing batches them
either. The tap then spends its time handing lines one by one to a pipe the target drains one
by one. This writer keeps RECORD lines in memory and writes them in blocks of about 256 KiB;
every other message (SCHEMA, STATE, ACTIVATE_VERSION, BATCH) first writes what is pending and is
flushed at once, so a target sees each STATE right after the records it covers — the Singer
contract that state follows its data holds exactly as before. Records after the last STATE of
a tap that dies are lost either way (no bookmark covers them), so buffering them risks nothing.

RECORD lines are encoded with msgspec (C) instead of singer-sdk's simplejson call: on a 100k-row
ledger that call was about a fifth of the tap's CPU time (docs/batches.md, "Where the finance tap
waits"). The line means the same JSON: Decimal digit for digit (``decimal_format="number"``
prints ``str(Decimal)``, as simplejson's ``use_decimal`` does), ``time_extracted`` in the same
``isoformat`` spelling, compact separators; only non-ASCII text is written as UTF-8 instead of
``\\uXXXX`` escapes. A value msgspec cannot write as singer-sdk would (a NaN Decimal, an unknown
type) sends that record through singer-sdk's own encoder, so nothing is ever refused here.
"""

from __future__ import annotations

import atexit
import sys
from typing import Any

import msgspec
from singer_sdk.singerlib.encoding import SimpleSingerWriter
from singer_sdk.singerlib.messages import Message, RecordMessage

BLOCK = 256 * 1024
"""Bytes of RECORD lines held before they are written (a pipe buffer is 64 KiB on Linux)."""


def _refuse(value: Any) -> Any:
    """msgspec's hook for types it does not know: hand the record to singer-sdk's encoder."""
    raise TypeError(type(value).__name__)


_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=_refuse)


class BlockSingerWriter(SimpleSingerWriter):
    """RECORD lines in blocks; any other message flushed immediately, after the records before it."""

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[bytes] = []
        self._size = 0
        atexit.register(self.flush)

    def record_line(self, message: RecordMessage) -> bytes:
        """One RECORD message as a JSON line (bytes, UTF-8)."""
        out: dict[str, Any] = {"type": "RECORD", "stream": message.stream, "record": message.record}
        if message.version is not None:
            out["version"] = message.version
        if message.time_extracted is not None:
            out["time_extracted"] = message.time_extracted.isoformat(sep="T")
        try:
            return _ENCODER.encode(out) + b"\n"
        except (TypeError, ValueError, msgspec.EncodeError):
            return (self.format_message(message) + "\n").encode()

    def write_message(self, message: Message) -> None:
        if isinstance(message, RecordMessage):
            line = self.record_line(message)
            self._lines.append(line)
            self._size += len(line)
            if self._size >= BLOCK:
                self._write()
            return
        self._lines.append((self.format_message(message) + "\n").encode())
        self.flush()

    def _write(self) -> None:
        if not self._lines:
            return
        data = b"".join(self._lines)
        self._lines.clear()
        self._size = 0
        out = sys.stdout
        binary = getattr(out, "buffer", None)
        if binary is None:  # a text-only stream (io.StringIO in an in-process test run)
            out.write(data.decode())
            return
        out.flush()  # anything printed as text before goes first
        binary.write(data)

    def flush(self) -> None:
        self._write()
        sys.stdout.flush()
        binary = getattr(sys.stdout, "buffer", None)
        if binary is not None:
            binary.flush()
