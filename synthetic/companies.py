"""The real customers behind the generated records: who each company and person really is.

A :class:`Company` holds the truth about customer number ``i``: its legal names, identifiers,
behaviour (size, lifecycle pattern, payment habits, satisfaction), where it appears (how many
records in each system) and its people. Everything structural is decided here from the
customer's 'core' stream, so the record, trade and CRM parts can each be generated alone and
still agree with one another.

Names, tax ids, phones and domains come from bijections of the customer number (see
:class:`Universe`), so two distinct companies never share an identifier by accident; similar
names (same brand in another city or industry) occur as they do in real registries.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from synthetic import names as nm
from synthetic.ids import Permutation, sf_id, stream, taiwan_ubn, uscc
from synthetic.values import DAY, NOW, NOW_DAY, WINDOW_START_DAY

PATTERNS = ("steady",) * 40 + ("growing",) * 14 + ("declining",) * 11 + ("churning",) * 13 + ("new",) * 12 \
    + ("prospect",) * 6 + ("seasonal",) * 4
"""Lifecycle patterns by share (percent)."""
ACCOUNT_TYPES = ("Customer - Direct",) * 70 + ("Customer - Channel",) * 10 + ("Channel Partner / Reseller",) * 8 \
    + ("Installation Partner",) * 4 + ("Supplier",) * 8
PAYMENT_TERMS = (30, 30, 30, 30, 45, 60, 60, 90, 15, 0)
MAX_PERSONS = 5
OWNERS = 40
"""Salesforce users who own accounts."""


@dataclass(slots=True)
class Person:
    real_id: str
    zh: tuple[str, str] | None
    """(surname, given name) in Chinese characters, for Chinese-speaking people."""
    first: str
    last: str
    english: str | None
    """An English given name a Chinese-speaking person uses at work."""
    email: str
    mobile: str
    """National significant number (digits, no trunk prefix)."""
    title: str
    in_sf: bool
    sf_account: int
    """Which of the company's Salesforce accounts the contact hangs under."""
    sf_duplicate: bool
    created_day: int


@dataclass(slots=True)
class Company:
    index: int
    real_id: str
    place: nm.Place
    country: nm.Country
    industry: nm.Industry
    brand_zh: str | None
    brand: str
    brand_spaced: str
    """The brand with its syllables apart ('Hua Teng'): how some people romanise it."""
    legal: nm.LegalForm
    paren_style: bool
    """Chinese registered name with the city in brackets: 华腾科技（北京）有限公司."""
    name_local: str
    """Registered name in the local script (Chinese where the place writes Chinese)."""
    name_en: str
    tax_id: str
    legacy_id: str | None
    """Chinese companies' pre-2015 business licence number, which old ledgers may still hold."""
    phone_main: str
    phone_finance: str
    domain: str
    street_local: str
    street_en: str
    postal_code: str
    account_type: str
    owner: int
    pattern: str
    size: float
    """Relative spend; Pareto-distributed, so a fifth of customers bring most of the revenue."""
    created_day: int
    start_day: int
    """First day of activity inside the three-year window."""
    end_day: int
    """Day after the last activity (churned customers stop early)."""
    sf_accounts: int
    finance_accounts: int
    sales_accounts: int
    persons: list[Person]
    terms_days: int
    payer: float
    """Typical days paid after the due date (negative: early)."""
    never_pays: float
    satisfaction: float
    """0 (unhappy) .. 1 (delighted)."""
    margin: float
    parent: int | None = None
    parent_sf_id: str | None = None
    parent_phone: str | None = None
    parent_place: nm.Place | None = None
    broken: dict[str, str] = field(default_factory=dict)
    """Deliberately broken rows of this customer: part → reason."""

    @property
    def chinese(self) -> bool:
        return self.place.script != "latin"

    @property
    def sf_account_ids(self) -> list[str]:
        return [sf_id("Account", self.index * 4 + k) for k in range(self.sf_accounts)]


