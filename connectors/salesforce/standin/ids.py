"""Salesforce record ids: 15-character case-sensitive ids and their 18-character safe form.

An id is a 3-character key prefix (the object), 12 more base-62 characters, and for the
18-character form a 3-character suffix that encodes which of the first 15 characters are upper
case, so the id survives case-insensitive systems. New ids here count up in base 62 behind a
fixed pod marker, so they never collide with each other and sort in creation order.
"""

from __future__ import annotations

import re
import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX_CHARS = string.ascii_uppercase + "012345"
_ID_SHAPE = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
POD = "8d"
"""Characters 4-5 of every generated id (Salesforce's instance/pod field)."""


def checksum_suffix(id15: str) -> str:
    suffix = []
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix.append(_SUFFIX_CHARS[bits])
    return "".join(suffix)


def to_18(value: str) -> str | None:
    """The 18-character id for a 15- or 18-character id; None if it is not id-shaped.

    18-character ids are taken as given (not re-checksummed): test data and imported ids often
    carry arbitrary suffixes, and Salesforce itself only uses the first 15 characters to look up.
    """
    if not _ID_SHAPE.fullmatch(value):
        return None
    return value if len(value) == 18 else value + checksum_suffix(value)


def make_id(prefix: str, number: int) -> str:
    """The 18-character id numbered ``number`` for a key prefix."""
    digits = []
    for _ in range(10):
        number, rem = divmod(number, 62)
        digits.append(BASE62[rem])
    if number:
        raise OverflowError("id space exhausted")
    id15 = prefix + POD + "".join(reversed(digits))
    return id15 + checksum_suffix(id15)
