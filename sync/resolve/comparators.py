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

from sync.mapping.mailboxes import is_free_mail, is_role_mailbox
from sync.resolve import normalize as nz
from sync.resolve import tax_ids


@dataclass(frozen=True)
class Comparator:
    name: str
    prepare: Callable[[Any], Any]
    similarity: Callable[[Any, Any], float | None]
    """0..1, or None when the two values cannot be compared (the ``incomparable`` level)."""
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


TRANSLITERATED = 0.9
"""Pinyin and a Latin spelling at least this close are the same name written twice; anything
less across scripts is most likely a translation ("科技" is "Technology", not "keji"), which
says nothing either way."""


def _company_similarity(a: list[Any], b: list[Any]) -> float | None:
    (ca, la, cjk_a), (cb, lb, cjk_b) = a, b
    if ca == cb:
        return 1.0
    if cjk_a and cjk_b:
        # Chinese names have no word boundaries: character-level similarity
        return Indel.normalized_similarity(ca, cb)
    if cjk_a != cjk_b:
        # one side Chinese, the other Latin: a transliteration can be compared, a translation not
        sim = max(JaroWinkler.similarity(la, lb), fuzz.ratio(la, lb) / 100)
        return sim if sim >= TRANSLITERATED else None
    return max(fuzz.token_set_ratio(ca, cb) / 100 * (0.98 if ca.split() != cb.split() else 1.0),
               JaroWinkler.similarity(la, lb))


def _person_prepare(value: Any) -> str | None:
    tokens = nz.person_tokens(value)
    return " ".join(tokens) if tokens else None


def _person_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    # "zhi wei jiang" against "jiang zhiwei": the letters in name order matter, not the spaces
    return max(fuzz.token_sort_ratio(a, b) / 100, fuzz.ratio(a.replace(" ", ""), b.replace(" ", "")) / 100)


def _phone_prepare(value: Any) -> list[Any] | None:
    digits = nz.phone(value)
    if digits is None:
        return None
    international = str(value).lstrip().startswith(("+", "00", "\uff0b"))
    # a national spelling's trunk "0" ("010 6288 1234") is not part of the number
    return [digits if international else digits.lstrip("0") or digits, international]


SUBSCRIBER_DIGITS = 7
"""The shortest local number (no area code) still worth comparing: 7 digits in many cities."""


def _phone_similarity(a: list[Any], b: list[Any]) -> float:
    (da, intl_a), (db, intl_b) = a, b
    if da == db:
        return 1.0
    if intl_a and intl_b:
        return 0.0  # two full numbers that differ are two numbers, whatever their last digits
    short, long = (da, db) if len(da) <= len(db) else (db, da)
    if len(short) >= SUBSCRIBER_DIGITS and long.endswith(short):
        # "010 6288 1234" in "+86 10 6288 1234" (area code included), or the local number alone
        return 0.95 if len(short) >= SUBSCRIBER_DIGITS + 2 else 0.9
    return 0.0


def _email_prepare(value: Any) -> list[Any] | None:
    address = nz.email(value)
    if address is None:
        return None
    local, _, host = address.rpartition("@")
    return [address, is_role_mailbox(local), is_free_mail(host)]


def _email_similarity(a: list[Any], b: list[Any]) -> float:
    (ea, role_a, free_a), (eb, role_b, free_b) = a, b
    if ea == eb:
        return 1.0
    la, _, da = ea.rpartition("@")
    lb, _, db = eb.rpartition("@")
    if da == db and not free_a:
        return 0.3  # two mailboxes of one company domain; everybody shares a free-mail domain
    if la == lb and (free_a or free_b) and not (role_a or role_b):
        # one person's handle on another provider (QQ number at qq.com and foxmail.com); the same
        # name at two company domains is two employers' naming scheme, and info@ exists everywhere
        return 0.7
    return 0.0


def _tax_prepare(value: Any) -> list[Any] | None:
    found = tax_ids.classify(str(value)) if value is not None else None
    return None if found is None else found.as_list()


