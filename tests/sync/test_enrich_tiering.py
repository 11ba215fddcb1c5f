"""Tier cut-offs on small hand-built populations: Pareto shares, ties, zeros, thresholds, mix."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.enrich import CustomerActivity, ScoringRules, score_customers
from sync.enrich.rules import ThresholdSpec, TierSpec
from sync.model import Order, SourceRef

AS_OF = date(2026, 11, 1)


def order(n: int, total: str, days_ago: int = 10, cost: str | None = None) -> Order:
    at = datetime.combine(AS_OF - timedelta(days=days_ago), datetime.min.time(), tzinfo=UTC)
    return Order(source=SourceRef(system="sales", object="orders", id=f"SO-{n}"), ordered_at=at,
                 total=Decimal(total), cost=Decimal(cost) if cost is not None else None, currency="EUR")


def customer(golden_id: str, *totals: str) -> CustomerActivity:
    return CustomerActivity(golden_id, orders=[order(i, t) for i, t in enumerate(totals)])


def tiers(customers: list[CustomerActivity], rules: ScoringRules | None = None) -> dict[str, str]:
    return {s.golden_id: s.tier.value for s in score_customers(customers, rules or ScoringRules(), AS_OF)}


def test_pareto_default_80_15_5():
    values = {"g1": "50", "g2": "30", "g3": "10", "g4": "5", "g5": "3", "g6": "2"}
    got = tiers([customer(g, v) for g, v in values.items()])
    # before g3 the cumulative value is exactly 80 of 100: not below the A line, so B
    assert got == {"g1": "A", "g2": "A", "g3": "B", "g4": "B", "g5": "C", "g6": "C"}


def test_customer_crossing_the_line_is_still_in_the_upper_tier():
    got = tiers([customer("big", "79.99"), customer("mid", "15.01"), customer("small", "5")])
    # before 'mid' 79.99 < 80 so it is A although it takes the total to 95; 'small' starts at 95 -> C
    assert got == {"big": "A", "mid": "A", "small": "C"}


def test_ties_share_a_tier_whatever_the_order():
    values = [("t1", "30"), ("t2", "30"), ("t3", "30"), ("u1", "5"), ("u2", "5")]
    expected = {"t1": "A", "t2": "A", "t3": "A", "u1": "C", "u2": "C"}
    # the three 30s start at 0 (A) and take 90%; both 5s start at 90% (<95) ... as one group -> B
    expected.update(u1="B", u2="B")
    for seed in range(5):
        shuffled = values[:]
        random.Random(seed).shuffle(shuffled)
        assert tiers([customer(g, v) for g, v in shuffled]) == expected


def test_zero_revenue_customers_are_c_and_do_not_count():
    got = tiers([customer("a", "100"), customer("z1"), customer("z2", "0"), customer("neg", "10", "-10")])
    assert got == {"a": "A", "z1": "C", "z2": "C", "neg": "C"}


def test_all_zero_population_is_all_c():
    assert tiers([customer("z1"), customer("z2", "0")]) == {"z1": "C", "z2": "C"}


def test_single_customer_is_a_and_single_zero_customer_is_c():
    assert tiers([customer("only", "12.34")]) == {"only": "A"}
    assert tiers([customer("only")]) == {"only": "C"}


def test_only_last_12_months_count():
    old = CustomerActivity("old", orders=[order(1, "1000", days_ago=400)])
    got = tiers([old, customer("new", "10")])
    assert got == {"old": "C", "new": "A"}


def test_custom_pareto_shares():
    rules = ScoringRules(tier=TierSpec(pareto={"A": Decimal("0.5"), "B": Decimal("0.3")}))
    got = tiers([customer(g, v) for g, v in {"g1": "40", "g2": "20", "g3": "20", "g4": "20"}.items()], rules)
    # g1 starts at 0 (A), the 20s start at 40 (< 50) -> A as a group
    assert got == {"g1": "A", "g2": "A", "g3": "A", "g4": "A"}
    got = tiers([customer(g, v) for g, v in {"g1": "50", "g2": "30", "g3": "20"}.items()], rules)
    assert got == {"g1": "A", "g2": "B", "g3": "C"}


def test_thresholds_mode_is_inclusive_at_the_threshold():
    rules = ScoringRules(tier=TierSpec(method="thresholds", thresholds=ThresholdSpec(A=Decimal(100), B=Decimal(20))))
    values = {"a": "100", "b1": "99.99", "b2": "20", "c": "19.99", "zero": "0"}
    assert tiers([customer(g, v) for g, v in values.items()], rules) == {
        "a": "A", "b1": "B", "b2": "B", "c": "C", "zero": "C"}


def test_margin_measure_uses_cost_and_default_margin():
    rules = ScoringRules(tier=TierSpec(measure="margin_12m", method="thresholds",
                                       thresholds=ThresholdSpec(A=Decimal(60), B=Decimal(30))))
    with_cost = CustomerActivity("c1", orders=[order(1, "100", cost="40")])   # margin 60
    no_cost = CustomerActivity("c2", orders=[order(1, "100")])                # 30% default -> 30
    loss = CustomerActivity("c3", orders=[order(1, "100", cost="120")])       # -20
    assert tiers([with_cost, no_cost, loss], rules) == {"c1": "A", "c2": "B", "c3": "C"}


def test_margin_trend_compares_the_last_six_months_with_the_six_before():
    # recent: 100 with cost 40 (margin 60); earlier: 100 with cost 20 (margin 80) -> -25%
    active = CustomerActivity("c1", orders=[order(1, "100", days_ago=30, cost="40"),
                                            order(2, "100", days_ago=250, cost="20")])
    new = CustomerActivity("c2", orders=[order(3, "100", days_ago=30, cost="40")])  # nothing before: no trend
    scores = {s.golden_id: s for s in score_customers([active, new], ScoringRules(), AS_OF)}
    trend = {g: [r for r in s.scores["clv"].reasons if r.factor == "margin_trend"] for g, s in scores.items()}
    assert trend["c1"][0].value == pytest.approx(-0.25) and trend["c1"][0].contribution == 0.0
    assert trend["c2"] == []


def test_weighted_mix_hand_computed():
    # revenue shares 75/25, orders 1/3 of 4, margin (30% default) 75/25
    big = CustomerActivity("big", orders=[order(1, "75")])
    busy = CustomerActivity("busy", orders=[order(i, t) for i, t in enumerate(["10", "10", "5"])])
    rules = ScoringRules(tier=TierSpec(measure="weighted"))
    scores = {s.golden_id: s for s in score_customers([big, busy], rules, AS_OF)}
    # big: 0.4*75 + 0.3*25 + 0.3*75 = 60 ; busy: 0.4*25 + 0.3*75 + 0.3*25 = 40 (percent)
    weighted = {g: next(r for r in s.scores["tier"].reasons if r.factor == "weighted") for g, s in scores.items()}
    assert weighted["big"].contribution == pytest.approx(60)
    assert weighted["busy"].contribution == pytest.approx(40)
    # busy starts at 60 of 100 weighted points, below the 80% line: A as well
    assert {g: s.tier.value for g, s in scores.items()} == {"big": "A", "busy": "A"}


def test_tier_reason_shows_value_and_cutoffs():
    scored = list(score_customers([customer("g1", "80"), customer("g2", "20")], ScoringRules(), AS_OF))
    reason = scored[1].scores["tier"].reasons[0]
    assert reason.factor == "revenue_12m"
    assert reason.value == "20"
    assert reason.contribution == pytest.approx(20.0)
    assert "A = top 80%" in (reason.note or "") and "from 80" in (reason.note or "")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.decimals(min_value=-50, max_value=10_000, places=2, allow_nan=False, allow_infinity=False),
                min_size=1, max_size=60))
def test_pareto_properties(values):
    from sync.enrich.tiering import TierCollector

    spec = TierSpec()
    collector = TierCollector(spec)
    for v in values:
        collector.add({"revenue_12m": v})
    cut = collector.finish()
    tier = {v: cut.tier_of(cut.value_units({"revenue_12m": v})).value for v in values}
    rank = {"A": 0, "B": 1, "C": 2}
    ordered = sorted(set(values), reverse=True)
    # a higher value never gets a worse tier; zero and below are C
    assert all(rank[tier[hi]] <= rank[tier[lo]] for hi, lo in itertools.pairwise(ordered))
    assert all(tier[v] == "C" for v in values if v <= 0)
    total = sum(v for v in values if v > 0)
    a_sum = sum(v for v in values if tier[v] == "A")
    ab_sum = a_sum + sum(v for v in values if tier[v] == "B")
    if total > 0:
        # A reaches 80% of the total, and without its smallest value group it would not
        assert a_sum >= Decimal("0.80") * total
        smallest_a = min(v for v in values if tier[v] == "A")
        assert a_sum - smallest_a * values.count(smallest_a) < Decimal("0.80") * total
        assert ab_sum >= Decimal("0.95") * total
    else:
        assert set(tier.values()) == {"C"}
