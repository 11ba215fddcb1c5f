"""Company domains, e-mail addresses and Chinese credit codes are judged by the maintained
libraries (Public Suffix List via tldextract, email-validator, python-stdnum), not home-made rules."""

from __future__ import annotations

import random

import pytest
from stdnum.cn import uscc

from sync.mapping.contact_points import company_domain, email
from sync.resolve.normalize import domain as match_domain
from sync.resolve.normalize import uscc_valid


@pytest.mark.parametrize(("raw", "registrable"), [
    ("sales.acme.com", "acme.com"), ("https://eu.shop.acme.co.uk/x", "acme.co.uk"),
    ("li.wei@mail.acme.com.cn", "acme.com.cn"), ("www.acme.com", "acme.com"),
    ("acme.github.io", "acme.github.io"),  # a private suffix: each label is its own owner
])
def test_company_domains_are_registrable_domains(raw: str, registrable: str) -> None:
    assert company_domain(raw) == registrable
    assert match_domain(raw) == registrable


def test_a_subdomain_meets_its_company() -> None:
    assert match_domain("https://sales.acme.com") == match_domain("acme.com")


def test_free_mail_stays_out_even_on_a_subdomain() -> None:
    assert company_domain("wang@vip.163.com") is None and company_domain("x@gmail.com") is None


@pytest.mark.parametrize(("raw", "clean"), [
    ("Jürgen@bücher.de", "jürgen@xn--bcher-kva.de"),
    ("用户@例子.广告", "用户@xn--fsqu00a.xn--4rr70v"),
])
def test_internationalised_addresses_are_accepted(raw: str, clean: str) -> None:
    assert email(raw) == clean


def test_uscc_agrees_with_stdnum_on_random_codes() -> None:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    rng = random.Random(16)
    codes = ["".join(rng.choice(alphabet) for _ in range(18)) for _ in range(5000)]
    # codes with a correct check character but not well-formed (the old check accepted these)
    codes += [body + uscc.calc_check_digit(body + "0") for body in
              ("".join(rng.choice(alphabet) for _ in range(17)) for _ in range(5000))]
    codes += ["91110108MA01KPGK0L", "91310000MA1FL8XQ3B"]
    assert [uscc_valid(c) for c in codes] == [uscc.is_valid(c) for c in codes]
    assert sum(uscc_valid(c) for c in codes) < 100  # the random ones are almost all invalid