class Universe:
    """Everything shared by all customers of one (customers, seed) dataset: the numbering bijections."""

    def __init__(self, customers: int, seed: int) -> None:
        if customers < 0:
            raise ValueError("the number of customers cannot be negative")
        if customers > nm.CAPACITY:
            raise ValueError(f"at most {nm.CAPACITY:,} distinct customers can be generated")
        self.customers = customers
        self.seed = seed
        self.company_key = Permutation(nm.CAPACITY, seed, "company")
        per_place = nm.BRANDS * len(nm.INDUSTRIES)
        self.per_place = per_place
        self.phone = [Permutation(len(p.leads) * 10 ** (p.length - len(p.leads[0])), seed, "phone", k)
                      for k, p in enumerate(nm.PLACES)]
        self.mobile = {cc: Permutation(len(c.mobile_prefixes) * 10 ** (c.mobile_length - len(c.mobile_prefixes[0])
                                                                          - (1 if cc in ("US", "CA") else 0))
                                       * (8 if cc in ("US", "CA") else 1), seed, "mobile", cc)
                       for cc, c in nm.COUNTRIES.items()}
        self.uscc_body = Permutation(31 ** 8, seed, "uscc")
        self.tax7 = Permutation(10 ** 7, seed, "tax7")
        self.tax8 = Permutation(10 ** 8, seed, "tax8")
        self.tax9 = Permutation(10 ** 9, seed, "tax9")
        self.freemail = Permutation(10 ** 9, seed, "freemail")
        # room for 4 numbers per customer: two accounts each, and unused numbers for references to
        # records that do not exist (the deliberately broken rows)
        digits = max(7, len(str(4 * customers)))
        self.account_digits = digits
        self.finance_no = Permutation(10 ** digits, seed, "finance")
        self.sales_no = Permutation(10 ** digits, seed, "sales")
        self.place_rank = {k: sum(1 for q in nm.PLACES[:k] if q.country == p.country) for k, p in enumerate(nm.PLACES)}

    # -- record numbers ------------------------------------------------------------------------
    def finance_customer_no(self, i: int, k: int) -> str:
        return f"C{self.finance_no(2 * i + k):0{self.account_digits}d}"

    def sales_account_id(self, i: int, k: int) -> str:
        return f"ACC-{self.sales_no(2 * i + k):0{self.account_digits}d}"

    def missing_finance_customer_no(self, i: int) -> str:
        """A customer number that looks real but belongs to no customer of this dataset."""
        return f"C{self.finance_no(2 * self.customers + i):0{self.account_digits}d}"

    def missing_sales_account_id(self, i: int) -> str:
        return f"ACC-{self.sales_no(2 * self.customers + i):0{self.account_digits}d}"

    # -- the company ---------------------------------------------------------------------------
    def company(self, i: int) -> Company:
        """The real customer number ``i`` (0-based)."""
        rng = stream(self.seed, i, "core")
        r = rng.random
        key = self.company_key(i)
        pidx, rest = key % len(nm.PLACES), key // len(nm.PLACES)
        iidx, bidx = rest % len(nm.INDUSTRIES), rest // len(nm.INDUSTRIES)
        place, industry = nm.PLACES[pidx], nm.INDUSTRIES[iidx]
        country = nm.COUNTRIES[place.country]
        chinese = place.script != "latin"
        if chinese:
            brand_zh, brand, brand_spaced = nm.CN_BRANDS[bidx]
        else:
            # a brand per place of the country, so brand and industry name one company in the country
            brand_zh, brand = None, nm.LATIN_BRANDS[bidx + self.place_rank[pidx] * nm.BRANDS]
            brand_spaced = brand

        pattern = PATTERNS[int(r() * len(PATTERNS))]
        if place.country == "CN":
            legal = nm.LEGAL_CN[int(r() * len(nm.LEGAL_CN))]
        elif place.country == "TW":
            legal = nm.LEGAL_TW[int(r() * len(nm.LEGAL_TW))]
        elif place.country == "HK":
            legal = nm.LEGAL_HK[int(r() * len(nm.LEGAL_HK))]
        else:
            forms = nm.LEGAL_BY_COUNTRY[place.country]
            legal = forms[int(r() * len(forms))]
        paren_style = False  # the bracketed-city form is kept for subsidiaries, so registered names stay unique
        name_local, name_en = _registered_names(place, industry, brand_zh, brand, legal, paren_style)

        size = min(rng.paretovariate(1.16), 400.0)
        if pattern == "new":
            created = NOW_DAY - 30 - int(r() * 330)
        elif pattern == "prospect":
            created = NOW_DAY - 20 - int(r() * 900)
        else:
            created = WINDOW_START_DAY - int(r() * 8 * 365) + (int(r() * 700) if r() < 0.2 else 0)
        start = max(created + int(r() * 45), WINDOW_START_DAY)
        end = NOW_DAY - 120 - int(r() * 480) if pattern == "churning" else NOW_DAY
        if end <= start:
            end = min(NOW_DAY, start + 60)

        if pattern == "prospect":
            sf, fin, sales = 1, 0, int(r() < 0.3)
        else:
            sf, fin, sales = int(r() < 0.86), int(r() < 0.93), int(r() < 0.68)
            if not (sf or fin or sales):
                fin = 1
        sf += int(sf > 0 and r() < 0.04)
        fin += int(fin > 0 and r() < 0.02)
        sales += int(sales > 0 and r() < 0.05)

        rank = self.place_rank[pidx] * self.per_place + rest
        tax_id = self._tax_id(place, key, rank, rng)
        phone_perm = self.phone[pidx]
        phone_main = _subscriber(place, phone_perm(2 * rest))
        phone_finance = _subscriber(place, phone_perm(2 * rest + 1))
        domain = _domain(place, country, industry, brand)
        street_local, street_en, postal = _street(place, rng)

        late_risk = {"declining": 0.35, "churning": 0.5}.get(pattern, 0.12)
        payer = -rng.uniform(0, 8) if r() > late_risk else rng.uniform(5, 75)
        never_pays = 0.25 if pattern == "churning" else 0.06 if payer > 30 else 0.005
        satisfaction = min(1.0, max(0.0, rng.gauss({"declining": 0.45, "churning": 0.35}.get(pattern, 0.72), 0.18)))

        company = Company(
            index=i, real_id=f"R{i + 1:07d}", place=place, country=country, industry=industry, brand_zh=brand_zh,
            brand=brand, brand_spaced=brand_spaced, legal=legal, paren_style=paren_style, name_local=name_local,
            name_en=name_en,
            tax_id=tax_id,
            legacy_id=f"{place.region_code}{self.tax9(rank):09d}" if place.country == "CN" else None,
            phone_main=phone_main, phone_finance=phone_finance, domain=domain,
            street_local=street_local, street_en=street_en, postal_code=postal,
            account_type=ACCOUNT_TYPES[int(r() * len(ACCOUNT_TYPES))], owner=int(r() * OWNERS), pattern=pattern,
            size=size, created_day=created, start_day=start, end_day=end, sf_accounts=sf, finance_accounts=fin,
            sales_accounts=sales, persons=[], terms_days=PAYMENT_TERMS[int(r() * len(PAYMENT_TERMS))], payer=payer,
            never_pays=never_pays, satisfaction=satisfaction, margin=rng.uniform(0.55, 0.85))
        # A subsidiary of a recent customer elsewhere: it trades under the parent's brand.
        if i > 0 and r() < 0.04 and sf:
            parent = max(0, i - 1 - int(r() * 20))
            self._attach_parent(company, parent, rng)
        company.persons = self._persons(company, rank, rng)

        # Deliberately broken rows, a few per thousand customers (listed in the ground truth).
        if sf and r() < 0.002:
            company.broken["sf_name"] = "blank account name"
        if fin and r() < 0.003:
            company.broken["finance_name"] = "missing name"
        if fin and pattern != "prospect" and r() < 0.006:
            company.broken["invoice"] = ("customer_no does not exist", "negative amount",
                                         "missing issue date")[int(r() * 3)]
        if sales and pattern != "prospect" and r() < 0.003:
            company.broken["order"] = "account_id does not exist"
        if sf and r() < 0.003:
            company.broken["survey"] = "score outside the survey's scale"
        return company

    def _attach_parent(self, company: Company, parent_index: int, rng: random.Random) -> None:
        parent = self.company(parent_index)
        if parent.place.script != company.place.script or parent.place == company.place:
            return
        if company.place.script == "latin" and parent.place.country == company.place.country:
            return  # a Latin-script subsidiary is named after its country, so it must be in another one
        r = rng.random
        company.parent = parent_index
        company.brand_zh, company.brand, company.brand_spaced = parent.brand_zh, parent.brand, parent.brand_spaced
        company.industry = parent.industry
        company.paren_style = company.place.country == "CN"
        company.name_local, company.name_en = _registered_names(
            company.place, company.industry, company.brand_zh, company.brand, company.legal, company.paren_style,
            subsidiary=True)
        # a subsidiary uses the group's web domain, or its own named after the brand and its place
        # (no industry word: registered companies' domains always carry one, so these never clash)
        company.domain = parent.domain if r() < 0.3 else \
            f"{company.brand.lower()}-{company.place.abbr or company.place.country.lower()}.{company.country.tld}"
        if parent.sf_accounts:
            company.parent_sf_id = parent.sf_account_ids[0]
        if r() < 0.25 and parent.country is company.country:
            # the branch is filed under the group switchboard: a shared number across two companies
            company.parent_phone = parent.phone_main
            company.parent_place = parent.place

    def _tax_id(self, place: nm.Place, key: int, rank: int, rng: random.Random) -> str:
        cc = place.country
        if cc == "CN":
            return uscc(place.region_code, self.uscc_body(key))
        if cc == "TW":
            return taiwan_ubn(self.tax7(rank))
        if cc == "HK":
            return f"{self.tax8(rank):08d}"
        n = self.tax9(rank)
        if cc == "GB":
            return f"GB{n:09d}"
        if cc == "DE":
            return f"DE{n:09d}"
        if cc == "FR":
            return f"FR{n % 97:02d}{n:09d}"
        if cc == "NL":
            return f"NL{n:09d}B01"
        if cc == "US":
            return f"{n // 10 ** 7 % 90 + 10:02d}-{n % 10 ** 7:07d}"
        if cc == "CA":
            return f"{n:09d}RT0001"
        if cc == "SG":
            letters = "ABCDEGHJKMNRWXZ"
            return f"{2000 + n % 20}{n // 20 % 10 ** 5:05d}{letters[n % len(letters)]}"
        if cc == "JP":
            return f"{n % 9 + 1}{n:09d}{n % 1000:03d}"
        if cc == "AU":
            return f"{n % 89 + 10:02d}{n:09d}"
        raise ValueError(f"no tax id format for {cc}")

    def _persons(self, company: Company, rank: int, rng: random.Random) -> list[Person]:
        """The company's people; ``rank`` numbers the company within its country (mobile numbers)."""
        r = rng.random
        size = company.size
        count = 1 + int(r() < 0.55) + int(size > 3 and r() < 0.6) + int(size > 20 and r() < 0.7)
        count = min(count, MAX_PERSONS)
        cc = company.place.country
        people: list[Person] = []
        locals_used: set[str] = set()
        for p in range(count):
            real_id = f"{company.real_id}-P{p + 1}"
            if company.chinese and r() < 0.93:
                s_zh, s_py = nm.CN_SURNAMES[int(r() * len(nm.CN_SURNAMES))]
                g_zh, g_py = nm.CN_GIVEN[int(r() * len(nm.CN_GIVEN))]
                zh: tuple[str, str] | None = (s_zh, g_zh)
                first, last = g_py, s_py
                english = nm.CN_ENGLISH_NAMES[int(r() * len(nm.CN_ENGLISH_NAMES))] if r() < 0.3 else None
                title = nm.TITLES_ZH[int(r() * len(nm.TITLES_ZH))] if r() < 0.5 else \
                    nm.TITLES_EN[int(r() * len(nm.TITLES_EN))]
            else:
                zh, english = None, None
                first = nm.LATIN_FIRST[int(r() * len(nm.LATIN_FIRST))]
                last = nm.LATIN_LAST[int(r() * len(nm.LATIN_LAST))]
                title = nm.TITLES_EN[int(r() * len(nm.TITLES_EN))]
            email = self._email(company, p, first, last, english, locals_used, rng)
            mobile = self._mobile(cc, rank * MAX_PERSONS + p)
            in_sf = company.sf_accounts > 0 and r() < 0.85
            sf_account = 1 if company.sf_accounts > 1 and r() < 0.2 else 0
            people.append(Person(
                real_id=real_id, zh=zh, first=first, last=last, english=english, email=email, mobile=mobile,
                title=title, in_sf=in_sf, sf_account=sf_account, sf_duplicate=in_sf and r() < 0.03,
                created_day=min(NOW_DAY - 1, company.created_day + int(r() * 400))))
        return people

    def _email(self, company: Company, p: int, first: str, last: str, english: str | None,
               used: set[str], rng: random.Random) -> str:
        r = rng.random
        f, la = _ascii_word(first), _ascii_word(last)
        if r() < (0.22 if company.chinese else 0.08):
            n = self.freemail(company.index * MAX_PERSONS + p)
            if company.chinese:
                provider = nm.FREE_MAIL_CN[int(r() * len(nm.FREE_MAIL_CN))]
                local = f"{n % 900_000_000 + 100_000_000}" if provider == "qq.com" else f"{la}{f}{n % 10 ** 7}"
            else:
                provider = nm.FREE_MAIL_INTL[int(r() * len(nm.FREE_MAIL_INTL))]
                local = f"{f}.{la}{n % 10 ** 7}"
            return f"{local}@{provider}"
        if english and r() < 0.6:
            f = _ascii_word(english)
        style = r()
        local = f"{f}.{la}" if style < 0.5 else f"{la}{f}" if style < 0.75 else f"{f[0]}{la}" if style < 0.9 \
            else f"{la}.{f}"
        if local in used:
            local = f"{local}{p + 1}"
        used.add(local)
        return f"{local}@{company.domain}"

    def _mobile(self, cc: str, n: int) -> str:
        """Mobile number ``n`` of the country (each country's number space holds all its people)."""
        perm = self.mobile[cc]
        country = nm.COUNTRIES[cc]
        v = perm(n)
        heads = country.mobile_prefixes
        head, v = heads[v % len(heads)], v // len(heads)
        if cc in ("US", "CA"):
            # the exchange code cannot start with 0 or 1
            exchange_first, v = 2 + v % 8, v // 8
            return f"{head}{exchange_first}{v:06d}"
        return f"{head}{v:0{country.mobile_length - len(head)}d}"


