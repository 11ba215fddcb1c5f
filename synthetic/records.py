"""Customer-level and contact records of one real customer in each system, and their ground truth.

Salesforce Accounts and Contacts, finance customers and sales accounts (with their contact
person) are written here from a :class:`Company`, each with its own dirt; every one of them gets
a ground-truth link naming the real customer or person it belongs to. Links for broken rows of
other objects (decided in the company's core) are added too, so the truth is complete whichever
objects are generated.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from typing import Any

from synthetic import dirt
from synthetic import names as nm
from synthetic.companies import Company, Universe, seconds_at
from synthetic.ids import BROKEN_SLOT, BROKEN_SURVEY_SLOT, invoice_no, order_id, sf_id, sf_record_id
from synthetic.values import DAY, NOW, NOW_DAY, USCC_REFORM_DAY, ts_text

Record = tuple[str, str, dict[str, Any]]

WRITEBACK_FIELDS = ("CRM2_Golden_Id__c", "CRM2_Tier__c", "CRM2_Health_Score__c", "CRM2_Churn_Risk__c",
                    "CRM2_Churn_Reasons__c", "CRM2_Lifecycle_Stage__c", "CRM2_CLV__c", "CRM2_Forecast__c",
                    "CRM2_Scored_At__c")
# Bulk jobs touch many rows in the same second: ties on SystemModstamp are normal in Salesforce.
MASS_UPDATES = tuple(d * DAY + 2 * 3600 for d in (NOW_DAY - 600, NOW_DAY - 230, NOW_DAY - 45))


def modified(created: int, rng: random.Random) -> tuple[int, int]:
    """(last modified, system modstamp) for a record created at ``created`` (seconds)."""
    r = rng.random
    if r() < 0.05:
        stamp = MASS_UPDATES[int(r() * len(MASS_UPDATES))]
        if stamp > created:
            return stamp, stamp
    last = created + int((NOW - 1 - created) * r() ** 0.7) if created < NOW - 1 else created
    system = min(NOW - 1, last + int(r() * 40 * 3600)) if r() < 0.1 else last
    return last, system


def _link(system: str, obj: str, source_id: str, entity: str, real_id: str, broken: str | None = None) -> Record:
    row: dict[str, Any] = {"system": system, "object": obj, "source_id": source_id, "entity": entity,
                           "real_id": real_id}
    if broken:
        row["broken"] = broken
    return "truth", "links", row


def customer_records(co: Company, u: Universe, rng: random.Random) -> Iterator[Record]:
    """Every customer-level and contact record of the company, then its ground-truth links."""
    truth: list[Record] = []
    accounts, contacts = _salesforce(co, rng, truth)
    finance = _finance(co, u, rng, truth)
    sales = _sales(co, u, rng, truth)
    _share_identifiers(co, rng, accounts, finance, sales)
    for record in accounts:
        yield "salesforce", "Account", record
    for record in contacts:
        yield "salesforce", "Contact", record
    for record in finance:
        yield "finance", "customers", record
    for record in sales:
        yield "sales", "accounts", record
    i = co.index
    if "invoice" in co.broken:
        truth.append(_link("finance", "invoices", invoice_no(i, BROKEN_SLOT), "invoice", co.real_id,
                           co.broken["invoice"]))
    if "order" in co.broken:
        truth.append(_link("sales", "orders", order_id(i, BROKEN_SLOT), "order", co.real_id, co.broken["order"]))
    if "survey" in co.broken:
        truth.append(_link("salesforce", "Survey_Response__c",
                           sf_record_id("Survey_Response__c", i, BROKEN_SURVEY_SLOT), "survey", co.real_id,
                           co.broken["survey"]))
    yield from truth


# -- shared identifiers -----------------------------------------------------------------------------
# Records of one company that share no identifier at all are rare in practice: someone keyed the
# tax id or the switchboard number into each system. The generator keeps that true for all but a
# few companies, whose records only a name can join (or nothing: the hard residue of real data).
UNLINKED_SHARE = 0.01
_TAX_FIELDS = {"Tax_Id__c", "tax_id", "vat_or_tax_id"}


def _alnum(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isalnum()).upper()


def _digits(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isdigit())


def _anchors(co: Company, record: dict[str, Any]) -> set[str]:
    found = set()
    for name in _TAX_FIELDS & record.keys():
        if record[name] and _alnum(record[name]) == co.tax_id.replace("-", ""):
            found.add("tax")
    contact = record.get("contact")
    phones = [record.get("Phone") or record.get("phone"), contact.get("phone") if contact else None]
    subscriber = co.phone_main[len(co.place.area):]
    for text in phones:
        if text and "ext" not in text and "转" not in text and _digits(text).endswith(subscriber):
            found.add("phone")
    return found


def _share_identifiers(co: Company, rng: random.Random, *groups: list[dict[str, Any]]) -> None:
    """Give each record that shares no tax id or main phone with the others one of theirs."""
    records = [rec for group in groups for rec in group if not rec.get("IsDeleted")]
    if len(records) < 2 or rng.random() < UNLINKED_SHARE:
        return
    anchors = [_anchors(co, rec) for rec in records]
    while True:
        # the records joined to the first one by shared identifiers, transitively
        linked, frontier = {0}, [0]
        while frontier:
            k = frontier.pop()
            for j in range(len(records)):
                if j not in linked and anchors[j] & anchors[k]:
                    linked.add(j)
                    frontier.append(j)
        outside = [j for j in range(len(records)) if j not in linked]
        if not outside:
            return
        present = set().union(*(anchors[k] for k in linked))
        if present:
            kind = "tax" if "tax" in present and ("phone" not in present or rng.random() < 0.6) else "phone"
        else:
            kind = "tax" if rng.random() < 0.6 else "phone"
        given = _give(co, records[outside[0]], kind, rng)
        anchors[outside[0]].add(given)
        if given not in present:
            anchors[0].add(_give(co, records[0], given, rng))


def _give(co: Company, record: dict[str, Any], kind: str, rng: random.Random) -> str:
    """Put the company's tax id or main phone into the record; returns which one it got."""
    tax_field = next(name for name in _TAX_FIELDS if name in record)
    if kind == "phone" and "contact" in record and record["contact"] is None:
        kind = "tax"  # no contact person to carry the number
    if kind == "tax":
        record[tax_field] = co.tax_id if rng.random() < 0.7 else co.tax_id.lower()
    elif "contact" in record:
        record["contact"]["phone"] = dirt.phone(co, co.phone_main, rng, clean=True)
    else:
        record["Phone" if "Phone" in record else "phone"] = dirt.phone(co, co.phone_main, rng, clean=True)
    return kind


