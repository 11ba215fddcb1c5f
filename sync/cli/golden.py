"""`crm2 explain`, `crm2 review`, `crm2 unmerge` and `crm2 checks`: looking into golden records,
deciding possible matches, and reading data-quality results.

Values that look like personal data (e-mail addresses, phone numbers) are masked in what these
commands print unless ``--show-personal`` is given, so their output can be pasted into a ticket.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from sync.cli.common import EXIT_CODES_HELP, STORE_OPTION, Abort, console, handled, open_store
from sync.exitcodes import ExitCode
from sync.redaction import redact

SHOW_PERSONAL = click.option("--show-personal", is_flag=True,
                             help="Print e-mail addresses and phone numbers unmasked.")


def _shown(value: Any, show_personal: bool) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if show_personal else redact(text)


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("entity")  # customer, contact, or an entity type a mapping declares
@click.argument("golden_id")
@STORE_OPTION
@SHOW_PERSONAL
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@handled
def explain(entity: str, golden_id: str, store: str | None, show_personal: bool, as_json: bool) -> None:
    """Why a golden record looks the way it does.

    Lists its source records, the rule and score that linked each pair, where each field came
    from, people's decisions, and (for customers) each score with the inputs and contributions
    behind it. A merged-away id is followed to the record it now lives in.
    """
    from sync.enrich.explain import explain_lines
    from sync.enrich.store_io import read_scores
    from sync.resolve import explain as explain_golden

    with open_store(store) as st:
        why = explain_golden(st, golden_id)  # an unknown id is a NotFound: exit 2, one line
        if why.entity != entity:
            raise Abort(ExitCode.CONFIG, f"{golden_id} is a {why.entity}, not a {entity}")
        scored = read_scores(st.engine, why.golden_id) if entity == "customer" else None
    if as_json:
        payload = {"golden_id": why.golden_id, "requested": why.requested, "entity": why.entity,
                   "merged_ids": why.merged_ids, "sources": why.sources,
                   "links": [vars(link) for link in why.links],
                   "fields": [{"field": f.field, "value": f.value, "source": f.source, "rule": f.rule}
                              for f in why.fields],
                   "decisions": why.decisions,
                   "scores": (scored[1].get("scores") if scored else None)}
        click.echo(_shown(payload, show_personal))
        return
    out: list[str] = []
    followed = f" (asked for {why.requested}, merged into it)" if why.requested != why.golden_id else ""
    out.append(f"{why.entity} {why.golden_id}{followed}")
    if why.merged_ids:
        out.append("merged into it: " + ", ".join(why.merged_ids))
    out.append("sources:")
    out += [f"  {s['ref']}  [{s['status']}]" for s in why.sources]
    if why.links:
        out.append("links:")
        for link in why.links:
            levels = ", ".join(f"{lv['comparison']}={lv['level']}" for lv in link.levels)
            out.append(f"  {link.left} ~ {link.right}: {link.decision} by {link.rule}, "
                       f"weight {link.weight}" + (f" ({levels})" if levels else ""))
    if why.fields:
        out.append("fields:")
        width = max(len(f.field) for f in why.fields)
        out += [f"  {f.field:<{width}}  {_shown(f.value, show_personal)}  <- {f.source} ({f.rule})"
                for f in why.fields]
    if why.decisions:
        out.append("decisions by people:")
        out += [f"  {d['kind']}: {d['left']} / {d['right']}" + (f" — {d['reason']}" if d.get("reason") else "")
                for d in why.decisions]
    if scored:
        out.append("scores:")
        out += [f"  {line}" for line in explain_lines(scored[1])]
    for line in out:
        click.echo(line)


@click.group()
def review() -> None:
    """Possible matches kept for a person to confirm or reject.

    \b
    crm2 review list                      strongest candidates first
    crm2 review confirm REF REF           the two records are the same: link them for good
    crm2 review reject REF REF            they differ: never link them
    A REF is system/object/id, e.g. salesforce/Account/001A000000000001AAA.
    Decisions take effect on the next `crm2 sync` and hold on every later run.
    """


@review.command("list", epilog=EXIT_CODES_HELP)
@STORE_OPTION
@click.option("--entity", default=None, help="customer, contact, or an entity a mapping declares.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@handled
def review_list(store: str | None, entity: str | None, limit: int) -> None:
    """List pairs waiting for a decision, strongest first."""
    from sync.resolve import pending

    with open_store(store) as st:
        items = pending(st, entity, limit)
    if not items:
        click.echo("nothing to review")
        return
    table = Table(title=f"{len(items)} possible matches")
    for col in ("entity", "left", "right", "weight", "evidence"):
        table.add_column(col)
    for item in items:
        evidence = ", ".join(f"{lv['comparison']}={lv['level']}" for lv in item.levels)
        table.add_row(item.entity, item.left, item.right, f"{item.weight:.2f}", evidence)
    console().print(table)


def _decide(action: str, store: str | None, left: str, right: str, reason: str | None) -> None:
    from sync.resolve import confirm, reject

    with open_store(store) as st:
        try:
            (confirm if action == "confirm" else reject)(st, left, right, reason=reason)
        except ValueError as exc:  # a malformed reference (ReviewError is handled as exit 2)
            raise Abort(ExitCode.CONFIG, str(exc)) from None
    verb = "linked" if action == "confirm" else "kept apart"
    click.echo(f"{left} and {right} will be {verb} from the next sync on")


@review.command("confirm", epilog=EXIT_CODES_HELP)
@click.argument("left")
@click.argument("right")
@click.option("--reason", help="Why (kept with the decision).")
@STORE_OPTION
@handled
def review_confirm(left: str, right: str, reason: str | None, store: str | None) -> None:
    """The two records are the same real customer or person."""
    _decide("confirm", store, left, right, reason)


@review.command("reject", epilog=EXIT_CODES_HELP)
@click.argument("left")
@click.argument("right")
@click.option("--reason", help="Why (kept with the decision).")
@STORE_OPTION
@handled
def review_reject(left: str, right: str, reason: str | None, store: str | None) -> None:
    """The two records are different customers or people."""
    _decide("reject", store, left, right, reason)


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("ref")
@click.option("--reason", help="Why (kept with the decision and in the audit log).")
@STORE_OPTION
@handled
def unmerge(ref: str, reason: str | None, store: str | None) -> None:
    """Split source record REF (system/object/id) off its golden record, for good.

    The record will never be linked to the others again, however strong the evidence; the
    split shows after the next `crm2 sync` and is written to the audit log.
    """
    from sync.resolve import unmerge as split

    with open_store(store) as st:
        try:
            others = split(st, ref, reason=reason)
        except ValueError as exc:  # a malformed reference (ReviewError is handled as exit 2)
            raise Abort(ExitCode.CONFIG, str(exc)) from None
    click.echo(f"{ref} will be split from {len(others)} record(s): " + ", ".join(others) if others
               else f"{ref} is not linked to any other record")


@click.command(epilog=EXIT_CODES_HELP)
@STORE_OPTION
@click.option("--run", "run_id", default=None, help="A run id (or its first characters); default: the latest.")
@click.option("--failing", is_flag=True, help="Only checks that did not pass.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handled
def checks(store: str | None, run_id: str | None, failing: bool, as_json: bool) -> None:
    """Data-quality results of a run: each check, its severity, how many records failed it.

    Exits 3 when a check of severity quarantine or fail did not pass, so a scheduler can alert
    on it; a failing warn-level check is shown but does not change the exit code.
    """
    from sync.quality import latest_results

    with open_store(store) as st:
        if run_id:
            matches = [r.run_id for r in st.runs(10_000) if r.run_id.startswith(run_id)]
            if len(matches) != 1:
                raise Abort(ExitCode.CONFIG, f"run '{run_id}' matches {len(matches)} runs")
            run_id = matches[0]
        results = latest_results(st, run_id)
    shown = [r for r in results if not failing or not r.passed]
    if as_json:
        click.echo(json.dumps([vars(r) for r in shown], default=str, indent=2))
    elif not results:
        click.echo("no check results yet (run crm2 sync with checks enabled)")
    else:
        table = Table(title="data-quality checks")
        for col in ("check", "entity", "severity", "result", "failing", "of"):
            table.add_column(col)
        for r in shown:
            table.add_row(r.check, r.entity, r.severity, "pass" if r.passed else "FAIL", f"{r.failing:,}",
                          f"{r.total:,}")
        console().print(table)
    if any(not r.passed and r.severity != "warn" for r in results):
        raise SystemExit(int(ExitCode.PARTIAL))


COMMANDS = (explain, review, unmerge, checks)
