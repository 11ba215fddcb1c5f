"""Ways to reach someone: email addresses, phone numbers in E.164, and web domains."""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import urlsplit

import email_validator
import phonenumbers
import tldextract
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT
from email_validator.syntax import validate_email_domain_name

from sync.mapping.errors import TransformError
from sync.mapping.mailboxes import is_free_mail
from sync.mapping.text import as_text, fullwidth_to_halfwidth, normalize_whitespace

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
_TLD = re.compile(r"(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})\Z")
_CJK_EXTENSION = re.compile(r"\s*(?:转|轉|分机|分機)\s*(?=\d)")


def _domain_ok(domain: str) -> str | None:
    """The domain in ASCII (IDNA) form if it is a plausible public host name, else None."""
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower() if not domain.isascii() else domain.lower()
    except UnicodeError:
        return None
    labels = ascii_domain.split(".")
    if len(ascii_domain) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        return None
    return ascii_domain if _TLD.match(labels[-1]) else None


def email(value: Any) -> str:
    """Trimmed, half-width, lower-cased address, the domain in ASCII (IDNA) form; raises if it is
    not a valid address. Syntax is judged by email-validator (internationalised addresses such as
    ``Jürgen@bücher.de`` included), never by asking DNS whether the domain takes mail."""
    text = fullwidth_to_halfwidth(as_text(value)).strip().strip("<>")
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if len(text) > 254 or text.count("@") != 1:
        raise TransformError("not a valid email address")
    local, _, domain_part = text.partition("@")
    if text.isascii() and 0 < len(local) <= 64 and DOT_ATOM_TEXT.match(local) and not domain_part.startswith("["):
        return _plain_email(local, domain_part)
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        raise TransformError("not a valid email address") from None  # its text would echo the address
    local = checked.local_part
    ascii_domain = _domain_ok(checked.ascii_domain)
    if not local or len(local.encode()) > 64 or ascii_domain is None:
        raise TransformError("not a valid email address")
    return f"{local.lower()}@{ascii_domain}"


def _plain_email(local: str, domain_part: str) -> str:
    """``email`` for an ASCII address whose local part is a plain dot-atom of at most 64 characters:
    the same result as email-validator, with the domain judged once per distinct domain.

    Customers' addresses are all distinct, but they share few domains, and email-validator spends
    two thirds of its time on the domain (UTS-46 checks character by character). For such an
    input ``validate_email`` (options as in ``email``) does exactly this: ``split_email`` returns
    the text before the '@' unquoted and no display name (ASCII is NFC-stable, and a dot-atom holds
    no quote, '<' or '@'); ``validate_email_local_part`` accepts it by ``DOT_ATOM_TEXT`` unchanged
    (its length limit applies only in strict mode); the domain goes to
    ``validate_email_domain_name`` (a domain literal, '[…]', is left to the slow path); then
    ``validate_email_length`` checks the three forms of the address in UTF-8 bytes. Every refusal
    is the same TransformError. tests/sync/test_mapping_email_fast.py compares the two paths.
    """
    checked = _email_domain(domain_part, email_validator.TEST_ENVIRONMENT, email_validator.GLOBALLY_DELIVERABLE)
    if checked is None:
        raise TransformError("not a valid email address")
    domain_utf8_len, ascii_domain, public_domain = checked
    # validate_email_length: the original (len(local) + 1 + len(domain_part)) is <= 254 already
    # (the caller's check); the normalised and the ASCII forms are local part + '@' + the domain
    if len(local) + 1 + max(domain_utf8_len, len(ascii_domain)) > 254 or public_domain is None:
        raise TransformError("not a valid email address")
    return f"{local.lower()}@{public_domain}"


@functools.lru_cache(maxsize=4096)
def _email_domain(domain_part: str, test_environment: bool,
                  globally_deliverable: bool) -> tuple[int, str, str | None] | None:
    """email-validator's verdict on an address's domain (None: refused), as (the UTF-8 length of its
    normalised form, its ASCII form, ``_domain_ok`` of the ASCII form). A pure function of its
    arguments; exceptions other than a refusal are not remembered and propagate as from
    ``validate_email``."""
    try:
        info = validate_email_domain_name(domain_part, test_environment=test_environment,
                                          globally_deliverable=globally_deliverable)
    except EmailNotValidError:
        return None
    return len(info["domain"].encode()), info["ascii_domain"], _domain_ok(info["ascii_domain"])


def phone_e164(value: Any, default_region: str | None = None) -> str:
    """Any written form ('+86 138-0013-8000', '(415) 555 2671', '０２０ ７９４６ ０９５８') to E.164.

    Numbers without a country code need ``default_region`` (ISO alpha-2); a region that is a
    country name is accepted too, since it often comes from an address field.
    """
    text = normalize_whitespace(fullwidth_to_halfwidth(as_text(value)))
    if not text or len(text) > 64:
        raise TransformError("not a valid phone number")
    # Chinese writes an extension as "转801" / "分机801"; phonenumbers reads "ext."
    if not text.isascii():  # the pattern needs CJK characters: ASCII text is left as it is
        text = _CJK_EXTENSION.sub(" ext. ", text)
    region = None
    if default_region:
        from sync.mapping.countries import country_code

        try:
            region = country_code(default_region)
        except TransformError:
            region = None  # an unknown region only matters if the number lacks a country code
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise TransformError("not a valid phone number" + ("" if region or text.startswith("+")
                                                          else " (no country code and no default region)")) from None
    if not phonenumbers.is_valid_number(number):
        raise TransformError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def domain(value: Any) -> str:
    """The host of a URL or the domain of an email address, lower case, without 'www.'."""
    text = fullwidth_to_halfwidth(as_text(value)).strip()
    if not text or len(text) > 2048:
        raise TransformError("no domain in value")
    if "@" in text and "/" not in text.split("@", 1)[0]:
        host = text.rsplit("@", 1)[1]
    else:
        try:
            host = urlsplit(text if "//" in text else "//" + text).hostname or ""
        except ValueError:
            raise TransformError("not a valid URL") from None
    host = host.strip(".").lower()
    if host.startswith("www."):
        host = host[4:]
    ascii_host = _domain_ok(host)
    if ascii_host is None:
        raise TransformError("no valid domain in value")
    return ascii_host


def company_domain(value: Any) -> str | None:
    """The company's registrable domain from a URL or e-mail address (``sales.acme.com`` →
    ``acme.com``, ``shop.acme.co.uk`` → ``acme.co.uk``, by the Public Suffix List; private
    suffixes such as ``github.io`` keep their owner's label), or None for free-mail providers
    (qq.com, gmail.com, …), whose domain every customer shares."""
    return _company_of_host(domain(value))


@functools.lru_cache(maxsize=4096)
def _company_of_host(host: str) -> str | None:
    # a pure function of the host (the suffix list is tldextract's bundled snapshot), remembered
    # because customers' addresses share their domains and tldextract takes a few µs a host
    if is_free_mail(host):
        return None
    registrable = _public_suffixes()(host).top_domain_under_public_suffix
    if not registrable or is_free_mail(registrable):
        return None if registrable else host
    return registrable


@functools.cache
def _public_suffixes() -> tldextract.TLDExtract:
    # the snapshot bundled with tldextract: no network and no cache files at run time
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)
