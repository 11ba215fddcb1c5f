"""Tax ids by kind: what a written id is, and whether two of them can contradict each other.

A company holds several ids of different kinds — a Chinese company its unified social credit
code (USCC, since 2015) and often its old 15-digit registration number in older ledger rows; a
European one its VAT number, written with or without the country prefix, next to a company
register number. Two ids of different kinds are therefore no evidence that two records are
different companies; two different ids of the same kind are, and two that both pass their
check characters are proof. Kinds are recognised by ``python-stdnum``'s validators (VAT numbers
of every EU country, GB, CH, NO …; the old Chinese registration number's ISO 7064 check) and
the USCC checksum; anything else is known only by its shape (digits or letters, and length).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Levenshtein
from stdnum import get_cc_module, vatin
from stdnum.iso7064 import mod_11_10

from sync.resolve.normalize import tax_id as _tax_text
from sync.resolve.normalize import uscc_valid

_RUNS = "0123456789012345678901234567890"


@dataclass(frozen=True)
class TaxId:
    code: str
    """Letters and digits as written, upper case."""
    kind: str
    """``CN-USCC``, ``CN-REG15``, ``VAT-DE`` …; for an id of unknown kind its shape, ``digits-8`` or ``alnum-12``."""
    number: str
    """The identifying part: a VAT number without its country prefix, else the code."""
    verified: bool
    """Check characters verified, so a typo would have been caught."""

    def as_list(self) -> list[object]:
        return [self.code, self.kind, self.number, self.verified]

    @classmethod
    def from_list(cls, value: list[object]) -> TaxId:
        code, kind, number, verified = value
        return cls(str(code), str(kind), str(number), bool(verified))


def _placeholder(code: str) -> bool:
    # "000000000", "11111111", "123456789": typed to get past a required field, not ids
    return len(code) < 5 or len(set(code)) <= 2 or code in _RUNS or code in _RUNS[::-1]


@lru_cache(maxsize=1 << 16)
def classify(value: str) -> TaxId | None:
    """The kind of a written tax id, None when there is none (empty, placeholder)."""
    code = _tax_text(value)
    if code is None or _placeholder(code):
        return None
    if len(code) == 18 and uscc_valid(code):
        return TaxId(code, "CN-USCC", code, True)
    if len(code) == 15 and code.isdigit() and mod_11_10.is_valid(code):
        return TaxId(code, "CN-REG15", code, True)
    if _vat_prefix(code[:2]) and code[2:3].isdigit():
        # the country prefix is often left out: the number after it is what identifies
        return TaxId(code, f"VAT-{code[:2]}", code[2:], bool(vatin.is_valid(code)))
    shape = "digits" if code.isdigit() else "alnum"
    return TaxId(code, f"{shape}-{len(code)}", code, False)


@lru_cache(maxsize=512)
def _vat_prefix(prefix: str) -> bool:
    """True for a country prefix of VAT numbers stdnum knows (DE, GB, NL, EL for Greece, …)."""
    if len(prefix) != 2 or not prefix.isalpha():
        return False
    try:
        return get_cc_module(prefix.lower(), "vat") is not None
    except Exception:  # stdnum raises on codes it has no module for
        return False


TYPO = 0.5
DIFFERENT = 0.1
DIFFERENT_VERIFIED = 0.0


def _recognised(t: TaxId) -> bool:
    return not t.kind.startswith(("digits-", "alnum-"))


def similarity(a: TaxId, b: TaxId) -> float | None:
    """1.0 same verified id, 0.9 same unverified id (also when one side lacks the VAT country
    prefix), 0.5 one typed character apart, 0.1 different ids of the same kind, 0.0 different
    ids that both pass their check characters, None for ids of different kinds."""
    if a.code == b.code or a.number == b.number:
        return 1.0 if a.verified or b.verified else 0.9
    same_kind = a.kind == b.kind
    if not same_kind and ((a.verified and b.verified) or (_recognised(a) and _recognised(b))):
        return None  # e.g. a USCC and an old registration number, or VAT numbers of two countries
    if a.verified and b.verified:
        return DIFFERENT_VERIFIED
    if Levenshtein.distance(a.number, b.number) <= 1:
        return TYPO
    # an unverified id of the same length and alphabet may be a kind we cannot recognise: compare
    if same_kind or (len(a.number) == len(b.number) and a.number.isdigit() == b.number.isdigit()):
        return DIFFERENT
    return None