def _subscriber(place: nm.Place, v: int) -> str:
    """National significant number (area code + subscriber) for value ``v`` of the place's number space."""
    lead, v = place.leads[v % len(place.leads)], v // len(place.leads)
    return f"{place.area}{lead}{v:0{place.length - len(lead)}d}"


def _registered_names(place: nm.Place, industry: nm.Industry, brand_zh: str | None, brand: str,
                      legal: nm.LegalForm, paren_style: bool, *, subsidiary: bool = False) -> tuple[str, str]:
    """(local-script name, English name) as registered."""
    first_place = place.abbr == ""
    if place.script == "latin":
        country = f" {nm.COUNTRIES[place.country].spellings[0]}" if subsidiary else ""
        name = f"{brand} {industry.en}{country} {legal.en}"
        return name, name
    if paren_style or subsidiary:
        zh = f"{brand_zh}{industry.zh}（{place.city_zh}）{legal.zh}"
        en = f"{brand} {industry.en} ({place.city_en}) {legal.en}"
    elif place.country == "CN" or not first_place:
        zh = f"{place.city_zh}{brand_zh}{industry.zh}{legal.zh}"
        en = f"{place.city_en} {brand} {industry.en} {legal.en}"
    else:
        zh = f"{brand_zh}{industry.zh}{legal.zh}"
        en = f"{brand} {industry.en} {legal.en}"
    if place.script == "hant":
        zh = nm.to_traditional(zh)
    return zh, en


