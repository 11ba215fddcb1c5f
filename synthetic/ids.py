"""Deterministic randomness and identifiers: per-customer random streams, permutations, id formats.

Nothing here depends on Python's salted ``hash`` or on process state, so the same (seed, customer)
gives the same stream in any process, on any run. Ids of distinct records are distinct by
construction (bijective permutations of the customer number), never by luck.
"""

from __future__ import annotations

import hashlib
import random
from math import gcd

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SF_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

SF_PREFIX = {"Account": "001", "Contact": "003", "Opportunity": "006", "Case": "500", "Task": "00T",
             "Event": "00U", "Survey_Response__c": "a01", "User": "005"}


def stream(seed: int, customer: int, part: str) -> random.Random:
    """The random stream of one part ('core', 'records', 'trade', 'crm') of one customer."""
    digest = hashlib.blake2b(f"{seed}:{customer}:{part}".encode(), digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big"))


def stable_int(*parts: object) -> int:
    """A 64-bit number from the parts, the same in every process (not Python's salted hash)."""
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


class Permutation:
    """A bijection of range(size): numbers look scattered but never collide."""

    __slots__ = ("_a", "_c", "size")

    def __init__(self, size: int, *key: object) -> None:
        h = stable_int("perm", size, *key)
        a = (h % max(size - 1, 1)) | 1
        while gcd(a, size) != 1:
            a += 2
        self._a, self._c, self.size = a, (h >> 32) % size, size

    def __call__(self, n: int) -> int:
        if not 0 <= n < self.size:
            raise ValueError(f"{n} is outside the permutation's range of {self.size}")
        return (n * self._a + self._c) % self.size


# Ids are made by the million: two-character base-62 digits and their upper-case bit masks are
# looked up rather than computed.
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_PAIRS = tuple(a + b for a in _BASE62 for b in _BASE62)
_PAIR_UPPER = tuple((a in _UPPER) | (b in _UPPER) << 1 for a in _BASE62 for b in _BASE62)
_FIVE = 62 ** 5


def _five(n: int) -> tuple[str, int]:
    """Five base-62 characters of ``n`` (< 62**5) and their upper-case mask."""
    a, rest = divmod(n, 62 ** 3)
    b, c = divmod(rest, 62)
    ch = _BASE62[c]
    return _PAIRS[a] + _PAIRS[b] + ch, _PAIR_UPPER[a] | _PAIR_UPPER[b] << 2 | (ch in _UPPER) << 4


def _chunk_mask(chunk: str) -> int:
    return sum(1 << pos for pos, ch in enumerate(chunk) if "A" <= ch <= "Z")


_HEADS = {obj: (prefix + "5g", _SF_SUFFIX[_chunk_mask(prefix + "5g")]) for obj, prefix in SF_PREFIX.items()}


def sf_id(obj: str, n: int) -> str:
    """An 18-character Salesforce id: key prefix, pod '5g', a 10-character record number, case-safe suffix.

    The last three characters are Salesforce's own checksum of the 15-character id (which of its
    letters are upper case), so the ids survive case-insensitive tools the way real ones do.
    """
    if not 0 <= n < _FIVE * _FIVE:
        raise ValueError("record number too large for a Salesforce id")
    head, head_suffix = _HEADS[obj]
    hi, lo = divmod(n, _FIVE)
    first, first_mask = _five(hi)
    last, last_mask = _five(lo)
    return head + first + last + head_suffix + _SF_SUFFIX[first_mask] + _SF_SUFFIX[last_mask]


def sf_checksum_ok(sfid: str) -> bool:
    """Whether an 18-character id's suffix matches its first 15 characters."""
    if len(sfid) != 18:
        return False
    core = sfid[:15]
    expected = "".join(
        _SF_SUFFIX[sum(1 << pos for pos, ch in enumerate(core[c * 5: c * 5 + 5]) if "A" <= ch <= "Z")]
        for c in range(3))
    return sfid[15:] == expected


# -- tax ids ------------------------------------------------------------------------------------
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_VALUE = {ch: (ord(ch) - 55 if ch.isalpha() else int(ch)) for ch in USCC_CHARS}


def uscc(region_code: str, body_number: int) -> str:
    """A Chinese unified social credit code: '91' (enterprise), region, organisation code, check char.

    The 9-character organisation code carries its own GB 11714 check digit, and the whole code
    the GB 32100 check character, as real codes do.
    """
    body = []
    for _ in range(8):
        body_number, r = divmod(body_number, 31)
        body.append(USCC_CHARS[r])
    org = "".join(body)
    check = 11 - sum(_ORG_VALUE[ch] * w for ch, w in zip(org, _ORG_WEIGHTS, strict=True)) % 11
    org += "X" if check == 10 else "0" if check == 11 else str(check)
    code = "91" + region_code + org
    total = sum(USCC_CHARS.index(ch) * w for ch, w in zip(code, _USCC_WEIGHTS, strict=True))
    return code + USCC_CHARS[(31 - total % 31) % 31]


def taiwan_ubn(number: int) -> str:
    """A Taiwanese unified business number (8 digits) whose check digit makes the weighted sum divisible by 10."""
    head = f"{number % 10_000_000:07d}"
    for last in "0123456789":
        digits = head + last
        total = 0
        for d, w in zip(digits, (1, 2, 1, 2, 1, 2, 4, 1), strict=True):
            p = int(d) * w
            total += p // 10 + p % 10
        if total % 10 == 0:
            return digits
    return head + "0"  # unreachable: one of ten last digits always completes the sum


# -- record numbers ------------------------------------------------------------------------------
# Each customer owns a fixed block of numbers per object, so any part of the data can be made
# alone and numbers never collide. The last number of a block is kept for a deliberately broken row.
ORDER_SLOTS = 1000
BROKEN_SLOT = ORDER_SLOTS - 1
"""Invoice and order number of a customer's deliberately broken row."""
PAYMENT_SLOTS = 2000
CREDIT_SLOTS = 100
QUOTE_SLOTS = 16
SF_SLOTS = {"Account": 4, "Contact": 16, "Opportunity": 64, "Case": 64, "Task": 256, "Event": 64,
            "Survey_Response__c": 64}
BROKEN_SURVEY_SLOT = 63


def invoice_no(i: int, k: int) -> str:
    return f"INV-{i * ORDER_SLOTS + k:010d}"


def payment_id(i: int, k: int) -> str:
    return f"PAY-{i * PAYMENT_SLOTS + k:011d}"


def credit_note_no(i: int, k: int) -> str:
    return f"CN-{i * CREDIT_SLOTS + k:09d}"


def order_id(i: int, k: int) -> str:
    return f"SO-{i * ORDER_SLOTS + k:010d}"


def order_number(i: int, k: int) -> str:
    return str(1_000_000 + i * ORDER_SLOTS + k)


def order_line_id(i: int, k: int, line: int) -> str:
    return f"SOL-{(i * ORDER_SLOTS + k) * 8 + line:011d}"


def quote_id(i: int, k: int) -> str:
    return f"Q-{i * QUOTE_SLOTS + k:09d}"


def sf_record_id(obj: str, i: int, k: int) -> str:
    return sf_id(obj, i * SF_SLOTS[obj] + k)
