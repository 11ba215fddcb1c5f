"""`crm2 report`: one self-contained HTML file with charts, readable offline.

Charts are inline SVG drawn here, so the file needs no script, font or stylesheet from
anywhere: it can be mailed, archived with a migration, or opened on an air-gapped machine.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from sync.model import LifecycleStage
from sync.store import Store
from sync.store.schema import check_results, golden, runs

FUNNEL = [stage.value for stage in LifecycleStage]
PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#64748b"]


@dataclass
class RiskRow:
    golden_id: str
    name: str
    risk: float
    reasons: list[str]


@dataclass
class RunRow:
    run_id: str
    started_at: datetime
    status: str
    staged: int
    quarantined: int
    checks_passed: int = 0
    checks_failed: int = 0


@dataclass
class ReportData:
    generated_at: datetime
    tiers: dict[str, int] = field(default_factory=dict)
    lifecycle: dict[str, int] = field(default_factory=dict)
    at_risk: list[RiskRow] = field(default_factory=list)
    runs: list[RunRow] = field(default_factory=list)
    golden_customers: int = 0


def _risk_of(data: dict[str, Any]) -> tuple[float, list[str]] | None:
    score = (data.get("scores") or {}).get("churn_risk")
    if not isinstance(score, dict) or not isinstance(score.get("value"), int | float):
        return None
    reasons = sorted(score.get("reasons") or [], key=lambda r: -float(r.get("contribution") or 0))
    return float(score["value"]), [str(r.get("note") or r.get("factor")) for r in reasons[:3]]


def collect(store: Store, *, top: int = 25, last_runs: int = 30) -> ReportData:
    """Read what the report shows from the store (bounded: one pass over golden customers)."""
    data = ReportData(generated_at=datetime.now(UTC))
    tiers: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    risky: list[RiskRow] = []
    with store.engine.connect() as conn:
        rows = conn.execution_options(yield_per=5000).execute(
            sa.select(golden.c.golden_id, golden.c.data).where(
                golden.c.entity == "customer", golden.c.merged_into.is_(None)))
        for golden_id, record in rows:
            record = record or {}
            data.golden_customers += 1
            tiers[record.get("tier") or "unscored"] += 1
            if record.get("lifecycle_stage"):
                stages[record["lifecycle_stage"]] += 1
            risk = _risk_of(record)
            if risk is not None:
                risky.append(RiskRow(golden_id, str(record.get("name") or golden_id), *risk))
                if len(risky) > top * 4:  # keep memory bounded on large stores
                    risky = sorted(risky, key=lambda r: -r.risk)[:top]
        checks: dict[str, tuple[int, int]] = {}
        for run_id, passed, count in conn.execute(
                sa.select(check_results.c.run_id, check_results.c.passed, sa.func.count())
                .group_by(check_results.c.run_id, check_results.c.passed)):
            ok, bad = checks.get(run_id, (0, 0))
            checks[run_id] = (ok + count, bad) if passed else (ok, bad + count)
        for r in conn.execute(sa.select(runs).order_by(runs.c.started_at.desc()).limit(last_runs)):
            counts = r.counts or {}
            ok, bad = checks.get(r.run_id, (0, 0))
            data.runs.append(RunRow(r.run_id, r.started_at, r.status, sum((counts.get("staged") or {}).values()),
                                    int(counts.get("quarantined") or 0), ok, bad))
    data.runs.reverse()
    data.tiers = dict(sorted(tiers.items()))
    data.lifecycle = {s: stages.get(s, 0) for s in FUNNEL}
    data.at_risk = sorted(risky, key=lambda r: -r.risk)[:top]
    return data


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def bar_chart(title: str, items: Sequence[tuple[str, float]], *, chart_id: str, width: int = 560,
              horizontal: bool = False) -> str:
    """A labelled bar chart as inline SVG; each bar is a <rect class="bar"> with its value."""
    if not items:
        return f'<figure id="{chart_id}" class="chart empty"><figcaption>{_esc(title)}</figcaption>' \
               '<p class="none">No data yet.</p></figure>'
    peak = max(v for _, v in items) or 1
    parts: list[str] = []
    if horizontal:
        row, label_w = 28, 110
        height = row * len(items) + 10
        for i, (label, value) in enumerate(items):
            w = (width - label_w - 70) * value / peak
            y = 5 + i * row
            parts.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{_esc(label)}</text>'
                         f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
                         f'fill="{PALETTE[i % len(PALETTE)]}" data-value="{value:g}"><title>{_esc(label)}: '
                         f'{value:,.0f}</title></rect>'
                         f'<text x="{label_w + w + 6:.1f}" y="{y + 17}">{value:,.0f}</text>')
    else:
        height, base, top = 220, 190, 20
        slot = width / len(items)
        bar_w = min(60.0, slot * 0.7)
        for i, (label, value) in enumerate(items):
            h = (base - top) * value / peak
            x = i * slot + (slot - bar_w) / 2
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{PALETTE[i % len(PALETTE)]}" data-value="{value:g}"><title>{_esc(label)}: '
                         f'{value:,.0f}</title></rect>'
                         f'<text x="{x + bar_w / 2:.1f}" y="{base - h - 4:.1f}" text-anchor="middle">'
                         f'{value:,.0f}</text>'
                         f'<text x="{x + bar_w / 2:.1f}" y="{base + 16}" text-anchor="middle">{_esc(label)}</text>')
    return (f'<figure id="{chart_id}" class="chart"><figcaption>{_esc(title)}</figcaption>'
            f'<svg role="img" aria-label="{_esc(title)}" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}">{"".join(parts)}</svg></figure>')


def _risk_table(rows: Sequence[RiskRow]) -> str:
    if not rows:
        return '<p class="none">No churn-risk scores yet.</p>'
    body = "".join(f"<tr><td>{_esc(r.name)}</td><td><code>{_esc(r.golden_id)}</code></td>"
                   f'<td class="num">{r.risk:.0f}</td><td>{_esc("; ".join(r.reasons))}</td></tr>' for r in rows)
    return ('<table id="churn-risk"><thead><tr><th>customer</th><th>golden id</th><th>risk</th>'
            f"<th>top reasons</th></tr></thead><tbody>{body}</tbody></table>")


CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#0f172a;padding:0 1rem}h1{font-size:1.6rem;margin-bottom:.2rem}.sub{color:#64748b;margin-top:0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:1.5rem}
figure{margin:0;border:1px solid #e2e8f0;border-radius:8px;padding:1rem}figcaption{font-weight:600;
margin-bottom:.5rem}svg text{font-size:12px;fill:#334155}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #e2e8f0;padding:.35rem .5rem;text-align:left;vertical-align:top}
td.num{text-align:right}.none{color:#64748b}
"""


def render(data: ReportData) -> str:
    runs_label = [(r.started_at.strftime("%m-%d %H:%M"), r) for r in data.runs]
    funnel = list(data.lifecycle.items()) if any(data.lifecycle.values()) else []
    charts = [
        bar_chart("Customers by tier", list(data.tiers.items()), chart_id="tiers"),
        bar_chart("Lifecycle funnel", funnel, chart_id="lifecycle", horizontal=True),
        bar_chart("Records synced per run", [(label, r.staged) for label, r in runs_label], chart_id="volumes"),
        bar_chart("Data-quality checks failed per run", [(label, r.checks_failed) for label, r in runs_label],
                  chart_id="quality"),
        bar_chart("Records quarantined per run", [(label, r.quarantined) for label, r in runs_label],
                  chart_id="quarantine"),
    ]
    stamp = data.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>crm2 report — {stamp}</title><style>{CSS}</style></head><body>"
        f'<h1>crm2 report</h1><p class="sub">{data.golden_customers:,} golden customers · '
        f"{len(data.runs)} recent runs · generated {stamp}</p>"
        f'<div class="grid">{"".join(charts)}</div>'
        f"<h2>Highest churn risk</h2>{_risk_table(data.at_risk)}</body></html>"
    )
