"""The fast paths of the contact-point transforms give exactly what the slow paths give.

``email`` judges a plain ASCII address itself, remembering email-validator's verdict per domain,
and ``company_domain`` remembers tldextract's answer per host. Here the slow path is the
transform as it was (email-validator on the whole address, tldextract on every value), and the
fast one must agree with it on every input: the same text, or the same refusal.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.mapping import contact_points
from sync.mapping.contact_points import _domain_ok, _public_suffixes, company_domain, domain, email
from sync.mapping.errors import TransformError
from sync.mapping.mailboxes import is_free_mail
from sync.mapping.text import as_text, fullwidth_to_halfwidth
from synthetic.generator import generate


def slow_email(value: Any) -> str:
    """``contact_points.email`` before its fast path: email-validator on every address."""
    text = as_text(value).translate(_HALFWIDTH).strip().strip("<>")
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if len(text) > 254 or text.count("@") != 1:
        raise TransformError("not a valid email address")
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        raise TransformError("not a valid email address") from None
    local = checked.local_part
    ascii_domain = _domain_ok(checked.ascii_domain)
    if not local or len(local.encode()) > 64 or ascii_domain is None:
        raise TransformError("not a valid email address")
    return f"{local.lower()}@{ascii_domain}"


_HALFWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: " "}


def slow_company_domain(value: Any) -> str | None:
    """``contact_points.company_domain`` before it remembered hosts."""
    host = domain(value)
    if is_free_mail(host):
        return None
    registrable = _public_suffixes()(host).top_domain_under_public_suffix
    if not registrable or is_free_mail(registrable):
        return None if registrable else host
    return registrable


def outcome(transform: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", transform(value)
    except TransformError as e:
        return "refused", str(e)


def assert_same(value: Any) -> None:
    contact_points._email_domain.cache_clear()  # a remembered verdict must not hide a difference
    assert outcome(email, value) == outcome(slow_email, value), repr(value)
    assert outcome(email, value) == outcome(slow_email, value), repr(value)  # and from the memo
    assert outcome(company_domain, value) == outcome(slow_company_domain, value), repr(value)
    assert outcome(company_domain, value) == outcome(slow_company_domain, value), repr(value)


def test_fullwidth_to_halfwidth_is_unchanged() -> None:
    for text in ["abc", "ＡＢＣ１２３，", "a\u3000b", "", "Jürgen＠bücher.de", "x" * 300]:
        assert fullwidth_to_halfwidth(text) == text.translate(_HALFWIDTH)


def test_every_address_of_the_synthetic_generator() -> None:
    values: set[str] = set()
    for _system, _obj, record in generate(400, seed=7):
        for key in ("email", "Email", "contact_email", "website", "Website"):
            value = record.get(key)
            if isinstance(value, str):
                values.add(value)
        for contact in record.get("contacts") or []:
            if isinstance(contact, dict) and isinstance(contact.get("email"), str):
                values.add(contact["email"])
    assert len(values) > 500
    accepted = 0
    for value in sorted(values):
        assert_same(value)
        accepted += outcome(email, value)[0] == "ok"
    assert accepted > 300  # most are good addresses: the fast path is exercised, not bypassed


@pytest.mark.parametrize("value", [
    "billing1@example1.com", " Billing@Taipei-Trade.com.tw ", "HuaTeng88@QQ.com", "mailto:a@b.de", "<a@b.de>",
    "a@localhost", "a@b", "a@b.c", "a@b.123", "a@xn--fiqs8s.cn", "a@XN--FIQS8S.CN", "a@xn--zz.com", "a@[1.2.3.4]",
    "a@-b.com", "a@b-.com", "a@b..com", "a@.b.com", "a@b.com.", "a@ab--c.com", "a@b_c.com", "a@b.test",
    "a@b.invalid", "a@b.onion", "a@b.local", "a.@b.com", ".a@b.com", "a..b@b.com", "\"a\"@b.com", "a b@c.com",
    "a@b c.com", "a@@b.com", "@b.com", "a@", "x" * 64 + "@b.com", "x" * 65 + "@b.com",
    "a@" + "b" * 63 + ".com", "a@" + "b" * 64 + ".com", "a@" + ".".join(["abcdefghi"] * 24) + ".com",
    "x" * 60 + "@" + ".".join(["xn--fiqs8s"] * 17) + ".cn",
    # Punycode that is short for its UTF-8: the address fits in 254 characters, its normalised
    # (Unicode) form does not, and email-validator refuses it
    "x" * 60 + "@" + ".".join(["xn--fiqaaaaaaaaaaaaaaaaaaa"] * 4) + ".cn",
    "x" * 60 + "@" + ".".join(["xn--fiqaaaaaaaaaaaaaaaaaaa"] * 2) + ".cn",
    "Jürgen@bücher.de", "a@bücher.de", "a@ＢＣ.com",
    "a@b.co.uk", "a@sales.acme.co.uk", "a@mail.qq.com", "a@foo.github.io", "a!#$%&'*+/=?^_`{|}~-@b.com",
    "a@b.com>", "a@<b.com", "a@\u0338b.com", "postmaster@b.com", "POSTMASTER@B.COM",
])
def test_awkward_addresses(value: str) -> None:
    assert_same(value)


_ASCII = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-.@\"<>[]() \\,;:"
_pieces = st.sampled_from(["xn--", "--", ".", "@", "com", "test", "localhost", "ü", "＠", "。", "ＡＢ", "\u0338",
                           "co.uk", "github.io", "qq.com", "[", "]", "1", "-"])
_text = st.lists(st.one_of(st.text(alphabet=_ASCII, max_size=12), _pieces), max_size=8).map("".join)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(local=_text, host=_text)
def test_any_local_part_and_domain(local: str, host: str) -> None:
    assert_same(f"{local}@{host}")


@settings(max_examples=500, deadline=None)
@given(value=st.text(max_size=80))
def test_any_text(value: str) -> None:
    assert_same(value)
