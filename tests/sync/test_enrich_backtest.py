"""Scores measured against outcomes: the ranking metrics, the churn model on generated data, the CLI backtest.

Floors are set on a small generated data set (fast) well below what bench/bench_scores.py shows
at 20,000 customers, so they catch a model that stopped ranking, not noise.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner

from sync.cli import cli
from sync.enrich import ScoringRules
from sync.enrich.backtest import (
    MIN_SEGMENT,
    ClvPredictions,
    auc,
    backtest_churn,
    backtest_clv,
    choose_clv,
    distinct_in_top,
    top_precision,
)
from sync.enrich.churn_model import churn_model_for, fit_churn_model
from sync.enrich.engine import score_customers, survey_population
from sync.enrich.explain import explain_lines
from sync.enrich.rules import RevenueSpec
from sync.store.schema import crosswalk, golden, staging
from sync.store.store import Store, to_json
from synthetic.activity import synthetic_customers, usd_rates

AS_OF = date(2026, 5, 1)
RULES = ScoringRules(revenue=RevenueSpec(source="invoices", rates=usd_rates()))


@pytest.fixture(scope="module")
def generated():
    return list(synthetic_customers(1500, 42))


def test_auc_counts_ties_as_half():
    assert auc([0.9, 0.8, 0.1], [1, 0, 0]) == 1.0
    assert auc([0.5, 0.5], [1, 0]) == 0.5
    assert auc([0.1, 0.9], [1, 0]) == 0.0
    assert auc([1, 2], [1, 1]) is None  # one outcome only: undefined, not 1


def test_top_precision_shares_a_tie_on_the_cut():
    scores = [9, 5, 5, 5, 5, 1, 1, 1, 1, 1]
    labels = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert top_precision(scores, labels, 0.1) == 1.0
    # the second slot falls in a tie of four holding one churner: a quarter of a hit
    assert top_precision(scores, labels, 0.2) == pytest.approx((1 + 0.25) / 2)
    assert distinct_in_top(scores, 3) == 2


def test_churn_model_ranks_generated_customers(generated):
    customers = [g.activity for g in generated]
    end = AS_OF + timedelta(days=RULES.churn_model.horizon_days)
    stops = {g.activity.golden_id: g.stops_on for g in generated}
    report = backtest_churn(customers, RULES, AS_OF, lead_times=False,
                            truth=lambda a: stops[a.golden_id] is not None and stops[a.golden_id] <= end)
    model, ramps = report.rankings
    assert model.name.startswith("model") and ramps.name.startswith("rules")
    assert report.customers > 800
    # against the generator's truth (who really stops buying): the goals, with a margin for small data
    assert model.truth_auc >= 0.85
    assert model.truth_top_decile >= 0.55
    # against the observed outcome it beats the ramps, and its top 25 has no ties (the ramps' plateau)
    assert model.auc > ramps.auc
    assert model.distinct_top25 == 25
    # calibrated bands: a higher band means a higher observed churn rate
    rates = {band: rate for band, (_n, rate) in model.bands.items()}
    assert rates["high"] > rates["medium"] > rates["low"]


def test_model_is_reproducible_and_reasons_add_up(generated):
    customers = [g.activity for g in generated]
    first = fit_churn_model(customers, RULES, AS_OF)
    again = fit_churn_model(customers, RULES, AS_OF)
    assert first == again
    assert first.fitted_as_of == AS_OF - timedelta(days=180)
    # refit monthly (the default): a later run in the same month scores with the same model
    assert fit_churn_model(customers, RULES, AS_OF + timedelta(days=16)) == first
    # data after as_of cannot change the model: cut everything at as_of and refit
    cut = [_before(a, AS_OF) for a in customers]
    assert fit_churn_model(cut, RULES, AS_OF).coefs == pytest.approx(first.coefs)

    population_model = churn_model_for(customers, RULES, AS_OF)
    population = survey_population(customers, RULES, AS_OF).with_churn(population_model)
    results = list(score_customers(customers[:200], RULES, AS_OF, population))
    for result in results:
        score = result.scores["churn_risk"]
        total = sum(r.contribution for r in score.reasons)
        assert total == pytest.approx(score.value, abs=0.0001)
        assert score.reasons[-1].factor == "baseline"
        assert 0 <= score.value <= 100
    lines = explain_lines(results[0])
    assert any(line.startswith("churn_risk:") for line in lines)
    assert any("silence_vs_rhythm" in line or "active_months_12m" in line for line in lines)


def test_rules_stay_the_override(generated):
    customers = [g.activity for g in generated[:300]]
    rules = RULES.model_copy(update={"churn_model": RULES.churn_model.model_copy(update={"use": "rules"})})
    assert churn_model_for(customers, rules, AS_OF) is None
    result = next(score_customers(customers, rules, AS_OF))
    assert {r.factor for r in result.scores["churn_risk"].reasons} == set(rules.churn_risk.factors)


def test_clv_choice_is_at_least_as_good_as_the_best_single_model(generated):
    customers = [g.activity for g in generated]
    report = backtest_clv(customers, RULES, date(2025, 11, 1), days=365)
    singles = ("naive", "closed form", "BG/NBD+GG")
    # the issue's goal, on both targets: crm2's choice (models and blends per segment, picked on an
    # earlier split) is no worse per customer than the best single model
    assert report.mae_purchases["crm2 choice"] <= min(report.mae_purchases[m] for m in singles)
    assert report.mae_spend["crm2 choice"] <= min(report.mae_spend[m] for m in singles)
    assert None in report.chosen  # the fallback for small segments is always stated


def test_clv_choice_blends_and_falls_back_for_small_segments():
    # 300 customers with 3-5 repeat purchases, where the truth is the mean of two models that err
    # in opposite directions, and 10 with 6+, too few to choose for themselves
    big, small = MIN_SEGMENT + 100, 10
    n = big + small
    def preds() -> ClvPredictions:
        table = {"naive": [4.0] * n, "closed form": [1.0] * n, "BG/NBD+GG": [3.0] * n}
        return ClvPredictions(purchases={m: list(v) for m, v in table.items()},
                              spend={m: list(v) for m, v in table.items()}, repeat=[3] * big + [6] * small)
    truth = [(2.0, 2.0)] * n
    pred = preds()
    chosen = choose_clv(preds(), truth, pred)
    assert chosen[3] == ("1/2 closed form + 1/2 BG/NBD+GG",) * 2
    assert chosen[None] == chosen[3] and 6 not in chosen  # the small segment takes the overall choice
    assert pred.purchases["crm2 choice"] == [2.0] * n


def _before(activity, day):
    """The customer as a store would have held it on ``day``: nothing from that day on."""
    from dataclasses import replace
    cut = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    return replace(activity,
                   orders=[o for o in activity.orders if o.ordered_at < cut],
                   invoices=[i for i in activity.invoices if i.issued_on < day],
                   payments=[p for p in activity.payments if p.paid_at < cut],
                   credit_notes=[c for c in activity.credit_notes if c.issued_at < cut],
                   interactions=[i for i in activity.interactions if i.occurred_at < cut],
                   cases=[c for c in activity.cases if c.opened_at < cut],
                   surveys=[s for s in activity.surveys if s.responded_at < cut])


def _stage_store(path, generated) -> None:
    stamp = datetime(2026, 11, 1, tzinfo=UTC)
    with Store.open(path) as store, store.begin() as conn:
        gold, xwalk, staged = [], [], []
        for g in generated:
            gid, account = g.activity.golden_id, f"ACC-{g.activity.golden_id}"
            ref = {"source_system": "sales", "source_object": "accounts", "source_id": account}
            gold.append({"golden_id": gid, "entity": "customer", "data": {"name": gid}, "created_at": stamp,
                         "updated_at": stamp})
            xwalk.append({**ref, "entity": "customer", "golden_id": gid, "content_hash": "-", "updated_at": stamp})
            staged.append({**ref, "entity": "customer", "data": {"name": gid}, "content_hash": "-",
                           "updated_at": stamp})
            for o in g.activity.orders:
                data = to_json({"customer": account, "ordered_at": o.ordered_at, "total": o.total, "cost": o.cost,
                                "currency": o.currency, "status": o.status})
                staged.append({"source_system": "sales", "source_object": "orders", "source_id": o.source.id,
                               "entity": "order", "data": data, "content_hash": "-", "updated_at": stamp})
        conn.execute(golden.insert(), gold)
        conn.execute(crosswalk.insert(), xwalk)
        conn.execute(staging.insert(), staged)


def test_cli_backtest_on_a_store(tmp_path, generated):
    path = tmp_path / "crm2.sqlite"
    _stage_store(path, generated)
    result = CliRunner().invoke(cli, ["scores", "backtest", "--as-of", "2026-05-01", "--store", str(path),
                                      "--no-lead-times", "--only", "churn", "--only", "clv", "--holdout", "180"])
    assert result.exit_code == 0, result.output
    assert "model (logistic)" in result.output and "rules (ramps)" in result.output
    assert "placed no order in the next 180 days" in result.output
    assert "BG/NBD+GG" in result.output and "forecast:" not in result.output
    assert "small segments:" in result.output  # the CLV choice is printed with its fallback
    bad = CliRunner().invoke(cli, ["scores", "backtest", "--as-of", "2026-13-01", "--store", str(path)])
    assert bad.exit_code == 2


def test_forecast_backtest_chooses_per_customer_and_beats_naive(generated):
    from sync.enrich.backtest import backtest_forecast

    customers = [g.activity for g in generated]
    result = backtest_forecast(customers, RULES, date(2026, 8, 2))
    assert set(result.wape) >= {"naive", "mean_4", "ses", "croston", "tsb", "adida", "bg/nbd", "crm2 choice"}
    assert result.wape["crm2 choice"] <= result.wape["naive"] - 0.05
    assert abs(result.total_error["crm2 choice"]) <= 0.10
    assert sum(result.chosen.values()) == len(customers)


def test_clv_backtest_compares_models_on_a_holdout(generated):
    from sync.enrich.backtest import backtest_clv

    customers = [g.activity for g in generated]
    result = backtest_clv(customers, RULES, date(2025, 11, 1), days=365)
    assert set(result.mae_purchases) == {"naive", "closed form", "BG/NBD+GG", "crm2 choice"}
    # BG/NBD predicts purchases better than crm2's closed form, and gets the total about right
    assert result.mae_purchases["BG/NBD+GG"] < result.mae_purchases["closed form"]
    assert abs(result.total_error_purchases["BG/NBD+GG"]) <= 0.10
    assert result.actual_spend > 0


def test_enrich_store_scores_churn_with_the_model(tmp_path, generated):
    from sync.enrich.store_io import enrich_store, read_scores

    path = tmp_path / "crm2.sqlite"
    _stage_store(path, generated)
    with Store.open(path) as store:
        first = enrich_store(store.engine, ScoringRules(), date(2026, 11, 1), run_id="r1")
        again = enrich_store(store.engine, ScoringRules(), date(2026, 11, 1), run_id="r2")
        gid = next(g.activity.golden_id for g in generated if len(g.activity.orders) > 3)
        _, data = read_scores(store.engine, gid)
    assert first.written.updated == len(generated)
    assert again.written.updated == 0  # same data, same date: same model, nothing rewritten
    churn = data["scores"]["churn_risk"]
    assert churn["reasons"][-1]["factor"] == "baseline"
    assert "logistic model fitted on" in churn["reasons"][-1]["note"]
    assert any(line.startswith("churn_risk:") for line in explain_lines(data))