def _domain(place: nm.Place, country: nm.Country, industry: nm.Industry, brand: str) -> str:
    # brand, industry and city are hyphen-free words, so the hyphenated label names one company only
    # (Latin brands are already unique per country, Chinese ones per city)
    city = f"-{place.abbr}" if place.abbr and place.script != "latin" else ""
    label = f"{brand.lower()}-{industry.code}{city}"
    return f"{label}.{country.tld}"


def _street(place: nm.Place, rng: random.Random) -> tuple[str, str, str]:
    r = rng.random
    number = 1 + int(r() * 888)
    postal = "".join(str(int(r() * 10)) if ch == "#" else ch for ch in place.postal)
    if place.script != "latin":
        road_zh, road_en = nm.CN_ROADS[int(r() * len(nm.CN_ROADS))]
        zone_zh, zone_en = nm.CN_ZONES[int(r() * len(nm.CN_ZONES))]
        floor = f"{2 + int(r() * 28)}楼" if r() < 0.5 else ""
        local = f"{zone_zh}{road_zh}{number}号{floor}"
        if place.script == "hant":
            local = nm.to_traditional(local)
        english = f"No. {number} {road_en}" + (f", {zone_en}" if zone_en else "")
        return local, english, postal
    street = nm.LATIN_STREETS[int(r() * len(nm.LATIN_STREETS))]
    text = f"{street} {number}" if place.country in ("DE", "NL") else f"{number} {street}"
    return text, text, postal


def _ascii_word(text: str) -> str:
    return "".join(ch for ch in text.lower() if "a" <= ch <= "z") or "info"


def seconds_at(day: int, company: Company, rng_value: float) -> int:
    """A moment in local business hours (08:30–18:30) on ``day``, in UTC seconds, never after 'now'.

    The data is an extract taken at 'now': business hours of its last day can fall after it in UTC.
    """
    local = 8.5 * 3600 + rng_value * 10 * 3600
    return min(day * DAY + int(local) - company.place.utc_offset * 3600, NOW - 1)

