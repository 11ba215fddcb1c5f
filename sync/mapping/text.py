"""Text clean-up transforms: case, width, whitespace, punctuation, Chinese script, company names.

Every function takes a value that is already known not to be None and returns the cleaned
text; anything that is not text-like raises :class:`TransformError`.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from functools import cache
from typing import Any

from sync.mapping.errors import TransformError


def as_text(value: Any) -> str:
    """Numbers become their text form (ids and postal codes often arrive as numbers)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TransformError("expected text, got a boolean")
    if isinstance(value, int | float | Decimal):
        return str(value)
    raise TransformError(f"expected text, got {type(value).__name__}")


def strip(value: Any) -> str:
    return as_text(value).strip()


def lower(value: Any) -> str:
    return as_text(value).lower()


def upper(value: Any) -> str:
    return as_text(value).upper()


_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def title(value: Any) -> str:
    """Capitalise each word; unlike str.title, "o'neil's" stays "O'neil's" not "O'Neil'S"."""
    return _WORD.sub(lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), as_text(value))


def fullwidth_to_halfwidth(value: Any) -> str:
    """Full-width ASCII forms (ＡＢＣ１２３，) and the ideographic space to their ASCII forms.

    Unlike NFKC this leaves everything else alone (circled digits, CJK compatibility forms).
    """
    text = as_text(value)
    # every code point _HALFWIDTH maps is beyond ASCII: ASCII text is returned as it is, unscanned
    return text if text.isascii() else text.translate(_HALFWIDTH)


_HALFWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: " "}


def nfkc(value: Any) -> str:
    return unicodedata.normalize("NFKC", as_text(value))


# zero-width characters and the BOM hide inside copied names and break equality silently
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r"\s+")


def normalize_whitespace(value: Any) -> str:
    """Any run of Unicode whitespace (tabs, NBSP, ideographic space) becomes one space; trimmed."""
    return _SPACES.sub(" ", _INVISIBLE.sub("", as_text(value))).strip()


_PUNCTUATION = str.maketrans({
    "，": ",", "、": ",", "。": ".", "．": ".", "；": ";", "：": ":", "！": "!", "？": "?",
    "（": "(", "）": ")", "【": "[", "】": "]", "《": "<", "》": ">", "「": '"', "」": '"',
    "『": '"', "』": '"', "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'",
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "－": "-", "～": "~", "·": " ",
    "…": "...",
})


def normalize_punctuation(value: Any) -> str:
    """Chinese and typographic punctuation to ASCII, so 'ACME（中国）' equals 'ACME(中国)'."""
    return as_text(value).translate(_PUNCTUATION)


@cache
def _t2s() -> Any:
    import opencc  # opencc-python-reimplemented: pure Python, loads its dictionaries once

    return opencc.OpenCC("t2s")


def traditional_to_simplified(value: Any) -> str:
    """臺灣積體電路 → 台湾积体电路 (OpenCC t2s: phrase-aware, not character by character)."""
    text = as_text(value)
    if text.isascii():  # most values; skip the dictionary walk
        return text
    return _t2s().convert(text)


# Longest first so "股份有限公司" is removed whole rather than leaving "股份".
_CN_SUFFIXES = (
    "集团股份有限公司", "集團股份有限公司", "集团有限责任公司", "集團有限責任公司", "集团有限公司", "集團有限公司",
    "股份有限公司", "有限责任公司", "有限責任公司", "有限公司", "股份公司", "集团公司", "集團公司", "集团", "集團",
    "公司",
)
_EN_SUFFIX_WORDS = (
    r"co\.?,?\s*ltd\.?", r"co\.?,?\s*limited", r"company\s+limited", r"pty\.?\s*ltd\.?", r"pte\.?\s*ltd\.?",
    r"sdn\.?\s*bhd\.?", r"limited", r"ltd\.?", r"incorporated", r"inc\.?", r"corporation", r"corp\.?",
    r"l\.?l\.?c\.?", r"l\.?l\.?p\.?", r"p\.?l\.?c\.?", r"gmbh(?:\s*&\s*co\.?\s*kg)?", r"ag", r"kgaa", r"kg",
    r"s\.?a\.?s\.?", r"s\.?a\.?r\.?l\.?", r"s\.?a\.?", r"s\.?p\.?a\.?", r"s\.?r\.?l\.?", r"b\.?v\.?",
    r"n\.?v\.?", r"oy", r"ab", r"a/s", r"as", r"k\.?k\.?", r"se", r"company", r"co\.?",
)
_EN_SUFFIX = re.compile(r"(?:^|[\s,(])(?:" + "|".join(_EN_SUFFIX_WORDS) + r")\)?\s*\Z", re.IGNORECASE)
_TAIL = 48  # suffixes are short; looking only at the tail keeps huge inputs linear


def strip_legal_suffix(name: str) -> str:
    """Remove trailing legal-form words (repeatedly: 'ACME Holdings Co., Ltd.' → 'ACME Holdings')."""
    current = name.strip(" ,.")
    while True:
        before = current
        for suffix in _CN_SUFFIXES:
            if current in _CN_SUFFIXES:
                break  # a name that is only a legal form ("有限公司") is kept, not cut to "有限"
            if current.endswith(suffix) and len(current) > len(suffix):
                current = current[: -len(suffix)].rstrip(" ,.")
                break
        head, tail = current[:-_TAIL], current[-_TAIL:]
        match = _EN_SUFFIX.search(tail)
        if match and (head or match.start() > 0):
            current = (head + tail[: match.start()]).rstrip(" ,.&")
        if current == before or not current:
            return current or before


def company_name(value: Any) -> str:
    """A tidy display name: half-width, one space between words, ASCII punctuation, suffix kept."""
    text = normalize_whitespace(normalize_punctuation(fullwidth_to_halfwidth(as_text(value))))
    if not text:
        raise TransformError("empty company name")
    return text


_NON_WORD = re.compile(r"[^\w]+")


def company_key(value: Any) -> str:
    """A comparison key: simplified script, lower case, no legal suffix, no punctuation or spaces
    between CJK characters ('ACME Co., Ltd.' and 'acme ltd' both give 'acme')."""
    text = traditional_to_simplified(company_name(value)).lower()
    core = strip_legal_suffix(text)
    key = _NON_WORD.sub(" ", core).strip()
    if not key:
        raise TransformError("company name has no letters or digits")
    return key


def truncate(value: Any, max_length: int = 255) -> str:
    return as_text(value)[: int(max_length)]
