"""Realistic dirt: how people in each system actually type a company's names, numbers and addresses.

Each function takes the true value and a random stream and returns one written form. Rates are
chosen from what CRM and ledger exports look like: legal suffixes spelled five ways, Chinese and
English names for one company, traditional characters typed by a colleague in Taipei, full-width
letters from a Chinese input method, phones with and without country or area codes, e-mail
addresses in capitals, placeholders such as 'n/a', and a few values that cannot be read at all.
Malformed values that the mappings reject are reported to the caller (they are listed in the
ground truth as broken rows).
"""

from __future__ import annotations

import random

from synthetic import names as nm
from synthetic.companies import Company, Person

_FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)} | {0x20: 0x3000}


def fullwidth(text: str) -> str:
    return text.translate(_FULLWIDTH)


def _typo(word: str, rng: random.Random) -> str:
    """One slip of the finger in a word (never its first letter): swap, drop or double."""
    if len(word) < 4:
        return word
    k = 1 + int(rng.random() * (len(word) - 2))
    kind = rng.random()
    if kind < 0.4:
        return word[:k] + word[k + 1] + word[k] + word[k + 2:]
    if kind < 0.7:
        return word[:k] + word[k + 1:]
    return word[:k] + word[k] + word[k:]


_INDUSTRY_SHORT = {"Technology": "Tech", "Information Technology": "IT", "Pharmaceutical": "Pharma",
                   "Electronics": "Electronic", "Biotechnology": "Biotech", "Construction Engineering": "Construction",
                   "Supply Chain Management": "Supply Chain", "Education Technology": "EdTech"}


# -- company names ------------------------------------------------------------------------------
def company_name(co: Company, rng: random.Random, chinese_share: float) -> tuple[str, bool]:
    """A written form of the company's name and whether it is in Chinese script."""
    r = rng.random
    if co.chinese and r() < chinese_share:
        return _chinese_name(co, rng), True
    return _english_name(co, rng), False


def _chinese_name(co: Company, rng: random.Random) -> str:
    r = rng.random
    place, legal = co.place, co.legal
    city, brand, industry, form = place.city_zh or "", co.brand_zh or "", co.industry.zh, legal.zh or ""
    first_place = place.abbr == ""
    x = r()
    if co.paren_style:
        # subsidiaries: brand（city）form; sometimes typed without the city
        name = f"{brand}{industry}{form}" if x < 0.1 else f"{brand}{industry}（{city}）{form}"
    elif place.country != "CN" and first_place:
        name = f"{brand}{industry}{form}"
    elif x < 0.1:
        name = f"{brand}{industry}{form}"  # city left out
    elif x < 0.18:
        name = f"{brand}{industry}（{city}）{form}"  # the other official style
    elif x < 0.22 and place.country == "CN":
        name = f"{city}市{brand}{industry}{form}"
    else:
        name = f"{city}{brand}{industry}{form}"
    if r() < 0.05:
        name = name[: -len(form)] if form and name.endswith(form) else name
    if "（" in name and r() < 0.3:
        name = name.replace("（", "(").replace("）", ")")
    if place.script == "hant":
        name = nm.to_traditional(name) if r() > 0.12 else name  # mainland colleagues type simplified
        if place.country == "TW" and r() < 0.3:
            name = name.replace("臺", "台") if "臺" in name else name.replace("台", "臺")
    elif r() < 0.03:
        name = nm.to_traditional(name)  # typed by a colleague in Taipei or Hong Kong
    x = r()
    if x < 0.03 and len(name) > 4:
        cut = 2 if name.startswith(city) and city else len(brand)
        name = name[:cut] + " " + name[cut:]
    elif x < 0.045:
        name = name + "\u200b"
    elif x < 0.06:
        name = " " + name + " "
    return name


def _english_name(co: Company, rng: random.Random) -> str:
    r = rng.random
    place, legal = co.place, co.legal
    brand = co.brand
    x = r()
    if co.chinese and x < 0.08:
        brand = co.brand_spaced
    elif 0.08 <= x < 0.11:
        brand = _typo(brand, rng)
    industry = co.industry.en
    if r() < 0.1:
        industry = _INDUSTRY_SHORT.get(industry, industry)
    x = r()
    suffix = legal.en if x < 0.6 else legal.variants[int(r() * len(legal.variants))]
    if place.script == "latin":
        words = co.name_en[: -len(legal.en)].rstrip() if co.name_en.endswith(legal.en) else co.name_en
        words = words.replace(co.brand, brand, 1).replace(co.industry.en, industry, 1)
        name = f"{words} {suffix}".strip()
    else:
        city = place.city_en
        first_place = place.abbr == ""
        x = r()
        if co.paren_style or (x < 0.12 and place.country == "CN"):
            core = f"{brand} {industry} ({city})"
        elif (place.country != "CN" and first_place) or x < 0.27:
            core = f"{brand} {industry}"
        else:
            core = f"{city} {brand} {industry}"
        name = f"{core} {suffix}".strip()
    x = r()
    if x < 0.06:
        name = name.upper()
    elif x < 0.08:
        name = name.lower()
    elif x < 0.10 and co.chinese:
        name = fullwidth(name)
    elif x < 0.12:
        name = name.replace(" ", "  ", 1)
    return name


