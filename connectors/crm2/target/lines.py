"""Reading target-crm2's input: bytes in, one Singer message (or one reasoned refusal) per line.

Each line is read as bytes and decoded on its own, so a line nothing can read costs only that
line: it comes back as an :class:`Unreadable` with the reason and, when the line names one, its
stream, and the target quarantines it and goes on. What makes a line unreadable:

* longer than ``max_line_bytes`` (read in bounded pieces, so such a line never sits in memory);
* invalid UTF-8, or a ``\\u`` escape of a lone surrogate (text no database column can hold);
* not JSON, or NaN/Infinity (not JSON numbers; msgspec refuses them);
* nested deeper than ``max_depth`` objects/arrays (the Singer message itself is level 1);
* a number out of range: a magnitude above the largest double (about 1.8e308), or non-zero
  and below 1e-324 — beyond what a double holds, so beyond what every tool downstream can read.

The common case costs msgspec's decode plus two ``bytes.count`` calls; the depth walk and the
big-integer check only run on lines whose brackets or digit runs could break a limit.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

import msgspec

DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
MSGSPEC_MAX_DEPTH = 900
"""msgspec gives up a little below 1,000 levels; the depth setting stays under it."""
NUMBER_EXPONENT_LIMIT = 308
KEPT_BYTES = 4096
"""How much of an unreadable line its quarantine row keeps (with the full size and a digest)."""

_STREAM = re.compile(rb'"stream"\s*:\s*"([A-Za-z0-9_.\-/: ]{1,255})"')
_LARGEST = Decimal(sys.float_info.max)
_HUGE = int(sys.float_info.max)
_SMALLEST_EXPONENT = -324
_LONG_DIGITS = re.compile(rb"[0-9]{%d}" % (NUMBER_EXPONENT_LIMIT + 1))
_NON_FINITE = re.compile(rb"[\[:,]\s*-?(NaN|Infinity)\b")
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class _OutOfRange(ValueError):
    pass


def _float(text: str) -> Decimal:
    """msgspec's hook for every number with a fraction or exponent: exact, and in range."""
    if len(text) <= 40 and "e" not in text and "E" not in text:
        return Decimal(text)  # no exponent and at most 40 characters: far inside the range (money, mostly)
    value = Decimal(text)
    if value and not _SMALLEST_EXPONENT <= value.adjusted() < NUMBER_EXPONENT_LIMIT \
            and (value.adjusted() != NUMBER_EXPONENT_LIMIT or abs(value) > _LARGEST):
        raise _OutOfRange("number out of range")
    return value


_DECODER = msgspec.json.Decoder(float_hook=_float)


@dataclass(frozen=True)
class Unreadable:
    """A line that is not a usable Singer message: why, which stream it names (if any), a prefix."""

    reason: str
    stream: str | None
    head: bytes
    size: int

    def kept(self) -> dict[str, Any]:
        """What the quarantine keeps: the start of the line as text, and its full size."""
        return {"line": self.head[:KEPT_BYTES].decode("utf-8", "backslashreplace"), "line_bytes": self.size}


def read_lines(source: IO[Any], max_line_bytes: int) -> Iterator[bytes | Unreadable]:
    """Lines of ``source`` as bytes; a line over the limit is skipped in pieces and reported.

    A text stream is read through its byte buffer; one without (io.StringIO in tests) is
    encoded line by line, lone surrogates kept as the invalid bytes they stand for."""
    raw = getattr(source, "buffer", None)
    if raw is None and isinstance(source, io.TextIOBase):
        for text in source:
            line = text.encode("utf-8", "surrogatepass")
            yield line if len(line) <= max_line_bytes + 1 else _oversize(line[:KEPT_BYTES], len(line), max_line_bytes)
        return
    if raw is None:
        raw = source
    readline = raw.readline
    while True:
        line = readline(max_line_bytes + 1)
        if not line:
            return
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            head, size = line[:KEPT_BYTES], len(line)
            while line and not line.endswith(b"\n"):
                line = readline(1 << 20)
                size += len(line)
            yield _oversize(head, size, max_line_bytes)
            continue
        yield line


