"""`crm2 report`: one self-contained HTML file with the console's views, readable offline.

The same views as `crm2 serve` (key accounts, churn risk in plain words, data quality, runs,
writeback, migration), read through the same code (sync.console.data), rendered into one file:
charts are inline SVG drawn here, so the file needs no script, font or stylesheet from anywhere
and can be mailed, archived with a migration, or opened on an air-gapped machine. Personal data
is always masked: a file travels further than a signed-in page. Charts scale to the width of
the screen (a phone included), and each series has a fixed colour (tier A is always the same
blue), so two reports side by side compare at a glance.
"""

from __future__ import annotations

import hashlib
import html
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from sync.console import data as views
from sync.model import LifecycleStage
from sync.store import Store
from sync.store.schema import check_results, golden

FUNNEL = [stage.value for stage in LifecycleStage]
PALETTE = ["#1d4ed8", "#047857", "#b45309", "#b91c1c", "#6d28d9", "#0e7490", "#475569"]
# fixed colours per series: the same tier or stage is drawn in the same colour in every report
SERIES = {"A": "#1d4ed8", "B": "#047857", "C": "#b45309", "unscored": "#475569",
          "onboarding": "#0e7490", "growth": "#047857", "stable": "#1d4ed8", "at_risk": "#b45309",
          "churned": "#b91c1c", "terminated": "#475569",
          "volumes": "#1d4ed8", "quality": "#b91c1c", "quarantine": "#b45309", "revenue": "#047857"}


def colour(key: str) -> str:
    """The series' fixed colour; an unknown key gets one from the palette chosen by its name, not its position."""
    if key in SERIES:
        return SERIES[key]
    return PALETTE[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(PALETTE)]


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
    command: str = ""
    seconds: float | None = None
    api_calls: int = 0
    stages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ReportData:
    generated_at: datetime
    tiers: dict[str, int] = field(default_factory=dict)
    revenue: dict[str, Decimal] = field(default_factory=dict)
    lifecycle: dict[str, int] = field(default_factory=dict)
    at_risk: list[RiskRow] = field(default_factory=list)
    key_accounts: list[views.AccountRow] = field(default_factory=list)
    runs: list[RunRow] = field(default_factory=list)
    golden_customers: int = 0
    quality: dict[str, Any] = field(default_factory=dict)
    writeback: dict[str, Any] = field(default_factory=dict)
    migration: dict[str, Any] = field(default_factory=dict)


def collect(store: Store, *, top: int = 25, last_runs: int = 30) -> ReportData:
    """Read what the report shows from the store (bounded: one pass over golden customers)."""
    data = ReportData(generated_at=datetime.now(UTC))
    tiers: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    revenue: dict[str, Decimal] = {}
    risky: list[tuple[Any, str, views.AccountRow]] = []  # candidates, cut back as they grow
    biggest: list[tuple[Any, str, views.AccountRow]] = []
    with store.engine.connect() as conn:
        rows = conn.execution_options(yield_per=5000).execute(
            sa.select(golden.c.golden_id, golden.c.data).where(
                golden.c.entity == "customer", golden.c.merged_into.is_(None)))
        for golden_id, record in rows:
            record = record or {}
            data.golden_customers += 1
            tier = str(record.get("tier") or "unscored")
            tiers[tier] += 1
            if record.get("lifecycle_stage"):
                stages[str(record["lifecycle_stage"])] += 1
            row = views.account_row(golden_id, record)
            if row.revenue_12m is not None:
                revenue[tier] = revenue.get(tier, Decimal(0)) + row.revenue_12m
            if row.churn_risk is not None:
                _keep(risky, (row.churn_risk, golden_id, row), top)
            if tier == "A":
                _keep(biggest, (row.revenue_12m or Decimal(0), golden_id, row), top)
        checks: dict[str, tuple[int, int]] = {}
        for run_id, passed, count in conn.execute(
                sa.select(check_results.c.run_id, check_results.c.passed, sa.func.count())
                .group_by(check_results.c.run_id, check_results.c.passed)):
            ok, bad = checks.get(run_id, (0, 0))
            checks[run_id] = (ok + count, bad) if passed else (ok, bad + count)
    for r in views.run_list(store, limit=last_runs):
        ok, bad = checks.get(r["run_id"], (0, 0))
        data.runs.append(RunRow(r["run_id"], r["started_at"], r["status"], r["staged"], int(r["quarantined"]), ok, bad,
                                r["command"], r["seconds"], r["api_calls"], r["stages"]))
    data.runs.reverse()
    data.tiers = dict(sorted(tiers.items()))
    data.revenue = dict(sorted(revenue.items()))
    data.lifecycle = {s: stages.get(s, 0) for s in FUNNEL}
    data.at_risk = [RiskRow(r.golden_id, r.name, r.churn_risk or 0.0, r.reasons) for _, _, r in _ranked(risky)[:top]]
    data.key_accounts = [r for _, _, r in _ranked(biggest)[:top]]
    data.quality = views.quality(store, None, show_personal=False, limit=50)
    data.writeback = views.writeback(store, limit=50)
    data.migration = views.migration(store)
    return data