# -- identifiers ----------------------------------------------------------------------------------
def tax_id(co: Company, rng: random.Random) -> str:
    r = rng.random
    code = co.tax_id
    x = r()
    if co.place.country == "CN":
        if x < 0.05:
            return code.lower()
        if x < 0.09:
            return " ".join(code[k:k + 4] for k in range(0, 18, 4))
        if x < 0.11:
            return f"{code[:2]}-{code[2:8]}-{code[8:17]}-{code[17]}"
        if x < 0.14:
            return fullwidth(code)
        if x < 0.15:
            return _replace_one(code, rng)
        return code
    if x < 0.04 and code[:2].isalpha() and co.place.country in ("GB", "DE", "FR", "NL"):
        return code[2:]  # the VAT number without its country prefix
    if x < 0.09:
        return " ".join(code[k:k + 3] for k in range(0, len(code), 3))
    if x < 0.11:
        return code.lower()
    if x < 0.12:
        return _replace_one(code, rng)
    if co.place.country == "US" and x < 0.4:
        return code.replace("-", "")
    return code


def _replace_one(code: str, rng: random.Random) -> str:
    k = int(rng.random() * len(code))
    alphabet = "0123456789" if code[k].isdigit() else "ABCDEFGHJKLMNPQRTUWXY"
    other = alphabet[(alphabet.find(code[k]) + 1 + int(rng.random() * (len(alphabet) - 1))) % len(alphabet)]
    return code[:k] + other + code[k + 1:]


# -- phones ---------------------------------------------------------------------------------------
def _group(digits: str) -> str:
    return f"{digits[:-4]} {digits[-4:]}" if len(digits) > 6 else digits


def phone(co: Company, nsn: str, rng: random.Random, place: nm.Place | None = None, *, clean: bool = False) -> str:
    """A landline number (national significant number ``nsn`` in ``place``, default the company's) as typed.

    ``clean`` keeps to complete, dialable forms (no extension, no missing area code).
    """
    place = place or co.place
    country = co.country
    cc, area, trunk = place.calling_code, place.area, country.trunk
    sub = nsn[len(area):]
    x = rng.random() * (0.9 if clean else 1.0)
    if cc == "1":
        a, b, c = nsn[:3], nsn[3:6], nsn[6:]
        forms = (f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1 {a} {b} {c}", f"1-{a}-{b}-{c}", f"{a}.{b}.{c}",
                 f"+1 ({a}) {b}-{c}")
        return forms[int(x * len(forms))]
    national_area = f"{trunk}{area}"
    if x < 0.22:
        text = f"{national_area}-{sub}" if area else _group(sub)
    elif x < 0.40:
        text = f"{national_area} {_group(sub)}".strip()
    elif x < 0.50:
        text = f"({national_area}) {sub}" if area else f"({cc}) {_group(sub)}"
    elif x < 0.68:
        text = f"+{cc} {area} {_group(sub)}".replace("  ", " ")
    elif x < 0.76:
        text = f"+{cc}-{area}-{sub}" if area else f"+{cc}-{sub}"
    elif x < 0.82:
        text = f"00{cc}{area}{sub}"
    elif x < 0.86 and trunk and area:
        text = f"+{cc} ({trunk}){area} {_group(sub)}"
    elif x < 0.90 or (clean and x >= 0.86):
        text = f"{national_area}{sub}"
    elif x < 0.93:
        text = _group(sub)  # local number only, the area code assumed
    elif x < 0.95:
        ext = 100 + int(rng.random() * 8900)
        text = f"{national_area}-{sub} ext. {ext}" if rng.random() < 0.6 else f"{national_area}-{sub}转{ext}"
    elif x < 0.97 and co.chinese:
        text = fullwidth(f"{national_area}-{sub}")
    else:
        text = f"{cc}-{area}-{sub}" if area else f"{cc}-{sub}"  # country code without the plus
    return text