def _salesforce(co: Company, rng: random.Random,
                truth: list[Record]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    r = rng.random
    ids = co.sf_account_ids
    accounts: list[dict[str, Any]] = []
    for k, account_id in enumerate(ids):
        primary = k == 0
        created_day = co.created_day if primary else min(NOW_DAY - 1, co.created_day + 60 + int(r() * 900))
        created = seconds_at(created_day, co, r())
        last, stamp = modified(created, rng)
        name, zh = dirt.company_name(co, rng, 0.6)
        broken = None
        if primary and "sf_name" in co.broken:
            name, broken = "  ", co.broken["sf_name"]
        phone = None
        x = r()
        if x < 0.86:
            if co.parent_phone and r() < 0.7:
                phone = dirt.phone(co, co.parent_phone, rng, co.parent_place)
            else:
                phone = dirt.phone(co, co.phone_main, rng)
        elif x < 0.89:
            phone = dirt.BAD_PHONES[int(r() * len(dirt.BAD_PHONES))]
        record: dict[str, Any] = {
            "Id": account_id,
            "Name": name,
            "Type": co.account_type if primary or r() < 0.7 else None,
            "Industry": co.industry.sf if r() < 0.85 else None,
            "Website": dirt.website(co.domain, rng) if r() < (0.75 if primary else 0.5) else None,
            "Phone": phone,
            "BillingStreet": (co.street_local if zh else co.street_en) if r() < 0.8 else None,
            "BillingCity": dirt.city(co, rng, zh),
            "BillingPostalCode": co.postal_code if co.postal_code and r() < 0.75 else None,
            "BillingCountry": dirt.country(co, rng, 0.06),
            "Tax_Id__c": dirt.tax_id(co, rng) if r() < (0.35 if not primary else 0.7 if co.chinese else 0.45)
            else None,
            "ParentId": co.parent_sf_id if primary else None,
            "OwnerId": sf_id("User", co.owner if primary else int(r() * 40)),
            "CreatedDate": ts_text(created),
            "LastModifiedDate": ts_text(last),
            "SystemModstamp": ts_text(stamp),
            "IsDeleted": r() < (0.005 if primary else 0.25),
        }
        record.update(dict.fromkeys(WRITEBACK_FIELDS))
        accounts.append(record)
        truth.append(_link("salesforce", "Account", account_id, "customer", co.real_id, broken))

    contacts: list[dict[str, Any]] = []
    if not ids:
        return accounts, contacts
    for p, person in enumerate(co.persons):
        if not person.in_sf:
            continue
        for duplicate in (False, True):
            if duplicate and not person.sf_duplicate:
                break
            slot = p + (8 if duplicate else 0)
            contact_id = sf_record_id("Contact", co.index, slot)
            day = person.created_day + (30 + int(r() * 500) if duplicate else 0)
            created = seconds_at(min(day, NOW_DAY - 1), co, r())
            last, stamp = modified(created, rng)
            first, last_name = dirt.person_name(person, rng)
            email, broken = dirt.email(person.email, rng) if r() < 0.88 else (None, None)
            contacts.append({
                "Id": contact_id,
                "AccountId": ids[min(person.sf_account, len(ids) - 1)],
                "FirstName": first,
                "LastName": last_name,
                "Email": email,
                "Phone": dirt.phone(co, co.phone_main, rng) if r() < 0.4 else None,
                "MobilePhone": dirt.mobile(co, person.mobile, rng) if r() < 0.8 else None,
                "Title": person.title if r() < 0.7 else None,
                "MailingCountry": dirt.country(co, rng, 0.06) if r() < 0.8 else None,
                "CreatedDate": ts_text(created),
                "LastModifiedDate": ts_text(last),
                "SystemModstamp": ts_text(stamp),
                "IsDeleted": r() < 0.005,
            })
            truth.append(_link("salesforce", "Contact", contact_id, "contact", person.real_id, broken))
    return accounts, contacts


def _finance(co: Company, u: Universe, rng: random.Random, truth: list[Record]) -> list[dict[str, Any]]:
    r = rng.random
    out: list[dict[str, Any]] = []
    for k in range(co.finance_accounts):
        primary = k == 0
        customer_no = u.finance_customer_no(co.index, k)
        day = co.created_day + int(r() * 60)  # opened with the first invoice
        if not primary:
            day += 60 + int(r() * 700)
        created = seconds_at(min(day, NOW_DAY - 1), co, r())
        last, _ = modified(created, rng)
        name: str | None
        name, zh = dirt.company_name(co, rng, 0.92)
        broken = None
        if primary and "finance_name" in co.broken:
            name, broken = None, co.broken["finance_name"]
        tax = None
        if r() < (0.97 if co.chinese else 0.85) * (1 if primary else 0.7):
            tax = dirt.tax_id(co, rng)
            if co.legacy_id and day < USCC_REFORM_DAY and r() < 0.03:
                tax = co.legacy_id  # never re-keyed after the 2015 reform
        x = r()
        phone = None
        if x < 0.62:
            phone = dirt.phone(co, co.phone_main, rng)
        elif x < 0.86:
            phone = dirt.phone(co, co.phone_finance, rng)
        elif x < 0.88:
            phone = dirt.BAD_PHONES[int(r() * len(dirt.BAD_PHONES))]
        x = r()
        email = None
        if x < 0.7 and not co.persons[0].email.endswith(co.domain):
            email = co.persons[0].email  # a small business: the owner's own mailbox
        elif x < 0.7:
            boxes = nm.FINANCE_MAILBOXES_CN if co.chinese else nm.FINANCE_MAILBOXES
            email = f"{boxes[int(r() * len(boxes))]}@{co.domain}"
        elif x < 0.84:
            email = co.persons[0].email
        if email is not None:
            email, bad = dirt.email(email, rng)
            broken = broken or bad
        out.append({
            "customer_no": customer_no,
            "name": name,
            "tax_id": tax,
            "address": (co.street_local if zh else co.street_en) if r() < 0.85 else None,
            "city": dirt.city(co, rng, zh),
            "postal_code": co.postal_code if co.postal_code and r() < 0.8 else None,
            "country": dirt.country(co, rng, 0.7),
            "phone": phone,
            "email": email,
            "currency": co.country.currency,
            "payment_terms_days": co.terms_days,
            "created_at": ts_text(created),
            "updated_at": ts_text(last),
        })
        truth.append(_link("finance", "customers", customer_no, "customer", co.real_id, broken))
    return out


def _sales(co: Company, u: Universe, rng: random.Random, truth: list[Record]) -> list[dict[str, Any]]:
    r = rng.random
    out: list[dict[str, Any]] = []
    for k in range(co.sales_accounts):
        primary = k == 0
        account_id = u.sales_account_id(co.index, k)
        day = co.created_day + int(r() * 90)
        if not primary:
            day += 90 + int(r() * 600)
        created = seconds_at(min(day, NOW_DAY - 1), co, r())
        last, _ = modified(created, rng)
        name, zh = dirt.company_name(co, rng, 0.45)
        contact: dict[str, Any] | None = None
        contact_truth: Record | None = None
        if r() > 0.02:
            person = co.persons[1] if len(co.persons) > 1 and r() < 0.2 else co.persons[0]
            email, bad = dirt.email(person.email, rng) if r() < 0.9 else (None, None)
            x = r()
            phone = dirt.mobile(co, person.mobile, rng) if x < 0.7 else \
                dirt.phone(co, co.phone_main, rng) if x < 0.95 else None
            contact = {"name": dirt.full_name(person, rng), "email": email, "phone": phone}
            contact_truth = _link("sales", "account_contacts", account_id, "contact", person.real_id, bad)
        out.append({
            "id": account_id,
            "company": name,
            "contact": contact,
            "country": dirt.country(co, rng, 0.55),
            "city": dirt.city(co, rng, zh and r() < 0.5),
            "vat_or_tax_id": dirt.tax_id(co, rng) if r() < (0.5 if co.chinese else 0.4) * (1 if primary else 0.6)
            else None,
            "created_at": ts_text(created),
            "updated_at": ts_text(last),
        })
        truth.append(_link("sales", "accounts", account_id, "customer", co.real_id))
        if contact_truth:
            truth.append(contact_truth)
    return out