def _keep(rows: list[tuple[Any, str, views.AccountRow]], item: tuple[Any, str, views.AccountRow],
          top: int) -> None:
    """Add a candidate; past 4 x top, cut back to the top ones (largest first, ties by golden id)."""
    rows.append(item)
    if len(rows) > top * 4:  # keep memory bounded on large stores
        rows[:] = _ranked(rows)[:top]


def _ranked(rows: list[tuple[Any, str, views.AccountRow]]) -> list[tuple[Any, str, views.AccountRow]]:
    """Largest value first; equal values in golden-id order (two stable sorts)."""
    return sorted(sorted(rows, key=lambda t: t[1]), key=lambda t: t[0], reverse=True)


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def bar_chart(title: str, items: Sequence[tuple[str, float]], *, chart_id: str, width: int = 560,
              horizontal: bool = False, series: str | None = None) -> str:
    """A labelled bar chart as inline SVG that scales to its box; each bar is a <rect class="bar">.

    Bars are coloured by their label (tiers, stages) or, with `series`, all in that series' colour.
    """
    if not items:
        return f'<figure id="{chart_id}" class="chart empty"><figcaption>{_esc(title)}</figcaption>' \
               '<p class="none">No data yet.</p></figure>'
    peak = max(v for _, v in items) or 1
    parts: list[str] = []
    if horizontal:
        row, label_w = 28, 110
        height = row * len(items) + 10
        for i, (label, value) in enumerate(items):
            w = (width - label_w - 90) * value / peak
            y = 5 + i * row
            parts.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{_esc(label)}</text>'
                         f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
                         f'fill="{colour(series or label)}" data-value="{value:g}"><title>{_esc(label)}: '
                         f'{value:,.0f}</title></rect>'
                         f'<text x="{label_w + w + 6:.1f}" y="{y + 17}">{value:,.0f}</text>')
    else:
        height, base, top = 220, 190, 20
        slot = width / len(items)
        bar_w = min(60.0, slot * 0.7)
        every = max(1, len(items) // 8)  # at most ~8 axis labels, so they never overlap on a phone
        for i, (label, value) in enumerate(items):
            h = (base - top) * value / peak
            x = i * slot + (slot - bar_w) / 2
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{colour(series or label)}" data-value="{value:g}"><title>{_esc(label)}: '
                         f'{value:,.0f}</title></rect>')
            if len(items) <= 12:
                parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{base - h - 4:.1f}" text-anchor="middle">'
                             f'{_compact(value)}</text>')
            if i % every == 0:
                parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{base + 16}" text-anchor="middle">{_esc(label)}</text>')
    return (f'<figure id="{chart_id}" class="chart"><figcaption>{_esc(title)}</figcaption>'
            f'<svg role="img" aria-label="{_esc(title)}" viewBox="0 0 {width} {height}" width="100%" '
            f'preserveAspectRatio="xMinYMin meet">{"".join(parts)}</svg></figure>')