def _tax_similarity(a: list[Any], b: list[Any]) -> float | None:
    return tax_ids.similarity(tax_ids.TaxId.from_list(a), tax_ids.TaxId.from_list(b))


def _levenshtein(a: str, b: str) -> float:
    return Levenshtein.normalized_similarity(a, b)


def _date_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if len(a) == len(b) == 8 and a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]:
        return 0.9  # day and month swapped
    return Levenshtein.normalized_similarity(a, b)


def _name_part_prepare(value: Any) -> list[Any] | None:
    # [this part, the other part or ""] of a name ("" rather than null: the Spark dialect reads
    # a JSON null item as the text 'null', sync.resolve.duck.SPARK); None when this part is
    # empty (the comparison's null level)
    parts = value if isinstance(value, list) else [value]
    this = nz.text(parts[0]) if parts else None
    if this is None:
        return None
    return [this, (nz.text(parts[1]) if len(parts) > 1 else None) or ""]


def _name_part_similarity(a: list[Any], b: list[Any]) -> float:
    (this_a, other_a), (this_b, other_b) = a, b
    direct: float = JaroWinkler.similarity(this_a, this_b)
    if not other_a or not other_b:
        return direct
    # given name and surname written in each other's fields: each record's part against the
    # other's other part, the weaker of the two, so one shared word is not a swap
    crosswise: float = min(JaroWinkler.similarity(this_a, other_b), JaroWinkler.similarity(other_a, this_b))
    return max(direct, crosswise)


COMPARATORS: dict[str, Comparator] = {c.name: c for c in (
    Comparator("exact", _raw, _exact, "identical after trimming spaces"),
    Comparator("normalized_exact", nz.text, _exact, "identical after NFKC, case-fold and space folding"),
    Comparator("jaro_winkler", nz.text, JaroWinkler.similarity, "Jaro-Winkler similarity"),
    Comparator("levenshtein", nz.text, _levenshtein, "1 - edit distance / longer length"),
    Comparator("token_set", nz.text, lambda a, b: fuzz.token_set_ratio(a, b) / 100,
               "word-set overlap, order-insensitive"),
    Comparator("company_name", _company_prepare, _company_similarity,
               "company names without legal suffixes; simplified/traditional, full-width; across scripts pinyin "
               "that spells the Latin name, else incomparable (a translation)"),
    Comparator("person_name", _person_prepare, _person_similarity,
               "a person's whole name ([first_name, last_name]) in any field order; pinyin for Chinese"),
    Comparator("phone", _phone_prepare, _phone_similarity,
               "1 same number; 0.95 national spelling of an international one; 0.9 a local number (7+ digits) "
               "without its area code"),
    Comparator("email", _email_prepare, _email_similarity,
               "1 same address (case, +tags ignored); 0.7 same personal handle at another free-mail provider "
               "(never info@, ap@ ...); 0.3 same company domain (not a free-mail provider's)"),
    Comparator("domain", nz.domain, _exact, "same company host, scheme/www/path ignored; free-mail domains are empty"),
    Comparator("address", nz.text, lambda a, b: fuzz.token_set_ratio(a, b) / 100, "address words overlap"),
    Comparator("tax_id", _tax_prepare, _tax_similarity,
               "tax ids by kind: 1 same verified id, 0.9 same (VAT prefix optional), 0.5 one character apart, "
               "0.1 different of one kind, 0 different and both verified; ids of different kinds are incomparable"),
    Comparator("date", nz.digits, _date_similarity, "dates as digits; swapped day/month counts as close"),
    Comparator("name_part", _name_part_prepare, _name_part_similarity,
               "one part of a name ([given_name, surname]: the given name) by Jaro-Winkler, or, when the two records "
               "hold given name and surname in swapped fields, the weaker of the two crosswise similarities"),
)}
"""Comparators by the name match YAML uses."""