def mobile(co: Company, nsn: str, rng: random.Random) -> str:
    country, cc = co.country, co.place.calling_code
    x = rng.random()
    if cc == "1":
        a, b, c = nsn[:3], nsn[3:6], nsn[6:]
        return (f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1 {a} {b} {c}")[int(x * 3)]
    # Chinese mobile numbers are dialled without the trunk prefix
    national = nsn if cc == "86" else f"{country.trunk}{nsn}"
    if len(nsn) == 11:
        grouped = f"{nsn[:3]} {nsn[3:7]} {nsn[7:]}"
        dashed = f"{nsn[:3]}-{nsn[3:7]}-{nsn[7:]}"
    else:
        grouped = f"{nsn[:-6]} {nsn[-6:-3]} {nsn[-3:]}"
        dashed = f"{nsn[:-6]}-{nsn[-6:-3]}-{nsn[-3:]}"
    if x < 0.3:
        return (country.trunk + grouped) if country.trunk and cc != "86" else grouped
    if x < 0.5:
        return national
    if x < 0.7:
        return f"+{cc} {grouped}"
    if x < 0.8:
        return f"+{cc}{nsn}"
    if x < 0.9:
        return (country.trunk + dashed) if country.trunk and cc != "86" else dashed
    if x < 0.95:
        return f"+{cc} {dashed}"
    return f"00{cc} {grouped}"


BAD_PHONES = ("call reception", "n/a", "000-0000", "-", "see notes", "无", "tbd")


# -- e-mail and web -------------------------------------------------------------------------------
PLACEHOLDERS = ("n/a", "-", "无", "", "none")


def email(address: str, rng: random.Random, *, malformed_rate: float = 0.006) -> tuple[str, str | None]:
    """A typed form of an address and, if it is malformed (the mapping will reject it), why."""
    r = rng.random
    x = r()
    if x < malformed_rate:
        local, _, domain = address.partition("@")
        forms = (f"{local}@@{domain}", f"{local}@{domain.split('.')[0]}", f"{local} at {domain}",
                 f"{local}@{domain.replace('.', ',', 1)}", f"{local}{domain}")
        return forms[int(r() * len(forms))], "malformed email"
    if x < 0.03:
        return PLACEHOLDERS[int(r() * len(PLACEHOLDERS))], None
    if x < 0.09:
        return address.upper(), None
    if x < 0.13:
        return address[:1].upper() + address[1:], None
    if x < 0.15:
        return f" {address} ", None
    if x < 0.16:
        return address.replace("@", "＠"), None
    if x < 0.165:
        return f"mailto:{address}", None
    return address, None


def website(domain: str, rng: random.Random) -> str:
    forms = (f"https://www.{domain}/", f"http://www.{domain}", f"www.{domain}", domain, f"https://{domain}",
             f"HTTPS://WWW.{domain.upper()}/", f"https://www.{domain}/en/", f"https://www.{domain}/index.html")
    weights = (0.3, 0.1, 0.22, 0.15, 0.1, 0.03, 0.05, 0.05)
    x = rng.random()
    for form, w in zip(forms, weights, strict=True):
        if x < w:
            return form
        x -= w
    return forms[0]


# -- places -----------------------------------------------------------------------------------------
def country(co: Company, rng: random.Random, code_share: float) -> str | None:
    """How a system writes the country: mostly its ISO code (``code_share``) or English name."""
    spellings = co.country.spellings
    x = rng.random()
    if x < 0.02:
        return None
    if x < 0.02 + code_share:
        return spellings[1]
    if x < 0.95:
        return spellings[0]
    return spellings[2 + int(rng.random() * (len(spellings) - 2))]


def city(co: Company, rng: random.Random, chinese: bool) -> str | None:
    place = co.place
    x = rng.random()
    if x < 0.03:
        return None
    if chinese and place.city_zh:
        zh = place.city_zh
        if place.script == "hant":
            zh = nm.to_traditional(zh)
        if place.country == "CN" and x < 0.25:
            return zh + "市"
        return zh
    if x < 0.08:
        return place.city_en.upper()
    return place.city_en


def person_name(person: Person, rng: random.Random) -> tuple[str | None, str]:
    """(first name, last name) as entered in a CRM contact form."""
    x = rng.random()
    if person.zh is None:
        if x < 0.04:
            return None, f"{person.first} {person.last}"
        if x < 0.07:
            return person.first, person.last.upper()
        return person.first, person.last
    surname, given = person.zh
    if x < 0.38:
        return given, surname
    if x < 0.48:
        return None, surname + given  # the whole name in the last-name field
    if x < 0.68:
        return person.first, person.last
    if x < 0.8 and person.english:
        return person.english, person.last
    if x < 0.86:
        return person.last, person.first  # given and family name swapped
    return person.first.lower(), person.last.upper()


def full_name(person: Person, rng: random.Random) -> str:
    """A person's name written in one field, as web shops and order systems keep it."""
    x = rng.random()
    if person.zh is None:
        return f"{person.first} {person.last}" if x < 0.9 else f"{person.last}, {person.first}"
    surname, given = person.zh
    if x < 0.45:
        return surname + given
    if x < 0.7:
        return f"{person.first} {person.last}"
    if x < 0.85:
        return f"{person.last} {person.first}"
    if person.english:
        return f"{person.english} {person.last}"
    return f"{person.first} {person.last}"
