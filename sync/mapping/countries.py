"""Country names, codes and common variants (English and Chinese) to ISO 3166-1 alpha-2."""

from __future__ import annotations

import gettext
import re
import unicodedata
from functools import cache, lru_cache
from typing import Any

import pycountry

from sync.mapping.errors import TransformError
from sync.mapping.text import as_text, fullwidth_to_halfwidth, traditional_to_simplified

# What people type that ISO does not list; keys are folded with _fold.
_VARIANTS = {
    "usa": "US", "us": "US", "u s": "US", "u s a": "US", "america": "US", "united states of america": "US",
    "uk": "GB", "u k": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "great britain": "GB",
    "britain": "GB", "northern ireland": "GB", "south korea": "KR", "korea": "KR", "republic of korea": "KR",
    "north korea": "KP", "russia": "RU", "vietnam": "VN", "viet nam": "VN", "taiwan": "TW", "iran": "IR",
    "syria": "SY", "laos": "LA", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ", "moldova": "MD",
    "czech republic": "CZ", "czechia": "CZ", "holland": "NL", "the netherlands": "NL", "ivory coast": "CI",
    "turkey": "TR", "turkiye": "TR", "macau": "MO", "macao": "MO", "hong kong": "HK", "hongkong": "HK",
    "prc": "CN", "p r c": "CN", "p r china": "CN", "mainland china": "CN", "china mainland": "CN",
    "people s republic of china": "CN", "uae": "AE", "emirates": "AE", "deutschland": "DE",
    "brasil": "BR", "espana": "ES", "schweiz": "CH", "suisse": "CH", "osterreich": "AT", "nippon": "JP",
    "中国": "CN", "中国大陆": "CN", "大陆": "CN", "内地": "CN", "中华人民共和国": "CN", "香港": "HK",
    "中国香港": "HK", "澳门": "MO", "中国澳门": "MO", "台湾": "TW", "中国台湾": "TW", "美国": "US",
    "英国": "GB", "日本": "JP", "韩国": "KR", "南韩": "KR", "朝鲜": "KP", "北韩": "KP", "德国": "DE",
    "法国": "FR", "新加坡": "SG", "澳大利亚": "AU", "澳洲": "AU", "加拿大": "CA", "俄罗斯": "RU",
    "越南": "VN", "泰国": "TH", "马来西亚": "MY", "印度": "IN", "印尼": "ID", "印度尼西亚": "ID",
    "荷兰": "NL", "瑞士": "CH", "意大利": "IT", "西班牙": "ES", "新西兰": "NZ", "阿联酋": "AE",
}


def _fold(text: str) -> str:
    """Case-, accent-, width- and punctuation-insensitive form used as the lookup key."""
    text = traditional_to_simplified(fullwidth_to_halfwidth(text)).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", " ", text).strip()


@cache
def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    translations = []
    for lang in ("zh_CN", "zh_TW", "zh_HK"):
        try:
            translations.append(gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang]))
        except OSError:
            continue  # a pycountry build without that locale: the hand list still covers the big ones
    for c in pycountry.countries:
        names = {c.alpha_2, c.alpha_3, c.name, getattr(c, "official_name", ""), getattr(c, "common_name", "")}
        for t in translations:
            names |= {t.gettext(n) for n in list(names) if n}
        for n in names:
            if n:
                index.setdefault(_fold(n), c.alpha_2)
    for variant, code in _VARIANTS.items():
        index[_fold(variant)] = code
    return index


def country_code(value: Any) -> str:
    """'China', '中國', 'CHN', 'cn', 'U.S.A.', 'Deutschland' → 'CN', 'CN', 'CN', 'CN', 'US', 'DE'."""
    text = as_text(value)
    if len(text) > 100:
        raise TransformError("not a known country")
    code = _lookup(text)
    if code is None:
        raise TransformError("not a known country")
    return code


@lru_cache(maxsize=4096)
def _lookup(text: str) -> str | None:
    # remembered per text: a phone number's default region is looked up once per customer, and
    # customers share a few countries; folding (NFKD, a regex) costs more than the look-up
    return _index().get(_fold(text))
