"""What happens around a customer in Salesforce: opportunities, service cases, tasks, events, surveys.

Volumes grow with the customer's size; customers on the way out (declining, churning) open more
cases, more of them complaints, wait longer for answers and give lower satisfaction scores that
fall over time, so service-quality and churn-risk scores have a signal to find.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

from synthetic import names as nm
from synthetic.companies import Company, seconds_at
from synthetic.ids import BROKEN_SURVEY_SLOT, SF_SLOTS, sf_record_id
from synthetic.records import modified
from synthetic.values import DAY, HOUR, NOW, NOW_DAY, WINDOW_START_DAY, day_text, money, ts_text, year_of

Record = tuple[str, str, dict[str, Any]]

OPEN_STAGES = (("Prospecting", 10), ("Qualification", 20), ("Needs Analysis", 30), ("Value Proposition", 40),
               ("Proposal/Price Quote", 60), ("Negotiation/Review", 80))
PRIORITIES = ("Low",) * 25 + ("Medium",) * 45 + ("High",) * 22 + ("Critical",) * 8
ORIGINS = ("Phone", "Email", "Web", "Chat")
TASK_TYPES = ("Call",) * 5 + ("Email",) * 4 + ("Task",) * 2
EVENT_TYPES = ("Meeting",) * 6 + ("Chat",) * 3 + ("Social",)


def crm_records(co: Company, rng: random.Random) -> Iterator[Record]:
    if not co.sf_accounts:
        return
    accounts = co.sf_account_ids
    contacts = [sf_record_id("Contact", co.index, p) for p, person in enumerate(co.persons) if person.in_sf]
    at_risk = co.pattern in ("declining", "churning")
    ctx = _Context(co, rng, accounts, contacts, at_risk)
    yield from _opportunities(ctx)
    closed_cases: list[tuple[int, str | None]] = []
    yield from _cases(ctx, closed_cases)
    yield from _activities(ctx)
    yield from _surveys(ctx, closed_cases)


class _Context:
    __slots__ = ("accounts", "at_risk", "co", "contacts", "first_day", "last_day", "rng")

    def __init__(self, co: Company, rng: random.Random, accounts: list[str], contacts: list[str],
                 at_risk: bool) -> None:
        self.co, self.rng, self.accounts, self.contacts, self.at_risk = co, rng, accounts, contacts, at_risk
        self.first_day = max(co.start_day, WINDOW_START_DAY)
        # service and sales activity fade out a few weeks after a churned customer's last order
        self.last_day = min(NOW_DAY, co.end_day + 45)

    def day(self) -> int:
        return self.first_day + int(self.rng.random() * max(1, self.last_day - self.first_day))

    def account(self) -> str:
        return self.accounts[1] if len(self.accounts) > 1 and self.rng.random() < 0.2 else self.accounts[0]

    def contact(self) -> str | None:
        if not self.contacts or self.rng.random() < 0.2:
            return None
        return self.contacts[int(self.rng.random() * len(self.contacts))]

    def stamps(self, created: int) -> dict[str, Any]:
        last, stamp = modified(created, self.rng)
        return {"CreatedDate": ts_text(created), "LastModifiedDate": ts_text(last), "SystemModstamp": ts_text(stamp),
                "IsDeleted": self.rng.random() < 0.005}


def _count(rng: random.Random, mean: float, cap: int) -> int:
    """A Poisson-distributed count (Knuth's method: fine for the small means used here)."""
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit and k < cap:
        k += 1
        p *= rng.random()
    return k


def _opportunities(ctx: _Context) -> Iterator[Record]:
    co, rng = ctx.co, ctx.rng
    r = rng.random
    mean = 2.0 if co.pattern == "prospect" else 0.6 + 0.5 * math.log1p(co.size)
    units = co.country.units_per_usd
    for k in range(_count(rng, mean, SF_SLOTS["Opportunity"])):
        day = ctx.day()
        close = day + 15 + int(r() * 135)
        if close < NOW_DAY:
            won = r() < (0.5 if ctx.at_risk else 0.62)
            stage, probability, closed = ("Closed Won", 100, True) if won else ("Closed Lost", 0, True)
        else:
            stage, probability = OPEN_STAGES[int(r() * len(OPEN_STAGES))]
            closed, won = False, False
        amount = int(450 * co.size * rng.uniform(2, 12) * units) * 100
        topic = nm.OPPORTUNITY_TOPICS[int(r() * len(nm.OPPORTUNITY_TOPICS))]
        yield "salesforce", "Opportunity", {
            "Id": sf_record_id("Opportunity", co.index, k), "AccountId": ctx.account(),
            "Name": f"{co.brand} - {topic} {year_of(close)}", "StageName": stage, "Amount": money(amount),
            "CurrencyIsoCode": co.country.currency, "Probability": probability, "CloseDate": day_text(close),
            "IsClosed": closed, "IsWon": won, **ctx.stamps(seconds_at(day, co, r()))}


def _cases(ctx: _Context, closed_cases: list[tuple[int, str | None]]) -> Iterator[Record]:
    co, rng = ctx.co, ctx.rng
    r = rng.random
    mean = (0.5 + 0.5 * math.log1p(co.size)) * (1.8 if ctx.at_risk else 1.0)
    complaint_share = 0.45 if ctx.at_risk else 0.18
    for k in range(_count(rng, mean, SF_SLOTS["Case"] - 1)):
        opened = seconds_at(ctx.day(), co, r())
        x = r()
        kind = "Complaint" if x < complaint_share else "Problem" if x < complaint_share + 0.4 else "Question"
        priority = PRIORITIES[int(r() * len(PRIORITIES))]
        subjects: tuple[str, ...] = nm.CASE_SUBJECTS[kind]
        contact = ctx.contact()
        speed = {"Critical": 0.4, "High": 1.0, "Medium": 3.0, "Low": 8.0}[priority] * (2.2 if ctx.at_risk else 1.0)
        first = opened + int(rng.lognormvariate(math.log(speed), 0.9) * HOUR)
        closed_at = first + int(rng.lognormvariate(math.log(30 * speed), 1.0) * HOUR)
        if first >= NOW or r() < 0.04:
            status, first_text, closed_text = "New", None, None
        elif closed_at >= NOW or r() < 0.05:
            status, first_text, closed_text = ("Escalated" if r() < 0.3 else "Working"), ts_text(first), None
        else:
            status, first_text, closed_text = "Closed", ts_text(first), ts_text(closed_at)
            closed_cases.append((closed_at, contact))
        yield "salesforce", "Case", {
            "Id": sf_record_id("Case", co.index, k), "AccountId": ctx.account(), "ContactId": contact,
            "Subject": subjects[int(r() * len(subjects))], "Priority": priority, "Status": status,
            "Origin": ORIGINS[int(r() * len(ORIGINS))], "Type": kind, "CreatedDate": ts_text(opened),
            "First_Response_At__c": first_text, "ClosedDate": closed_text,
            **_later(ctx, max(opened, closed_at if closed_text else first if first_text else opened))}


def _later(ctx: _Context, changed: int) -> dict[str, Any]:
    """Modification stamps of a record whose last real change was at ``changed``."""
    changed = min(changed, NOW - 1)
    stamp = min(NOW - 1, changed + int(ctx.rng.random() * 6 * HOUR)) if ctx.rng.random() < 0.1 else changed
    return {"LastModifiedDate": ts_text(changed), "SystemModstamp": ts_text(stamp),
            "IsDeleted": ctx.rng.random() < 0.003}


def _activities(ctx: _Context) -> Iterator[Record]:
    co, rng = ctx.co, ctx.rng
    r = rng.random
    for k in range(_count(rng, 1.2 + 0.8 * math.log1p(co.size), SF_SLOTS["Task"])):
        day = ctx.day() if r() < 0.93 else min(NOW_DAY + 30, NOW_DAY + int(r() * 30))  # a few still to do
        kind = TASK_TYPES[int(r() * len(TASK_TYPES))]
        created = seconds_at(min(day, NOW_DAY - 1) - int(r() * 5), co, r())
        subjects: tuple[str, ...] = nm.TASK_SUBJECTS[kind]
        yield "salesforce", "Task", {
            "Id": sf_record_id("Task", co.index, k), "WhatId": ctx.account(), "WhoId": ctx.contact(),
            "Subject": subjects[int(r() * len(subjects))], "TaskSubtype": kind,
            "ActivityDate": day_text(day) if r() < 0.9 else None,
            "Status": "Completed" if day < NOW_DAY else "Not Started", **ctx.stamps(created)}
    for k in range(_count(rng, 0.4 + 0.4 * math.log1p(co.size), SF_SLOTS["Event"])):
        start = seconds_at(ctx.day(), co, r() * 0.8)
        kind = EVENT_TYPES[int(r() * len(EVENT_TYPES))]
        subjects = nm.EVENT_SUBJECTS[kind]
        yield "salesforce", "Event", {
            "Id": sf_record_id("Event", co.index, k), "WhatId": ctx.account(), "WhoId": ctx.contact(),
            "Subject": subjects[int(r() * len(subjects))], "Type": kind, "StartDateTime": ts_text(start),
            "EndDateTime": ts_text(min(start + (1 + int(r() * 4)) * 1800, NOW - 1)),
            **ctx.stamps(max(start - int(r() * 14) * DAY, start - 14 * DAY))}


def _surveys(ctx: _Context, closed_cases: list[tuple[int, str | None]]) -> Iterator[Record]:
    co, rng = ctx.co, ctx.rng
    r = rng.random
    k = 0
    moments: list[tuple[str, int, str | None]] = [("CSAT", closed + int(r() * 2 * DAY), contact)
                                                 for closed, contact in closed_cases if r() < 0.35]
    year = ctx.first_day
    while year < ctx.last_day:
        if r() < 0.45:
            moments.append(("NPS", seconds_at(min(year + int(r() * 365), ctx.last_day), co, r()), ctx.contact()))
        year += 365
    for kind, at, contact in moments:
        if k >= BROKEN_SURVEY_SLOT or at >= NOW:
            continue
        drift = 0.35 * (at / DAY - ctx.first_day) / max(1, ctx.last_day - ctx.first_day) if ctx.at_risk else 0.0
        mood = min(1.0, max(0.0, co.satisfaction - drift + rng.gauss(0, 0.15)))
        score = 1 + round(mood * 4) if kind == "CSAT" else round(mood * 10)
        comments = nm.SURVEY_COMMENTS_GOOD if mood >= 0.6 else nm.SURVEY_COMMENTS_BAD
        yield "salesforce", "Survey_Response__c", {
            "Id": sf_record_id("Survey_Response__c", co.index, k), "Account__c": ctx.accounts[0],
            "Contact__c": contact, "Survey_Type__c": kind, "Score__c": score,
            "Comment__c": comments[int(r() * len(comments))] if r() < 0.4 else None,
            "Responded_At__c": ts_text(at), **ctx.stamps(at)}
        k += 1
    if "survey" in co.broken:
        at = seconds_at(ctx.day(), co, r())
        yield "salesforce", "Survey_Response__c", {
            "Id": sf_record_id("Survey_Response__c", co.index, BROKEN_SURVEY_SLOT), "Account__c": ctx.accounts[0],
            "Contact__c": None, "Survey_Type__c": "NPS", "Score__c": 11, "Comment__c": None,
            "Responded_At__c": ts_text(at), **ctx.stamps(at)}

