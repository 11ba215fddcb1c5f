"""Value normalisers shared by blocking keys and comparators.

Each normaliser turns one raw field value into a comparable form (or None when there is
nothing to compare). Blocking keys and comparators refer to them by name in match YAML, so
the same names can later be compiled to SQL/Spark expressions. E-mail and domain come from the
mapping engine's transforms (one definition); company names here are the matching-side form
(legal suffixes and bracketed locations dropped, simplified, pinyin across scripts).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import opencc
from pypinyin import lazy_pinyin
from stdnum.cn import uscc as _stdnum_uscc

from sync.mapping.contact_points import company_domain as _company_domain
from sync.mapping.contact_points import email as _mapping_email
from sync.mapping.errors import TransformError

_T2S = opencc.OpenCC("t2s")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
_SPACES = re.compile(r"\s+")

# Legal forms carry no identity: "Acme Ltd" and "ACME Limited" are the same company.
LEGAL_SUFFIXES_LATIN = frozenset((
    "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "llc", "llp", "lp",
    "plc", "pllc", "gmbh", "mbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "oy", "ab",
    "as", "asa", "aps", "pty", "pte", "kk", "sdn", "bhd", "se", "oyj", "group", "holdings", "holding",
    "the", "and",
))
# Longest first so "股份有限公司" is removed whole rather than leaving "股份".
LEGAL_SUFFIXES_CJK = ("股份有限公司", "有限责任公司", "有限公司", "集团公司", "责任公司", "集团", "公司", "株式会社")
LOCATION_PAREN = re.compile(r"[(（][^)）]{1,12}[)）]")


def text(value: Any) -> str | None:
    """NFKC (full-width to half-width), case-folded, single-spaced; None when blank."""
    if value is None:
        return None
    return _text(value if isinstance(value, str) else str(value))


@lru_cache(maxsize=1 << 16)
def _text(value: str) -> str | None:
    # field values repeat a lot (cities, countries, first names): normalise each once
    out = _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip().casefold()
    return out or None


def simplified(value: str) -> str:
    """Traditional Chinese folded to simplified; other scripts pass through."""
    return _T2S.convert(value) if _CJK.search(value) else value


def has_cjk(value: str) -> bool:
    return bool(_CJK.search(value))


def digits(value: Any) -> str | None:
    s = text(value)
    if s is None:
        return None
    out = "".join(ch for ch in s if ch.isdigit())
    return out or None


def alnum_upper(value: Any) -> str | None:
    s = text(value)
    if s is None:
        return None
    out = "".join(ch for ch in s if ch.isalnum()).upper()
    return out or None


@lru_cache(maxsize=65536)
def _company(value: str) -> tuple[str, str] | None:
    s = text(value)
    if s is None:
        return None
    s = simplified(s)
    s = LOCATION_PAREN.sub(" ", s) if has_cjk(s) else s
    s = _PUNCT.sub(" ", s).replace("&", " ")
    if has_cjk(s):
        compact = s.replace(" ", "")
        for suffix in LEGAL_SUFFIXES_CJK:
            if compact.endswith(suffix) and len(compact) > len(suffix) + 1:
                compact = compact[: -len(suffix)]
                break
        latin_parts = [p for p in re.split(r"([\u3400-\u9fff]+)", compact) if p]
        latin = "".join("".join(lazy_pinyin(p)) if has_cjk(p) else p for p in latin_parts)
        return compact, latin
    tokens = [t for t in s.split() if t not in LEGAL_SUFFIXES_LATIN]
    if not tokens:
        tokens = s.split()
    canonical = " ".join(tokens)
    return canonical, canonical.replace(" ", "")


def company_name(value: Any) -> str | None:
    """Canonical company name: simplified, half-width, lower case, no legal suffix or punctuation."""
    found = _company(str(value)) if value is not None else None
    return found[0] if found else None


def company_latin(value: Any) -> str | None:
    """The name in Latin letters without spaces: pinyin for Chinese, so scripts can meet."""
    found = _company(str(value)) if value is not None else None
    return found[1] if found else None


def company_tokens(value: Any) -> list[str] | None:
    """Distinctive name tokens for blocking: words of 3+ letters, or Chinese character bigrams."""
    canonical = company_name(value)
    if canonical is None:
        return None
    if has_cjk(canonical):
        return sorted({canonical[i:i + 2] for i in range(max(1, len(canonical) - 1))})
    return sorted({t for t in canonical.split() if len(t) >= 3}) or [canonical]


def company_prefix(value: Any) -> str | None:
    """First six Latin letters of the name (pinyin for Chinese): meets across scripts."""
    latin = company_latin(value)
    return latin[:6] if latin else None


def phone(value: Any) -> str | None:
    """Digits of a phone number without international prefix zeros (E.164 without '+')."""
    d = digits(value)
    if d is None:
        return None
    d = d.lstrip("0") if str(value).strip().startswith("00") else d
    return d if len(d) >= 6 else None


def phone_tail(value: Any) -> str | None:
    """Last seven digits: the subscriber part survives national/international spelling, and
    a local number without its area code (7 digits in many cities) meets its full form."""
    d = phone(value)
    return d[-7:] if d and len(d) >= 7 else None


def email(value: Any) -> str | None:
    """The mapping engine's address normalisation, with '+tags' dropped (same mailbox)."""
    if value is None:
        return None
    try:
        address = _mapping_email(value)
    except TransformError:
        return None
    local, _, domain_part = address.rpartition("@")
    local = local.split("+", 1)[0]
    return f"{local}@{domain_part}" if local else None