def _oversize(head: bytes, size: int, limit: int) -> Unreadable:
    return Unreadable(f"line longer than {limit:,} bytes (max_line_bytes)", stream_named(head), head, size)


def stream_named(line: bytes) -> str | None:
    """The stream a line names, when it can be read without decoding the line."""
    found = _STREAM.search(line, 0, 65536)
    return found.group(1).decode("ascii") if found else None


def decode_line(line: bytes, max_depth: int) -> dict[str, Any] | Unreadable | None:
    """The message of one line; None for a blank line; Unreadable with the reason otherwise."""
    return _decode(line, max_depth, want_message=True)


def decode_record(line: bytes, max_depth: int) -> Any:
    """One record of a BATCH file (a JSON value per line, not a Singer message): the value, None
    for a blank line, or Unreadable with the reason. Limits as for a RECORD line, where the
    record sits one level below the message, so a record passes here exactly when its RECORD
    line would. A line whose value is not an object (``null``, a list) is refused, as a
    RECORD message's non-object record is quarantined."""
    if not line.strip():
        return None
    value = _decode(line, max_depth - 1, want_message=False)
    if not isinstance(value, dict | Unreadable):
        return _refused(line, "record is not a JSON object")
    return value


def _decode(line: bytes, max_depth: int, *, want_message: bool) -> Any:
    try:
        message = _DECODER.decode(line)
    except msgspec.ValidationError as exc:  # our float hook, or an integer msgspec cannot hold
        return _refused(line, "number out of range" if "range" in str(exc) else "not JSON")
    except msgspec.DecodeError as exc:
        if not line.strip():
            return None
        # msgspec refuses an escaped lone surrogate; Python's json reads it, and the record is
        # then quarantined on its own, by its key, where the entity model refuses the text
        message = _json_with_surrogates(line, want_message) if _SURROGATE.search(line) else None
        if message is None:
            return _refused(line, _why_not_json(line, str(exc)))
    except RecursionError:
        return _refused(line, f"nested deeper than {max_depth} levels (max_depth)")
    if want_message and (not isinstance(message, dict) or "type" not in message):
        return _refused(line, "line is not a JSON Singer message")
    # Cheap guards first: a line cannot be deeper than its count of brackets, and an integer
    # out of range needs a run of more than 308 digits somewhere in the line.
    if line.count(b"{") + line.count(b"[") > max_depth and _depth(message, max_depth) > max_depth:
        return _refused(line, f"nested deeper than {max_depth} levels (max_depth)")
    if _LONG_DIGITS.search(line) and _huge_int(message):
        return _refused(line, "number out of range")
    return message


def _json_with_surrogates(line: bytes, want_message: bool = True) -> dict[str, Any] | None:
    try:
        message = json.loads(line.decode("utf-8"), parse_float=_float, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    return message if isinstance(message, dict) and ("type" in message or not want_message) else None


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _refused(line: bytes, reason: str) -> Unreadable:
    return Unreadable(reason, stream_named(line), line[:KEPT_BYTES], len(line))


def _why_not_json(line: bytes, decoder_says: str) -> str:
    if "UTF-8" in decoder_says:
        return "invalid UTF-8"
    try:  # msgspec names bad UTF-8 only inside strings; outside them it is just a bad character
        line.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid UTF-8"
    if _SURROGATE.search(line):
        return "invalid unicode escape (a lone surrogate)"
    if _NON_FINITE.search(line):
        return "NaN or Infinity is not a JSON number"
    return "line is not a JSON Singer message"


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of decoded JSON, iteratively, stopping as soon as it passes ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _huge_int(value: Any) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) > _HUGE:
            return True
    return False