def _compact(value: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= size * 10:
            return f"{value / size:,.0f}{unit}"
    return f"{value:,.0f}"


def _migration_result(run: dict[str, Any]) -> str:
    """One line per migration step: what the console's Migration page shows in full."""
    counts = run.get("counts") or {}
    if run["command"] == "migrate-plan":
        objects = [o for source in (counts.get("plan") or {}).values() for o in source["objects"].values()]
        return f"{sum(o['records'] for o in objects):,} source records in {len(objects)} objects"
    if run["command"] == "migrate-verify":
        unexplained = sum(o.get("unexplained", 0) for o in (counts.get("objects") or {}).values())
        return "every record accounted for" if not unexplained else f"{unexplained:,} records unexplained"
    if run["command"] == "migrate-archive":
        files = counts.get("archived") or {}
        return f"{len(files)} files, {sum(files.values()):,} rows"
    if run["command"] == "migrate-archive-check":
        problems = len(counts.get("problems") or []) + int(counts.get("more_problems") or 0)
        return "intact" if not problems else f"{problems} problem(s)"
    return ""


def _pct(change: float | None) -> str:
    return "" if change is None else f"{change * 100:+.0f}%"


def _stage_cell(stage: dict[str, Any]) -> str:
    took = stage.get("seconds")
    return f"{stage['name']} {stage['status']}" + (f" {took:.1f}s" if took is not None else "")


def _table(table_id: str, head: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str,
           numeric: Sequence[int] = ()) -> str:
    if not rows:
        return f'<p class="none" id="{table_id}">{_esc(empty)}</p>'
    th = "".join(f'<th scope="col"{" class=num" if i in numeric else ""}>{_esc(h)}</th>' for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{_esc(c)}</td>'
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<div class="scroll"><table id="{table_id}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


def _money(value: Any) -> str:
    return "" if value is None else f"{value:,.0f}"


def _risk_table(rows: Sequence[RiskRow]) -> str:
    return _table("churn-risk", ["customer", "golden id", "risk", "why"],
                  [(r.name, r.golden_id, f"{r.risk:.0f}", "; ".join(r.reasons)) for r in rows],
                  empty="No churn-risk scores yet.", numeric=(2,))


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC","Source Han Sans SC",
"PingFang SC","Hiragino Sans GB","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;margin:1.5rem auto;
max-width:1200px;color:#0f172a;padding:0 .8rem}h1{font-size:1.6rem;margin-bottom:.2rem}.sub{color:#475569;margin-top:0}
h2{margin-top:2rem}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(480px,100%),1fr));gap:1rem}
figure{margin:0;border:1px solid #cbd5e1;border-radius:8px;padding:.8rem;min-width:0}figcaption{font-weight:600;
margin-bottom:.5rem}svg{display:block;max-width:100%;height:auto}svg text{font-size:12px;fill:#334155}
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #cbd5e1;padding:.35rem .5rem;text-align:left;vertical-align:top}
.num{text-align:right;white-space:nowrap}.none{color:#475569}
"""


def render(data: ReportData) -> str:
    runs_label = [(r.started_at.strftime("%m-%d %H:%M"), r) for r in data.runs]
    funnel = list(data.lifecycle.items()) if any(data.lifecycle.values()) else []
    charts = [
        bar_chart("Customers by tier", list(data.tiers.items()), chart_id="tiers"),
        bar_chart("Revenue (12 months) by tier", [(k, float(v)) for k, v in data.revenue.items()],
                  chart_id="revenue"),
        bar_chart("Lifecycle funnel", funnel, chart_id="lifecycle", horizontal=True),
        bar_chart("Records synced per run", [(label, r.staged) for label, r in runs_label], chart_id="volumes",
                  series="volumes"),
        bar_chart("Data-quality checks failed per run", [(label, r.checks_failed) for label, r in runs_label],
                  chart_id="quality", series="quality"),
        bar_chart("Records quarantined per run", [(label, r.quarantined) for label, r in runs_label],
                  chart_id="quarantine", series="quarantine"),
    ]
    stamp = data.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    key = _table("key-accounts", ["customer", "revenue 12m", "trend 6m", "margin 12m", "margin trend 6m", "health",
                                  "lifecycle", "churn risk", "satisfaction", "open cases"],
                 [(r.name, _money(r.revenue_12m), _pct(r.trend), _money(r.margin_12m), _pct(r.margin_trend),
                   "" if r.health is None else f"{r.health:.0f}",
                   r.lifecycle, "" if r.churn_risk is None else f"{r.churn_risk:.0f}",
                   "" if r.satisfaction is None else f"{r.satisfaction:.0f}",
                   "" if r.open_cases is None else r.open_cases) for r in data.key_accounts],
                 empty="No tier-A customers yet.", numeric=(1, 2, 3, 4, 5, 7, 8, 9))
    q = data.quality or {}
    checks = _table("checks", ["check", "entity", "severity", "result", "failing", "of", "why"],
                    [(c["check"], c.get("entity") or "", c["severity"], "pass" if c["passed"] else "FAIL",
                      f"{c['failing']:,}", f"{c['total']:,}",
                      "; ".join(f"{k} ({v})" for k, v in (c.get("reasons") or {}).items()))
                     for c in q.get("checks") or []], empty="No check results yet.", numeric=(4, 5))
    quarantined = _table("quarantine-groups", ["reason", "source", "records"],
                         [(g["reason"], g["source"], g["count"]) for g in q.get("groups") or []],
                         empty="Nothing in quarantine.", numeric=(2,))
    runs = _table("runs", ["run", "command", "started", "seconds", "status", "staged", "quarantined", "API calls",
                           "stages"],
                  [(r.run_id[:8], r.command, r.started_at.strftime("%Y-%m-%d %H:%M"),
                    "" if r.seconds is None else f"{r.seconds:.1f}", r.status, f"{r.staged:,}", r.quarantined,
                    r.api_calls, "; ".join(_stage_cell(s) for s in r.stages))
                   for r in reversed(data.runs)], empty="No runs yet.", numeric=(3, 5, 6, 7))
    wb = data.writeback or {}
    queued = _table("writeback-queue", ["record", "why waiting", "changes (old → new)"],
                    [(f"{x['object']}/{x['key']}", x["reason"],
                      "; ".join(f"{f}: {'∅' if o is None else o} → {n}" for f, o, n in x["changes"]))
                     for x in wb.get("queued") or []], empty="Nothing waiting to be written.")
    m = data.migration or {}
    migration = _table("migration-runs", ["step", "started", "status", "result"],
                       [(r["command"], views.when(r["started_at"]), r["status"], _migration_result(r))
                        for r in m.get("runs") or []],
                       empty="No migration steps have run on this store.")
    erased = _table("erasures", ["object", "records erased"],
                    [(e["object"], e["count"]) for e in m.get("erased") or []], empty="Nothing erased.", numeric=(1,))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>crm2 report — {stamp}</title><style>{CSS}</style></head><body>"
        f'<h1>crm2 report</h1><p class="sub">{data.golden_customers:,} golden customers · '
        f"{len(data.runs)} recent runs · generated {stamp} · personal data masked</p>"
        f'<div class="grid">{"".join(charts)}</div>'
        f"<h2>Key accounts (tier A, by revenue)</h2>{key}"
        f"<h2>Highest churn risk</h2>{_risk_table(data.at_risk)}"
        f"<h2>Data quality</h2>{checks}<h3>Quarantine by reason and source</h3>{quarantined}"
        f"<h2>Runs</h2>{runs}"
        f"<h2>Writeback</h2><p>{int(wb.get('written') or 0):,} records written back so far.</p>{queued}"
        f"<h2>Migration</h2>{migration}<h3>Erasure log</h3>{erased}</body></html>"
    )
