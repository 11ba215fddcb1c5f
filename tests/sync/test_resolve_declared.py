"""A data team's own entity resolved end to end, and link-only rules.

The example in examples/people/ is the subject: its mapping declares the 'person' entity, its
data are Febrl records (ground truth in every id: ``rec-N-...`` is person N). Real parts: the
tap from PyPI (tap-jsonfile) piped into target-crm2 by ``crm2 sync``, a SQLite store, DuckDB.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest
import sqlalchemy as sa

from sync.errors import ConfigError
from sync.mapping import load_mapping
from sync.mapping.applier import Mapped
from sync.mapping.staging import staged_record
from sync.orchestrate import config, stages
from sync.resolve import load_match_config, resolve
from sync.resolve.spec import MatchConfig
from sync.store import Store
from sync.store.schema import crosswalk, match_pairs, match_records

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "people"
DEDUPE_RULES = ROOT / "config" / "match.febrl.yml"
LINK_RULES = EXAMPLE / "match.link_only.yml"


def person(ref: str) -> str:
    """The true person of a reference ``system/object/rec-N-...``."""
    return ref.rsplit("/", 1)[1].split("-")[1]


def crm2(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd)


def pipeline(tmp_path: Path, files: dict[str, str], rules: Path) -> Path:
    """The example's pipeline with absolute paths and a store in ``tmp_path`` (the shipped ones read
    data/ relative to examples/people and write their store there)."""
    extractors = "".join(f"""
  - name: {name}
    tap: tap-jsonfile
    mapping: {EXAMPLE / "people.yml"}
    config: {{paths: ["{EXAMPLE / "data" / file}"], stream_name: people}}""" for name, file in files.items())
    path = tmp_path / "pipeline.yml"
    path.write_text(f"""version: 1
