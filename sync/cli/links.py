"""`crm2 links`: export a run's scored pairs with every comparison's level and weight.

For a data team checking the matcher outside crm2 (a notebook, a spreadsheet, another linker's
output): one row per pair kept by the run (match or review), the two source references, total
weight, decision, the deciding rule and, per comparison, its level and weight. Pairs of records
rescored by a later run belong to that run. Source references are ids, not personal data; the
file is written private (0600) all the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sync.cli.common import EXIT_CODES_HELP, STORE_OPTION, Abort, console, handled
from sync.exitcodes import ExitCode


def link_rows(store: Any, run_id: str, entity: str | None = None) -> list[dict[str, Any]]:
    """The run's kept pairs as flat rows (``<comparison>_level``, ``<comparison>_weight``)."""
    import sqlalchemy as sa

    from sync.resolve.engine import ref_text
    from sync.store.schema import match_pairs, match_records

    p, left, right = match_pairs, match_records.alias("l"), match_records.alias("r")
    query = (sa.select(p.c.entity, p.c.weight, p.c.decision, p.c.rule, p.c.details,
                       left.c.source_system, left.c.source_object, left.c.source_id,
                       right.c.source_system.label("r_system"), right.c.source_object.label("r_object"),
                       right.c.source_id.label("r_id"))
             .select_from(p.join(left, left.c.rid == p.c.left_rid).join(right, right.c.rid == p.c.right_rid))
             .where(p.c.run_id == run_id).order_by(p.c.entity, p.c.left_rid, p.c.right_rid))
    if entity:
        query = query.where(p.c.entity == entity)
    rows = []
    with store.engine.connect() as conn:
        for r in conn.execute(query):
            row: dict[str, Any] = {"entity": r.entity,
                                   "left_ref": ref_text(r.source_system, r.source_object, r.source_id),
                                   "right_ref": ref_text(r.r_system, r.r_object, r.r_id),
                                   "weight": r.weight, "decision": r.decision, "rule": r.rule}
            for comparison, level, weight in (r.details or {}).get("levels", []):
                row[f"{comparison}_level"] = level
                row[f"{comparison}_weight"] = weight
            rows.append(row)
    return rows


def write_links(rows: list[dict[str, Any]], out: Path, fmt: str) -> None:
    import pyarrow as pa

    columns = list(dict.fromkeys(k for row in rows for k in row)) or ["entity", "left_ref", "right_ref", "weight",
                                                                      "decision", "rule"]
    table = pa.table({c: [row.get(c) for row in rows] for c in columns})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.touch(mode=0o600)
    out.chmod(0o600)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, out)


@click.command(epilog=EXIT_CODES_HELP)
@click.option("--run", "run_id", required=True, help="The run whose scored pairs to export (see `crm2 runs`).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--entity", help="Only this entity's pairs (customer, contact, or one a mapping declares).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@STORE_OPTION
@handled
def links(run_id: str, fmt: str, entity: str | None, out: Path, store: str | None) -> None:
    """Export a run's scored pairs (match and review) with their levels and weights."""
    from sync.store import Store

    with Store.open(store) as st:
        rows = link_rows(st, run_id, entity)
    if not rows:
        raise Abort(ExitCode.CONFIG, f"run {run_id} kept no scored pairs (unknown run, or all rescored since)")
    write_links(rows, out, fmt)
    console().print(f"{len(rows):,} pairs written to {out}")
