"""Free-mail providers and role mailboxes: which addresses say something about a company."""

from __future__ import annotations

import pytest

from sync.mapping import TRANSFORMS, load_mapping_text
from sync.mapping.applier import Mapped
from sync.mapping.contact_points import company_domain
from sync.mapping.mailboxes import EXTRA_FREE_MAIL, is_free_mail, is_role_mailbox


@pytest.mark.parametrize("host", [
    "qq.com", "163.com", "126.com", "foxmail.com", "sina.com", "sohu.com", "gmail.com", "outlook.com",
    "hotmail.com", "yahoo.com", "yahoo.com.tw", "yahoo.co.jp", "gmx.de", "web.de", "icloud.com",
    "hinet.net", "sina.com.cn", "netvigator.com",
])
def test_free_mail_providers_come_from_the_package_list_and_ours(host: str) -> None:
    assert is_free_mail(host)


def test_subdomains_of_a_provider_are_free_mail_but_lookalikes_are_not() -> None:
    assert is_free_mail("vip.163.com")
    assert is_free_mail("ms1.hinet.net")
    assert is_free_mail("QQ.COM")
    assert not is_free_mail("huateng-tech.com.cn")
    assert not is_free_mail("myqq.com.cn")
    assert not is_free_mail("gmail.com.example.org")
    assert not is_free_mail(None)
    assert not is_free_mail("")


def test_our_additions_are_all_plain_domains() -> None:
    assert all(d == d.lower().strip(".") and "." in d for d in EXTRA_FREE_MAIL)


@pytest.mark.parametrize("local", ["ap", "AP", "finance", "finance.cn", "sales-2", "info+eu", "accounts",
                                   "billing", "admin", "caiwu", "kefu", "noreply", "no-reply"])
def test_role_mailboxes(local: str) -> None:
    assert is_role_mailbox(local)


@pytest.mark.parametrize("local", ["wei.zhang", "apple.li", "salesforce.admin", "mailroom", "anna", "", None])
def test_personal_mailboxes_are_not_roles(local: str | None) -> None:
    assert not is_role_mailbox(local)


def test_company_domain_drops_free_mail_and_keeps_company_domains() -> None:
    assert company_domain(" HuaTeng88@QQ.com ") is None
    assert company_domain("zhangwei@vip.163.com") is None
    assert company_domain("ap@huateng-tech.com.cn") == "huateng-tech.com.cn"
    assert company_domain("https://www.Acme.com/contact") == "acme.com"
    assert "company_domain" in TRANSFORMS


def test_a_mapping_derives_no_domain_from_a_free_mail_address_but_keeps_the_address() -> None:
    mapping = load_mapping_text("""
source: ledger
streams:
  customers:
    entity: customer
    key: no
    fields:
      name: name
      email: {from: email, transform: [email]}
      domain: {from: email, transform: [company_domain], on_error: "null"}
""")
    free = mapping.apply("customers", {"no": "1", "name": "华腾", "email": "Boss@163.com"})
    own = mapping.apply("customers", {"no": "2", "name": "华腾", "email": "ap@huateng.cn"})
    assert isinstance(free, Mapped) and isinstance(own, Mapped)
    assert (free.entity.email, free.entity.domain) == ("boss@163.com", None)
    assert (own.entity.email, own.entity.domain) == ("ap@huateng.cn", "huateng.cn")
