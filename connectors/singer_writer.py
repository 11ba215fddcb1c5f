"""A Singer message writer that sends records down the pipe in blocks, not one write each.

singer-sdk's writer flushes stdout after every message: one ``write`` system call per record,
and with ``PYTHONUNBUFFERED`` (set by many schedulers and containers) nothing batches them
either. The tap then spends its time handing lines one by one to a pipe the target drains one
by one. This writer keeps RECORD lines in memory and writes them in blocks of about 256 KiB;
every other message (SCHEMA, STATE, ACTIVATE_VERSION, BATCH) first writes what is pending and is
flushed at once, so a target sees each STATE right after the records it covers — the Singer
contract that state follows its data holds exactly as before. Records after the last STATE of
a tap that dies are lost either way (no bookmark covers them), so buffering them risks nothing.
"""

from __future__ import annotations

import atexit
import sys

from singer_sdk.singerlib.encoding import SimpleSingerWriter
from singer_sdk.singerlib.messages import Message, RecordMessage

BLOCK = 256 * 1024
"""Characters of RECORD lines held before they are written (a pipe buffer is 64 KiB on Linux)."""


class BlockSingerWriter(SimpleSingerWriter):
    """RECORD lines in blocks; any other message flushed immediately, after the records before it."""

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[str] = []
        self._size = 0
        atexit.register(self.flush)

    def write_message(self, message: Message) -> None:
        line = self.format_message(message) + "\n"
        if isinstance(message, RecordMessage):
            self._lines.append(line)
            self._size += len(line)
            if self._size >= BLOCK:
                self._write()
            return
        self._lines.append(line)
        self.flush()

    def _write(self) -> None:
        if self._lines:
            sys.stdout.write("".join(self._lines))
            self._lines.clear()
            self._size = 0

    def flush(self) -> None:
        self._write()
        sys.stdout.flush()
