"""Plain-text explanation of a customer's stored scores, for ``crm2 explain customer ID``.

Works on the JSON that :mod:`sync.enrich.store_io` writes into ``golden.data`` (or on a fresh
:class:`~sync.enrich.engine.CustomerScores`), so explaining never recomputes anything: it shows
exactly the inputs and contributions that produced the stored values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.enrich.engine import CustomerScores
from sync.enrich.store_io import scores_json

ORDER = ("tier", "lifecycle", "churn_risk", "health", "clv", "forecast", "rfm", "satisfaction", "loyalty",
         "service_quality")


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "-" if value is None else str(value)


def explain_lines(data: Mapping[str, Any] | CustomerScores, *, top: int = 5) -> list[str]:
    """Lines: tier and stage, then each score with its band and its top reasons, largest first."""
    if isinstance(data, CustomerScores):
        data = scores_json(data)
    scores: Mapping[str, Any] = data.get("scores") or {}
    if not scores:
        return ["not scored yet (run enrichment)"]
    lines = [f"tier {data.get('tier')}, lifecycle {data.get('lifecycle_stage')}"]
    for name in [*ORDER, *sorted(set(scores) - set(ORDER))]:
        score = scores.get(name)
        if score is None:
            continue
        band = f" ({score['band']})" if score.get("band") else ""
        lines.append(f"{name}: {_value(score.get('value'))}{band}")
        for reason in (score.get("reasons") or [])[:top]:
            note = f" — {reason['note']}" if reason.get("note") else ""
            lines.append(f"  {reason['factor']}: {_value(reason.get('contribution'))}"
                         f" [{_value(reason.get('value'))}]{note}")
    return lines


def reasons_summary(score: Mapping[str, Any] | None, top: int = 3) -> str:
    """The top positive reasons in one short line, e.g. for CRM2_Churn_Reasons__c.

    ``"falling_revenue 15; long_silence 10.19; overdue_invoices 10"``; empty when nothing contributes.
    """
    if not score:
        return ""
    reasons = [r for r in score.get("reasons") or [] if (r.get("contribution") or 0) > 0]
    return "; ".join(f"{r['factor']} {_value(r['contribution'])}" for r in reasons[:top])
