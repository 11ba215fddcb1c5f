"""Comparators: how similar two field values are, from 0 (different) to 1 (same).

A comparator prepares each record's value once (normalising it into a compact JSON-able
form that is stored with the record) and then compares prepared values pairwise, so the
per-pair cost is a string comparison from rapidfuzz, never a normalisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel, JaroWinkler, Levenshtein

from sync.resolve import normalize as nz


@dataclass(frozen=True)
class Comparator:
    name: str
    prepare: Callable[[Any], Any]
    similarity: Callable[[Any, Any], float]
    doc: str


def _exact(a: Any, b: Any) -> float:
    return 1.0 if a == b else 0.0


def _raw(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _company_prepare(value: Any) -> list[Any] | None:
    canonical = nz.company_name(value)
    if canonical is None:
        return None
    return [canonical, nz.company_latin(value), nz.has_cjk(canonical)]


def _company_similarity(a: list[Any], b: list[Any]) -> float:
    (ca, la, cjk_a), (cb, lb, cjk_b) = a, b
    if ca == cb:
        return 1.0
    if cjk_a and cjk_b:
        # Chinese names have no word boundaries: character-level similarity
        return Indel.normalized_similarity(ca, cb)
    if cjk_a != cjk_b:
        # one side Chinese, the other Latin: compare the pinyin with the Latin spelling
        return max(JaroWinkler.similarity(la, lb), fuzz.ratio(la, lb) / 100)
    return max(fuzz.token_set_ratio(ca, cb) / 100 * (0.98 if ca.split() != cb.split() else 1.0),
               JaroWinkler.similarity(la, lb))


def _phone_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    # "+86 10 1234 5678" vs "010 1234 5678": same subscriber under different prefixes
    if len(a) >= 8 and len(b) >= 8 and (a.endswith(b[-9:]) or b.endswith(a[-9:])):
        return 0.95
    return 0.9 if a[-8:] == b[-8:] else 0.0


def _email_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    la, _, da = a.partition("@")
    lb, _, db = b.partition("@")
    if la == lb:
        return 0.7
    return 0.3 if da == db else 0.0


def _tax_prepare(value: Any) -> list[Any] | None:
    code = nz.tax_id(value)
    return None if code is None else [code, nz.uscc_valid(code)]


def _tax_similarity(a: list[Any], b: list[Any]) -> float:
    if a[0] != b[0]:
        # a single mistyped character in an otherwise identical id is a likely typo
        return 0.5 if len(a[0]) == len(b[0]) and Levenshtein.distance(a[0], b[0]) == 1 else 0.0
    return 1.0 if a[1] else 0.9


def _levenshtein(a: str, b: str) -> float:
    return Levenshtein.normalized_similarity(a, b)


def _date_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if len(a) == len(b) == 8 and a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]:
        return 0.9  # day and month swapped
    return Levenshtein.normalized_similarity(a, b)


COMPARATORS: dict[str, Comparator] = {c.name: c for c in (
    Comparator("exact", _raw, _exact, "identical after trimming spaces"),
    Comparator("normalized_exact", nz.text, _exact, "identical after NFKC, case-fold and space folding"),
    Comparator("jaro_winkler", nz.text, JaroWinkler.similarity, "Jaro-Winkler similarity"),
    Comparator("levenshtein", nz.text, _levenshtein, "1 - edit distance / longer length"),
    Comparator("token_set", nz.text, lambda a, b: fuzz.token_set_ratio(a, b) / 100,
               "word-set overlap, order-insensitive"),
    Comparator("company_name", _company_prepare, _company_similarity,
               "company names without legal suffixes; simplified/traditional, full-width, pinyin across scripts"),
    Comparator("phone", nz.phone, _phone_similarity, "same number in any national/international spelling"),
    Comparator("email", nz.email, _email_similarity, "same address (case, +tags ignored); same mailbox name"),
    Comparator("domain", nz.domain, _exact, "same registered host, scheme/www/path ignored"),
    Comparator("address", nz.text, lambda a, b: fuzz.token_set_ratio(a, b) / 100, "address words overlap"),
    Comparator("tax_id", _tax_prepare, _tax_similarity,
               "same tax id; 1.0 when it is a valid Chinese unified social credit code, 0.9 otherwise"),
    Comparator("date", nz.digits, _date_similarity, "dates as digits; swapped day/month counts as close"),
)}
"""Comparators by the name match YAML uses."""
