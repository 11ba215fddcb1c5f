"""Score reasons in plain words: "revenue down 100% in 6 months; no contact for 244 days".

Reads only what enrichment stored with each score (factor, measured value, contribution, and a
note that starts with the measure's name), so the words always match the number shown and
nothing is recomputed. Known measures get a sentence; any other factor is shown as
"factor: value" rather than hidden. The console passes its gettext so the words are translated;
the static report uses English.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Gettext = Callable[[str], str]


def _identity(text: str) -> str:
    return text


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def measure_of(reason: Mapping[str, Any]) -> str:
    """The measure a reason was computed from ('revenue_change_6m = -1.0; ...' -> revenue_change_6m)."""
    note = str(reason.get("note") or "")
    head = note.split(" = ", 1)[0].split(":", 1)[0].strip()
    return head if head and " " not in head else str(reason.get("factor") or "")


def _phrase(measure: str, value: float, _: Gettext) -> str | None:
    if measure.startswith("revenue_change_"):
        months = measure.removeprefix("revenue_change_").removesuffix("m")
        pct = f"{abs(value) * 100:,.0f}"
        text = _("revenue down {pct}% in {months} months") if value < 0 else _("revenue up {pct}% in {months} months")
        return text.format(pct=pct, months=months)
    if measure.startswith("satisfaction_change_"):
        months = measure.removeprefix("satisfaction_change_").removesuffix("m")
        return _("satisfaction down {points} points in {months} months").format(
            points=f"{abs(value):,.0f}", months=months)
    if measure in ("days_since_last_activity", "days_since_last_contact"):
        return _("no contact for {days} days").format(days=f"{value:,.0f}")
    if measure == "days_since_last_order":
        return _("no order for {days} days").format(days=f"{value:,.0f}")
    if measure == "overdue_days_max":
        return _("invoices {days} days overdue").format(days=f"{value:,.0f}")
    if measure == "open_complaints":
        return _("{count} open complaints").format(count=f"{value:,.0f}")
    return None


def reason_words(reason: Mapping[str, Any], gettext: Gettext = _identity) -> str:
    measure = measure_of(reason)
    value = _num(reason.get("value"))
    if value is not None:
        phrase = _phrase(measure, value, gettext)
        if phrase:
            return phrase
    note = str(reason.get("note") or "")
    if note and " = " not in note and ":" not in note:  # already words, e.g. "no orders for 200 days"
        return note
    shown = reason.get("value")
    return f"{reason.get('factor') or measure}: {'-' if shown is None else shown}"


def plain_reasons(score: Mapping[str, Any] | None, gettext: Gettext = _identity, top: int = 3) -> list[str]:
    """The reasons that add to a score, largest contribution first, in plain words."""
    if not score:
        return []
    adding = [r for r in score.get("reasons") or [] if (_num(r.get("contribution")) or 0) > 0]
    adding.sort(key=lambda r: -(_num(r.get("contribution")) or 0))
    return [reason_words(r, gettext) for r in adding[:top]]