def domain(value: Any) -> str | None:
    """The company's host from a URL, e-mail address or bare domain, without 'www.' (the mapping
    engine's ``company_domain``): None for a free-mail provider's, which every customer shares."""
    if value is None:
        return None
    try:
        return _company_domain(value)
    except TransformError:
        return None


def uscc_valid(code: str) -> bool:
    """True for a valid Chinese unified social credit code (GB 32100-2015), judged by
    python-stdnum's ``stdnum.cn.uscc`` (length, format of each part, check character) instead of
    a copy of its arithmetic that skipped the format rules."""
    return len(code) == 18 and _stdnum_uscc.is_valid(code)


def tax_id(value: Any) -> str | None:
    """Tax id as upper-case letters and digits only (full-width folded, separators dropped)."""
    return alnum_upper(value)


# Two-character surnames, so 欧阳娜娜 is Ouyang Nana, not Ou Yangnana.
COMPOUND_SURNAMES = frozenset((
    "欧阳", "司马", "诸葛", "上官", "东方", "慕容", "令狐", "皇甫", "尉迟", "公孙", "司徒", "夏侯", "长孙",
    "宇文", "端木", "澹台", "轩辕", "南宫", "西门", "申屠", "单于", "呼延", "闻人", "东郭", "百里",
))


def _ascii_fold(value: str) -> str:
    # "Müller" and "Muller" are one spelling of a name; drop accents after NFKD
    return "".join(ch for ch in unicodedata.normalize("NFKD", value) if not unicodedata.combining(ch))


def person_tokens(value: Any) -> list[str] | None:
    """A person's name as sorted Latin words, whichever field holds which part.

    Takes one value or a list (``[first_name, last_name]``). Chinese is written in pinyin with
    the given name as one word — 张伟 in one field is ``wei zhang`` like "Wei Zhang" or
    FirstName 伟 / LastName 张 —, punctuation and accents are dropped, and the words are sorted
    so "Martin, Robert" is "Robert Martin".
    """
    values = [v for v in (value if isinstance(value, list) else [value]) if v not in (None, "")]
    parts: list[str] = []
    for v in values:
        s = text(v)
        if s:
            parts.extend(_name_words(s))
    if not parts:
        return None
    tokens: list[str] = []
    whole = len(parts) == 1  # a Chinese name in one field: surname first, then the given name
    for part in parts:
        tokens += _name_tokens(part, whole)
    return sorted(t for t in tokens if t) or None


# A whole name (given name and surname together) is nearly unique per person, but its words
# are not: each word is split and spelled in Latin letters once.
@lru_cache(maxsize=1 << 12)
def _name_words(s: str) -> tuple[str, ...]:
    return tuple(_PUNCT.sub(" ", simplified(s)).split())


@lru_cache(maxsize=1 << 12)
def _name_tokens(part: str, whole: bool) -> tuple[str, ...]:
    if not has_cjk(part):
        return (_ascii_fold(part),)
    if whole and 2 <= len(part) <= 4:
        cut = 2 if part[:2] in COMPOUND_SURNAMES else 1
        return ("".join(lazy_pinyin(part[:cut])), "".join(lazy_pinyin(part[cut:])))
    return ("".join(lazy_pinyin(part)),)


def person_key(value: Any) -> str | None:
    """The person's name words sorted and joined: a blocking key that meets across scripts."""
    tokens = person_tokens(value)
    return " ".join(tokens) if tokens else None


def initials(value: Any) -> list[str] | None:
    """The distinct first letters of a person's name words (``[given_name, surname]``): one key
    per letter, so a compound key (birth date + initial) survives swapped fields and a typo in
    one of the names, while a birth date shared by many people splits into small blocks."""
    tokens = person_tokens(value)
    return sorted({t[0] for t in tokens}) if tokens else None


def first_token(value: Any) -> str | None:
    s = text(value)
    return s.split()[0] if s else None


def year(value: Any) -> str | None:
    d = digits(value)
    return d[:4] if d and len(d) >= 4 else None


def digit_ends(value: Any) -> list[str] | None:
    """The first four and the last four digits, marked (``^1234``, ``4567$``), of an id of six
    digits or more (a seven-digit id with one dropped still has its ends): one typo (a digit
    changed, dropped, added or two swapped) away from the middle leaves one end intact, so a
    compound key on either end still meets. Shorter ids give nothing (an end would be most of
    the id)."""
    d = digits(value)
    if d is None or len(d) < 6:
        return None
    return [f"^{d[:4]}", f"{d[-4:]}$"]


NORMALIZERS: dict[str, Callable[[Any], Any]] = {
    "text": text,
    "digits": digits,
    "alnum_upper": alnum_upper,
    "company_name": company_name,
    "company_latin": company_latin,
    "company_tokens": company_tokens,
    "company_prefix": company_prefix,
    "phone": phone,
    "phone_tail": phone_tail,
    "email": email,
    "domain": domain,
    "tax_id": tax_id,
    "first_token": first_token,
    "person_key": person_key,
    "initials": initials,
    "name_words": person_tokens,
    "year": year,
    "digit_ends": digit_ends,
}
"""Normalisers by the name match YAML uses."""
