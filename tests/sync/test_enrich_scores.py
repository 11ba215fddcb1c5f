"""Scores on small hand-computed customers: churn reasons, weighted scores, CLV, RFM, lifecycle,
forecast, measures, and the engine's determinism."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from sync.enrich import CreditNote, CustomerActivity, ScoringRules, score_customers
from sync.enrich.measures import compute_measures
from sync.enrich.rules import ForecastSpec, LifecycleRule, LifecycleSpec, RevenueSpec
from sync.model import Invoice, LifecycleStage, Order, ServiceCase, SourceRef, Survey, SurveyKind

AS_OF = date(2026, 11, 1)
_n = iter(range(10**9))


def at(days_ago: float) -> datetime:
    return datetime.combine(AS_OF, datetime.min.time(), tzinfo=UTC) - timedelta(days=days_ago)


def ref(obj: str) -> SourceRef:
    return SourceRef(system="test", object=obj, id=str(next(_n)))


def order(total: str, days_ago: float, cost: str | None = None, status: str | None = None) -> Order:
    return Order(source=ref("orders"), ordered_at=at(days_ago), total=Decimal(total), currency="EUR",
                 cost=Decimal(cost) if cost else None, status=status)


def invoice(amount: str, issued_ago: int, due_ago: int, paid_ago: int | None = None, status: str = "open") -> Invoice:
    return Invoice(source=ref("invoices"), issued_on=AS_OF - timedelta(days=issued_ago),
                   due_on=AS_OF - timedelta(days=due_ago), amount=Decimal(amount), currency="EUR", status=status,
                   paid_on=AS_OF - timedelta(days=paid_ago) if paid_ago is not None else None)


def case(opened_ago: float, response_h: float | None = None, closed_h: float | None = None,
         complaint: bool = False) -> ServiceCase:
    opened = at(opened_ago)
    return ServiceCase(source=ref("cases"), opened_at=opened, complaint=complaint,
                       first_response_at=opened + timedelta(hours=response_h) if response_h is not None else None,
                       closed_at=opened + timedelta(hours=closed_h) if closed_h is not None else None)


def survey(kind: str, score: float, days_ago: float) -> Survey:
    return Survey(source=ref("surveys"), kind=SurveyKind(kind), score=score, responded_at=at(days_ago))


def score_one(activity: CustomerActivity, rules: ScoringRules | None = None, as_of: date = AS_OF):
    return next(iter(score_customers([activity], rules or ScoringRules(), as_of)))


def churning_customer() -> CustomerActivity:
    return CustomerActivity(
        "churny", created_at=at(1000),
        orders=[order("1000", 200), order("700", 100)],          # 6m revenue 700 vs 1000 before: -30%
        invoices=[invoice("700", issued_ago=100, due_ago=45)],   # 45 days overdue, unpaid
        cases=[case(100, response_h=2, complaint=True)])         # one open complaint


def test_churn_risk_hand_computed_reasons_sum_and_rank():
    churn = score_one(churning_customer()).scores["churn_risk"]
    got = [(r.factor, r.contribution) for r in churn.reasons]
    assert got == [
        ("falling_revenue", 15.0),        # -0.3 on a 0..-0.6 ramp: half of 30
        ("long_silence", 10.19),          # 100 days: (100-45)/135 of 25 = 10.185 -> 10.19 (half-even cents)
        ("overdue_invoices", 10.0),       # 45 of 90 days: half of 20
        ("open_complaints", 7.5),         # 1 of 2: half of 15
        ("falling_satisfaction", 0.0),    # no surveys: counted as 0
    ]
    assert churn.value == 42.69
    assert sum(Decimal(str(r.contribution)) for r in churn.reasons) == Decimal(str(churn.value))
    assert churn.band == "medium"


def test_churn_risk_is_zero_for_a_steady_customer_and_capped_at_100():
    steady = CustomerActivity("steady", created_at=at(800), orders=[order("100", d) for d in range(5, 700, 20)])
    assert score_one(steady).scores["churn_risk"].value == 0.0
    worst = CustomerActivity(
        "worst", created_at=at(1000),
        orders=[order("1000", 300)],
        invoices=[invoice("500", issued_ago=300, due_ago=200)],
        cases=[case(250, complaint=True), case(240, complaint=True)],
        surveys=[survey("csat", 5, 300), survey("csat", 1, 181)])
    churn = score_one(worst).scores["churn_risk"]
    assert churn.value == 100.0
    assert churn.band == "high"


def test_health_bands_and_contributions():
    health = score_one(churning_customer()).scores["health"]
    assert health.band in {"healthy", "watch", "poor"}
    assert sum(Decimal(str(r.contribution)) for r in health.reasons) == Decimal(str(health.value))
    assert health.reasons == sorted(health.reasons, key=lambda r: (-r.contribution, r.factor))


def test_satisfaction_and_service_quality():
    activity = CustomerActivity("s", orders=[order("10", 5)],
                                surveys=[survey("csat", 4, 10), survey("nps", 10, 20), survey("nps", 9, 30),
                                         survey("nps", 7, 40), survey("nps", 3, 50)],
                                cases=[case(30, response_h=1, closed_h=8), case(20, response_h=48, closed_h=240)])
    scored = score_one(activity)
    m = scored.measures
    assert m["csat_avg_12m"] == 4.0
    assert m["nps_12m"] == 25.0   # 2 promoters, 1 detractor of 4
    sat = scored.scores["satisfaction"]
    # csat (4-1)/4 = 0.75 of 50 = 37.5 ; nps (25+100)/200 = 0.625 of 50 = 31.25
    assert sat.value == 68.75
    assert sat.band == "neutral"
    assert m["first_response_hours_median"] == pytest.approx(24.5)
    assert m["resolution_hours_median"] == pytest.approx(124.0)


def test_score_without_data_is_not_applicable():
    scored = score_one(CustomerActivity("quiet", orders=[order("10", 5)]))
    assert scored.scores["satisfaction"].value == "n/a"
    assert scored.scores["service_quality"].value == "n/a"
    # health counts a missing satisfaction as the configured 50%
    sat = next(r for r in scored.scores["health"].reasons if r.factor == "satisfaction")
    assert sat.contribution == 7.5


def test_clv_hand_computed():
    activity = CustomerActivity("c", orders=[order("1500", 30, cost="500")])   # margin 1000, active
    scored = score_one(activity)
    # 1000 * 0.8 / (1 + 0.1 - 0.8) = 2666.666...
    assert scored.clv == Decimal("2666.67")
    assert scored.scores["clv"].value == "2666.67"
    halfway = score_one(CustomerActivity("h", orders=[order("1500", 242, cost="500")]))
    # last order 242 days ago: p_active = (365-242)/(365-120) = 0.50204..., r = 0.40163...
    r = Decimal("0.80") * Decimal(365 - 242) / Decimal(245)
    assert halfway.clv == (Decimal(1000) * r / (Decimal("1.10") - r)).quantize(Decimal("0.01"))


def test_rfm_quintiles():
    customers = [CustomerActivity(f"c{i}", orders=[order(str(100 * (i + 1)), 50 - 10 * i)] * (i + 1))
                 for i in range(5)]
    rfm = {s.golden_id: s.scores["rfm"].value for s in score_customers(customers, ScoringRules(), AS_OF)}
    assert rfm == {"c0": "111", "c1": "222", "c2": "333", "c3": "444", "c4": "555"}
    never = score_one(CustomerActivity("n"))
    assert never.scores["rfm"].value == "n/a"


def test_lifecycle_first_matching_rule_wins():
    activity = churning_customer()
    both = [LifecycleRule(stage=LifecycleStage.AT_RISK, when="overdue_invoices > 0"),
            LifecycleRule(stage=LifecycleStage.GROWTH, when="orders_total >= 2")]
    first = score_one(activity, ScoringRules(lifecycle=LifecycleSpec(rules=both)))
    assert first.lifecycle_stage == LifecycleStage.AT_RISK
    assert first.scores["lifecycle"].reasons[0].factor == "rule 1"
    assert {r.factor: r.value for r in first.scores["lifecycle"].reasons[1:]} == {"overdue_invoices": 1.0}
    swapped = score_one(activity, ScoringRules(lifecycle=LifecycleSpec(rules=both[::-1])))
    assert swapped.lifecycle_stage == LifecycleStage.GROWTH
    none = score_one(activity, ScoringRules(lifecycle=LifecycleSpec(
        rules=[LifecycleRule(stage=LifecycleStage.CHURNED, when="orders_total > 99")], default="stable")))
    assert none.lifecycle_stage == LifecycleStage.STABLE


def test_lifecycle_default_rules():
    new = CustomerActivity("new", created_at=at(30), orders=[order("10", 20)])
    gone = CustomerActivity("gone", created_at=at(900), orders=[order("10", 400)])
    growing = CustomerActivity("grow", created_at=at(900), orders=[order("100", 500), order("200", 100)])
    stages = {s.golden_id: s.lifecycle_stage for s in score_customers([new, gone, growing], ScoringRules(), AS_OF)}
    assert stages == {"new": "onboarding", "gone": "churned", "grow": "growth"}


def test_a_missing_measure_only_fails_its_own_comparison():
    prospect = CustomerActivity("p")     # no tenure, no orders
    assert score_one(prospect).lifecycle_stage == LifecycleStage.ONBOARDING   # "tenure_days < 120 or orders_total == 0"


def test_terminated_wins_over_every_rule_and_only_from_its_date():
    base = churning_customer()
    base.orders.append(order("5", 500))
    ended = CustomerActivity(**{**{f: getattr(base, f) for f in base.__slots__}, "terminated_on": AS_OF - timedelta(1)})
    scored = score_one(ended, ScoringRules(lifecycle=LifecycleSpec(
        rules=[LifecycleRule(stage=LifecycleStage.GROWTH, when="True")])))
    assert scored.lifecycle_stage == LifecycleStage.TERMINATED
    assert scored.forecast == Decimal("0.00")
    assert scored.clv == Decimal("0.00")
    later = CustomerActivity(**{**{f: getattr(base, f) for f in base.__slots__}, "terminated_on": AS_OF})
    assert score_one(later).lifecycle_stage != LifecycleStage.TERMINATED


def test_forecast_on_a_steady_series_is_the_steady_value():
    steady = CustomerActivity("s", orders=[order("1000.00", 10 + 91 * k) for k in range(8)])
    scored = score_one(steady)
    assert scored.forecast == Decimal("1000.00")
    assert scored.scores["forecast"].value == "1000.00"


def test_forecast_exponential_smoothing_hand_computed():
    # oldest first 400, 300, 200, 100 -> 400, 350, 275, 187.5
    falling = CustomerActivity("f", orders=[order(v, 10 + 91 * k) for k, v in enumerate(["100", "200", "300", "400"])])
    scored = score_one(falling)
    assert scored.forecast == Decimal("187.50")
    reasons = scored.scores["forecast"].reasons
    assert [r.factor for r in reasons] == ["period -1", "period -2", "period -3", "period -4"]
    assert sum(Decimal(str(r.contribution)) for r in reasons) == Decimal("187.5")
    # a new customer is forecast from its own history only, not dragged down by empty periods
    new = score_one(CustomerActivity("n", orders=[order("300", 30)]))
    assert new.forecast == Decimal("300.00")
    rules = ScoringRules(forecast=ForecastSpec(alpha=Decimal(1)))
    assert score_one(falling, rules).forecast == Decimal("100.00")


def test_measures_overdue_paid_and_as_of_boundary():
    activity = CustomerActivity("m", invoices=[
        invoice("100", issued_ago=60, due_ago=30),                       # overdue 30 days
        invoice("50", issued_ago=60, due_ago=30, paid_ago=10),           # paid before as_of
        invoice("70", issued_ago=90, due_ago=60, paid_ago=-5),           # paid after as_of: unpaid then
        invoice("20", issued_ago=60, due_ago=30, status="void"),         # void never counts
        invoice("40", issued_ago=5, due_ago=-25)])                       # open, not yet due
    m = compute_measures(activity, RevenueSpec(), AS_OF)
    assert (m["overdue_invoices"], m["overdue_amount"], m["overdue_days_max"]) == (2, Decimal("170"), 60)
    assert m["open_invoices_amount"] == Decimal("210")


def test_revenue_excludes_cancelled_and_nets_credit_notes():
    activity = CustomerActivity("r", orders=[order("100", 10), order("999", 10, status="Cancelled")],
                                credit_notes=[CreditNote(source=ref("credit_notes"), issued_at=at(5),
                                                         amount=Decimal("25.50"))])
    m = compute_measures(activity, RevenueSpec(), AS_OF)
    assert m["revenue_12m"] == Decimal("74.50")
    assert m["orders_12m"] == 1
    assert m["credit_notes_12m"] == Decimal("25.50")
    gross = compute_measures(activity, RevenueSpec(net_of_credit_notes=False), AS_OF)
    assert gross["revenue_12m"] == Decimal("100")


def test_money_stays_decimal():
    scored = score_one(CustomerActivity("d", orders=[order("0.10", 5), order("0.20", 6)]))
    assert scored.measures["revenue_12m"] == Decimal("0.30")
    assert isinstance(scored.forecast, Decimal)


def _population(seed: int) -> list[CustomerActivity]:
    rnd = random.Random(seed)
    out = []
    for i in range(40):
        orders = [order(f"{rnd.randint(1, 5000)}.{rnd.randint(0, 99):02d}", rnd.randint(1, 800),
                        cost=str(rnd.randint(0, 1000))) for _ in range(rnd.randint(0, 12))]
        surveys = [survey("csat", rnd.randint(1, 5), rnd.randint(1, 400)) for _ in range(rnd.randint(0, 3))]
        out.append(CustomerActivity(f"g{i:03d}", created_at=at(rnd.randint(1, 1000)), orders=orders, surveys=surveys,
                                    cases=[case(rnd.randint(1, 300), rnd.randint(1, 50), complaint=rnd.random() < .3)]))
    return out


def test_scores_are_deterministic_and_independent_of_input_order():
    customers = _population(7)
    first = {s.golden_id: (s.tier, s.lifecycle_stage, {k: v.model_dump() for k, v in s.scores.items()})
             for s in score_customers(customers, ScoringRules(), AS_OF)}
    shuffled = customers[:]
    random.Random(1).shuffle(shuffled)
    again = {s.golden_id: (s.tier, s.lifecycle_stage, {k: v.model_dump() for k, v in s.scores.items()})
             for s in score_customers(iter(shuffled), ScoringRules(), AS_OF)}
    assert first == again
    assert {t for t, _, _ in first.values()} == {"A", "B", "C"}


def test_activity_after_as_of_is_ignored():
    customers = _population(3)
    before = [s.scores for s in score_customers(customers, ScoringRules(), AS_OF)]
    for c in customers:
        c.orders.append(order("99999", -3))
        c.surveys.append(survey("nps", 0, -1))
    after = [s.scores for s in score_customers(customers, ScoringRules(), AS_OF)]
    assert before == after


def test_explain_shows_why_from_the_stored_json():
    from sync.enrich.explain import explain_lines
    from sync.enrich.store_io import scores_json

    lines = explain_lines(scores_json(score_one(churning_customer())), top=2)
    assert lines[0] == "tier A, lifecycle stable"
    at = lines.index("churn_risk: 42.69 (medium)")
    assert lines[at + 1].startswith("  falling_revenue: 15 [-0.3]")
    assert lines[at + 2].startswith("  long_silence: 10.19 [100]")
    assert explain_lines({}) == ["not scored yet (run enrichment)"]


def test_reasons_summary_for_the_crm_field():
    from sync.enrich.explain import reasons_summary
    from sync.enrich.store_io import scores_json

    stored = scores_json(score_one(churning_customer()))
    expected = "falling_revenue 15; long_silence 10.19; overdue_invoices 10"
    assert reasons_summary(stored["scores"]["churn_risk"]) == expected
    steady = CustomerActivity("steady", created_at=at(800), orders=[order("100", d) for d in range(5, 700, 20)])
    assert reasons_summary(scores_json(score_one(steady))["scores"]["churn_risk"]) == ""


def test_docs_describe_every_measure():
    from pathlib import Path

    from sync.enrich.measures import MEASURES

    doc = (Path(__file__).resolve().parents[2] / "docs" / "scoring.md").read_text(encoding="utf-8")
    assert [m for m in MEASURES if f"`{m}`" not in doc] == []
