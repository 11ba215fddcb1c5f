"""`crm2 scores backtest`: how well the scores predicted, measured on your own store.

Scores every customer as of a past date from the data before it, then compares with what the
store shows happened afterwards (sync/enrich/backtest.py): churn risk (model and rules side by
side) against "no order in the next N days", the forecast against next-period revenue, CLV's
purchase and spend predictions against a holdout. Nothing is written to the store.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from sync.cli.common import EXIT_CODES_HELP, STORE_OPTION, Abort, console, handled
from sync.exitcodes import ExitCode


@click.group()
def scores() -> None:
    """Check the scores against outcomes (backtests)."""


@scores.command(epilog=EXIT_CODES_HELP)
@click.option("--as-of", "as_of", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Score as of the start of this day (UTC); the outcome window follows it.")
@STORE_OPTION
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Scoring rules [default: config/scoring.yml if present, else the built-in defaults].")
@click.option("--horizon", type=click.IntRange(30, 730), default=None,
              help="Churned = no order in this many days after --as-of [default: churn_model.horizon_days].")
@click.option("--no-lead-times", is_flag=True, help="Skip the warning lead times (they re-score each churner).")
@click.option("--holdout", type=click.IntRange(30, 1095), default=365, show_default=True,
              help="CLV: days after --as-of in which purchases and spend are predicted.")
@click.option("--only", "only", type=click.Choice(["churn", "forecast", "clv"]), multiple=True,
              help="Backtest only these scores (repeatable) [default: all].")
@handled
def backtest(as_of: object, store: str | None, rules_path: Path | None, horizon: int | None,
             no_lead_times: bool, holdout: int, only: tuple[str, ...]) -> None:
    """Score as of --as-of using only earlier data, then compare with what happened after.

    Prints, for churn risk, the AUC (chance a churner is ranked above a customer who stayed),
    the share of churners among the top 10%, how many different values the top 25 take (ties),
    the median warning lead time and each band's observed churn rate; for the forecast, each
    method's WAPE and total error over the next period; for CLV, the per-customer MAE and total
    error of predicted purchases and spend over --holdout days. The forecast and CLV parts need
    the `scores` extra (statsforecast, lifetimes).
    """
    from sync.enrich import load_rules
    from sync.enrich.backtest import (
        backtest_churn,
        backtest_clv,
        backtest_forecast,
        churn_lines,
        clv_lines,
        forecast_lines,
    )
    from sync.enrich.config import DEFAULT_PATH
    from sync.enrich.rules import ScoringRules
    from sync.enrich.store_io import StoreActivity
    from sync.store import Store

    day: date = as_of.date()  # type: ignore[attr-defined]
    if rules_path is not None:
        rules = load_rules(rules_path)
    else:
        rules = load_rules(DEFAULT_PATH) if DEFAULT_PATH.exists() else ScoringRules()
    if horizon is not None:
        rules = rules.model_copy(update={"churn_model": rules.churn_model.model_copy(
            update={"horizon_days": horizon})})
    out = console()
    with Store.open(store) as st:
        customers = list(StoreActivity(st.engine))
    if not customers:
        raise Abort(ExitCode.CONFIG, "the store has no golden customers to backtest")
    parts = set(only or ("churn", "forecast", "clv"))
    latest = max((o.ordered_at.date() for c in customers for o in c.orders), default=None)
    lines: list[str] = []
    if "churn" in parts:
        report = backtest_churn(customers, rules, day, lead_times=not no_lead_times)
        lines += churn_lines(report)
        if latest is not None and (latest - day).days < report.horizon_days:
            lines.append(f"  note: the latest order is {latest}, less than {report.horizon_days} days after {day}: "
                         "outcomes are not complete yet, so churn is overstated")
    try:
        if "forecast" in parts:
            lines += forecast_lines([backtest_forecast(customers, rules, day)], rules.forecast.period_days)
        if "clv" in parts:
            lines += clv_lines(backtest_clv(customers, rules, day, days=holdout))
    except ImportError as exc:
        lines.append(f"forecast/clv skipped: {exc.name} is not installed (pip install 'crm2[scores]')")
    for line in lines:
        out.print(line, markup=False)