store: {{url: store.sqlite}}
extractors:{extractors}
checks: {{enabled: false}}
resolve: {{rules: {rules}}}
""", encoding="utf-8")
    return path


def pairwise(predicted: set[tuple[str, str]], true: set[tuple[str, str]]) -> tuple[float, float]:
    hit = len(predicted & true)
    return hit / max(len(predicted), 1), hit / max(len(true), 1)


def true_pairs(refs: list[str], *, across_only: bool = False) -> set[tuple[str, str]]:
    by_person: dict[str, list[str]] = {}
    for ref in refs:
        by_person.setdefault(person(ref), []).append(ref)
    return {(a, b) for group in by_person.values() for a, b in combinations(sorted(group), 2)
            if not across_only or a.split("/")[0] != b.split("/")[0]}


def golden_of(store_path: Path) -> dict[str, str]:
    with Store.open(store_path) as store, store.engine.connect() as conn:
        return {f"{r.source_system}/{r.source_object}/{r.source_id}": r.golden_id for r in conn.execute(
            sa.select(crosswalk.c.source_system, crosswalk.c.source_object, crosswalk.c.source_id,
                      crosswalk.c.golden_id).where(crosswalk.c.entity == "person"))}


def last_run(store_path: Path) -> str:
    with Store.open(store_path) as store, store.engine.connect() as conn:
        return str(conn.execute(sa.text("select run_id from runs order by started_at desc limit 1")).scalar_one())


def links(tmp_path: Path, store_path: Path, run_id: str, fmt: str = "csv") -> list[dict[str, str]]:
    out = tmp_path / f"links.{fmt}"
    done = crm2("links", "--run", run_id, "--format", fmt, "--entity", "person", "--out", str(out),
                "--store", str(store_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.stat().st_mode & 0o777 == 0o600
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return [{k: str(v) for k, v in row.items()} for row in pq.read_table(out).to_pylist()]
    with out.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("name", ["pipeline.yml", "pipeline.link_only.yml"])
def test_the_shipped_example_pipelines_validate(name: str) -> None:
    done = crm2("validate", "--no-env", "--config", name, cwd=EXAMPLE)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "mapping fits the catalog of tap-jsonfile" in done.stderr


def test_validate_finds_a_rules_field_the_declared_entity_lacks(tmp_path: Path) -> None:
    rules = tmp_path / "match.yml"
    rules.write_text(LINK_RULES.read_text(encoding="utf-8").replace("field: [surname,", "field: [surnme,")
                     .replace("postcode | digits", "post_code | digits"), encoding="utf-8")
    loaded = config.load(pipeline(tmp_path, {"register": "people.jsonl"}, rules))
    with pytest.raises(ConfigError) as info:
        stages.check_rule_fields(loaded, load_match_config(rules))
    lines = rules.read_text(encoding="utf-8").splitlines()
    found = [str(p).replace(str(rules), "match.yml") for p in info.value.problems]
    at = next(i for i, line in enumerate(lines) if "field: [surnme" in line) + 1
    block = next(i for i, line in enumerate(lines) if "post_code" in line) + 1
    col_at, col_block = lines[at - 1].index("surnme") + 1, lines[block - 1].index('"post_code') + 1
    assert found == [
        f"match.yml:{at}:{col_at}: unknown field 'surnme' for entity 'person' (did you mean 'surname'?)",
        f"match.yml:{block}:{col_block}: unknown field 'post_code' for entity 'person' (did you mean 'postcode'?)"]


@pytest.mark.slow
def test_a_declared_entity_is_loaded_by_a_tap_and_resolved_by_the_cli(tmp_path: Path) -> None:
    path = pipeline(tmp_path, {"register": "people.jsonl"}, DEDUPE_RULES)
    done = crm2("sync", "--config", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    store_path = tmp_path / "store.sqlite"
    golden = golden_of(store_path)
    assert len(golden) == 321 and all(ref.startswith("register/people/rec-") for ref in golden)

    # pairwise over every true pair: the merged groups, and the links the run kept
    refs = sorted(golden)
    true = true_pairs(refs)
    grouped = {(a, b) for a, b in combinations(refs, 2) if golden[a] == golden[b]}
    group_p, group_r = pairwise(grouped, true)
    run_id = last_run(store_path)
    rows = links(tmp_path, store_path, run_id, "parquet")
    linked = {tuple(sorted((r["left_ref"], r["right_ref"]))) for r in rows if r["decision"] == "match"}
    precision, recall = pairwise(linked, true)  # type: ignore[arg-type]
    # docs/resolve.md's table: `pytest -s tests/sync/test_resolve_declared.py -k "tap or never"` prints it
    print(f"\npeople.jsonl, {len(true)} true pairs: links P/R {precision:.4f} / {recall:.4f}, "
          f"groups P/R {group_p:.4f} / {group_r:.4f}")
    assert group_p >= 0.995 and group_r >= 0.99, (group_p, group_r)
    assert precision >= 0.995 and recall >= 0.97, (precision, recall)
    assert {"given_name_level", "date_of_birth_weight", "soc_sec_id_level"} <= set(rows[0])

    # every record accounted for: one 'loaded' per golden record, the rest 'merged' into it
    with Store.open(store_path) as store, store.engine.connect() as conn:
        statuses = Counter(r.status for r in conn.execute(sa.select(crosswalk.c.status)))
        persons = conn.execute(sa.text("select count(*) from golden where entity = 'person' "
                                       "and merged_into is null")).scalar_one()
    assert statuses["loaded"] == persons and statuses["loaded"] + statuses["merged"] == 321

    # explain reads a declared entity's golden record like a customer's
    gid = golden["register/people/rec-0-org"]
    why = crm2("explain", "person", gid, "--json", "--store", str(store_path), cwd=tmp_path)
    assert why.returncode == 0, why.stderr[-2000:]
    explained = json.loads(why.stdout)
    assert explained["entity"] == "person" and "register/people/rec-0-org" in {s["ref"] for s in explained["sources"]}
    assert gid.startswith("P-")

    # an unchanged re-run changes nothing and keeps every id
    again = crm2("sync", "--config", str(path), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert golden_of(store_path) == golden


@pytest.mark.slow
def test_link_only_never_compares_two_records_of_one_file(tmp_path: Path) -> None:
    path = pipeline(tmp_path, {"register_a": "people_a.jsonl", "register_b": "people_b.jsonl"}, LINK_RULES)
    done = crm2("sync", "--config", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    store_path = tmp_path / "store.sqlite"
    rows = links(tmp_path, store_path, last_run(store_path))
    sources = Counter(tuple(r[side].split("/")[0] for side in ("left_ref", "right_ref")) for r in rows)
    assert sources and all(a != b for a, b in sources), sources  # no pair within a file, scored or kept
    golden = golden_of(store_path)
    assert len(golden) == 165 + 150
    true = true_pairs(sorted(golden), across_only=True)
    linked = {tuple(sorted((r["left_ref"], r["right_ref"]))) for r in rows if r["decision"] == "match"}
    precision, recall = pairwise(linked, true)  # type: ignore[arg-type]
    every = true_pairs(sorted(golden))  # groups: within file A's copies too, which meet through file B
    grouped = {(a, b) for a, b in combinations(sorted(golden), 2) if golden[a] == golden[b]}
    group_p, group_r = pairwise(grouped, every)
    print(f"\npeople_a + people_b, {len(true)} true pairs across files: links P/R {precision:.4f} / {recall:.4f}; "
          f"groups P/R {group_p:.4f} / {group_r:.4f} over all {len(every)} true pairs")
    assert precision >= 0.995 and recall >= 0.98, (precision, recall)
    assert group_p >= 0.995 and group_r >= 0.98, (group_p, group_r)
    # file A's own duplicates meet through file B only: same golden record, no pair between them
    copy, original = "register_a/people/rec-0-org-copy", "register_a/people/rec-0-org"
    assert golden[copy] == golden[original]
    assert not any({r["left_ref"], r["right_ref"]} == {copy, original} for r in rows)


def _stage_example(store: Store, files: tuple[str, ...] = ("people_a.jsonl", "people_b.jsonl")) -> None:
    mapping = load_mapping(EXAMPLE / "people.yml")
    records = []
    systems = {"people_a.jsonl": "register_a", "people_b.jsonl": "register_b"}
    for system, file in ((systems[f], f) for f in files):
        for line in (EXAMPLE / "data" / file).read_text(encoding="utf-8").splitlines():
            result = mapping.apply("people", json.loads(line))
            assert isinstance(result, Mapped)
            staged = staged_record(result, "person")
            records.append(staged.__class__(system, staged.source_object, staged.source_id, "person", staged.data))
    with store.begin() as conn:
        store.stage(conn, records, None)


def _pairs(store: Store) -> dict[tuple[str, str], tuple[float, str]]:
    with store.engine.connect() as conn:
        ref = {r.rid: f"{r.source_system}/{r.source_id}" for r in conn.execute(sa.select(match_records))}
        return {(ref[r.left_rid], ref[r.right_rid]): (r.weight, r.decision)
                for r in conn.execute(sa.select(match_pairs))}


def engine_pairs(folder: Path, rules: MatchConfig, engines: tuple[str, ...],
                 ) -> dict[str, dict[tuple[str, str], tuple[float, str]]]:
    """The pairs each engine keeps for the link-only example, each in a store of its own."""
    folder.mkdir(exist_ok=True)
    found = {}
    for engine in engines:
        with Store.open(folder / f"{engine}.sqlite") as store:
            _stage_example(store)
            resolve(store, rules, "person", engine=engine)
            found[engine] = _pairs(store)
    return found


@pytest.mark.parametrize("link_only", [True, False])
def test_link_only_engines_agree_and_dedupe_would_pair_within_a_file(tmp_path: Path, link_only: bool) -> None:
    rules = load_match_config(LINK_RULES)
    if not link_only:
        entity = rules.entities["person"].model_copy(update={"link_only": False})
        rules = rules.model_copy(update={"entities": {"person": entity}})
    found = engine_pairs(tmp_path / str(link_only), rules, ("duckdb", "python"))
    assert found["duckdb"] == found["python"]
    within = [p for p in found["duckdb"] if p[0].split("/")[0] == p[1].split("/")[0]]
    if link_only:
        assert not within
    else:  # the 15 copies inside file A are found when records of one file are compared
        assert len(within) >= 15


def test_link_only_in_two_runs_ends_as_in_one(tmp_path: Path) -> None:
    """Register B arriving in a later run is scored against A incrementally (only B's records are
    changed, so candidates come from their keys): the same pairs and golden records as one run."""
    rules = load_match_config(LINK_RULES)
    with Store.open(tmp_path / "one.sqlite") as store:
        _stage_example(store)
        resolve(store, rules, "person")
        one = _pairs(store)
    with Store.open(tmp_path / "two.sqlite") as store:
        _stage_example(store, ("people_a.jsonl",))
        first = resolve(store, rules, "person")
        assert (first.pairs_scored, first.golden) == (0, 165)  # one file alone: nothing to compare
        _stage_example(store, ("people_b.jsonl",))
        second = resolve(store, rules, "person")
        assert second.changed == 150
        two = _pairs(store)
    assert two == one and second.golden == 150
    # the same groups (ids may differ: a merge keeps the oldest of the ids run one gave file A)
    assert partition(golden_of(tmp_path / "two.sqlite")) == partition(golden_of(tmp_path / "one.sqlite"))


def partition(golden: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for ref, gid in golden.items():
        groups.setdefault(gid, set()).add(ref)
    return {frozenset(g) for g in groups.values()}


def test_training_link_only_rules_uses_pairs_across_sources_only(tmp_path: Path) -> None:
    from sync.resolve.train import estimate

    rules = load_match_config(LINK_RULES).rules_for("person")
    with Store.open(tmp_path / "s.sqlite") as store:
        _stage_example(store)
        resolve(store, load_match_config(LINK_RULES), "person")
        trained = estimate(store, rules, "person", random_pairs=5000)
        dedupe = estimate(store, rules.model_copy(update={"link_only": False}), "person", random_pairs=5000)
    # every blocked pair across the files, none of the 15 within file A, and random pairs likewise
    assert dedupe.candidate_pairs > trained.candidate_pairs >= 165
    assert trained.random_pairs < dedupe.random_pairs
    assert trained.levels["given_name"]["same"][0] > 0.5  # most true pairs agree on the given name
    with Store.open(tmp_path / "one.sqlite") as store:
        _stage_example(store, ("people_a.jsonl",))
        resolve(store, load_match_config(LINK_RULES), "person")
        with pytest.raises(ValueError, match="different sources"):
            estimate(store, rules, "person", random_pairs=100)
