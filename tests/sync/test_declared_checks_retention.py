"""Quality checks and retention rules know a data team's own entity (examples/people's 'person').

The checks and the retention policy name an entity and its fields; for a declared entity they
come from the pipeline's mappings. A typo is a positioned error in `crm2 validate` / `crm2 migrate
erase`, never a check that silently judges empty values. Real parts: tap-jsonfile piped into
target-crm2 by `crm2 sync`, a SQLite store.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sync.errors import ConfigError
from sync.migrate.retention import load_policy
from sync.orchestrate import config, stages
from sync.quality import load_checks

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "people"


def crm2(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd)


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of examples/people whose pipeline names the shipped match rules by absolute path."""
    folder = tmp_path / "people"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.sqlite*", "__pycache__"))
    pipeline = folder / "pipeline.yml"
    pipeline.write_text(pipeline.read_text(encoding="utf-8").replace(
        "../../config/match.febrl.yml", str(ROOT / "config" / "match.febrl.yml")), encoding="utf-8")
    return folder


def test_validate_finds_a_check_on_an_unknown_entity_or_field(example: Path) -> None:
    checks = example / "checks.yml"
    text = checks.read_text(encoding="utf-8").replace("fields: [surname]", "fields: [surnme]")
    checks.write_text(text.replace("entity: person, type: regex, field: postcode", "entity: persn, type: regex, "
                                   "field: postcode"), encoding="utf-8")
    loaded = config.load(example / "pipeline.yml")
    with pytest.raises(ConfigError) as info:
        stages.check_check_targets(loaded, load_checks(checks))
    lines = checks.read_text(encoding="utf-8").splitlines()
    at_field = next(i for i, line in enumerate(lines) if "surnme" in line) + 1
    at_entity = next(i for i, line in enumerate(lines) if "persn" in line) + 1
    found = [str(p).replace(str(checks), "checks.yml") for p in info.value.problems]
    assert found == [
        f"checks.yml:{at_field}:{lines[at_field - 1].index('surnme') + 1}: unknown field 'surnme' for entity "
        "'person' (did you mean 'surname'?)",
        f"checks.yml:{at_entity}:{lines[at_entity - 1].index('persn') + 1}: unknown entity 'persn' "
        "(did you mean 'person'?)"]

    # the same through the command, with every other problem of the config
    done = crm2("validate", "--no-env", "--config", "pipeline.yml", cwd=example)
    assert done.returncode == 2 and "unknown field 'surnme'" in done.stderr and "unknown entity 'persn'" in done.stderr


def test_the_shipped_checks_name_only_fields_crm2_entities_have() -> None:
    loaded = config.load(ROOT / "config" / "pipeline.example.yml")
    stages.check_check_targets(loaded, load_checks(ROOT / "config" / "checks.yml"))


def test_a_retention_policy_may_name_a_declared_entity_of_the_pipeline(example: Path) -> None:
    policy = example / "retention.yml"
    with pytest.raises(ConfigError, match="unknown entity 'person'"):
        load_policy(policy)  # crm2's own entities only: 'person' is the example's
    known = stages.known_entities(config.load(example / "pipeline.yml"))
    assert load_policy(policy, known).entity_fields("person")[:2] == ["given_name", "surname"]

    policy.write_text(policy.read_text(encoding="utf-8").replace("born, soc_sec_id]", "born, ssn]"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"retention.yml:\d+:\d+: person has no field 'ssn'"):
        load_policy(policy, known)


@pytest.mark.slow
def test_a_declared_entity_is_checked_and_a_person_erased_through_the_cli(example: Path) -> None:
    done = crm2("sync", "--config", "pipeline.yml", cwd=example)
    assert done.returncode == 0, done.stderr[-3000:]
    done = crm2("checks", "--config", "pipeline.yml", "--json", cwd=example)
    assert done.returncode == 0, done.stderr[-2000:]  # warnings only
    results = {r["check"]: r for r in json.loads(done.stdout)}
    assert {r["entity"] for r in results.values()} == {"person"}
    assert all(r["total"] == 321 for r in results.values() if r["judges_records"])
    # the register's records without a surname are named by reference
    missing = results["person_surname_required"]
    assert not missing["passed"] and missing["details"]["reasons"] == {"missing surname": missing["failing"]}
    assert all(ref.startswith("register/people/rec-") for ref in missing["details"]["sample"])
    assert results["person_postcode_shape"]["passed"]

    with sqlite3.connect(example / "people.sqlite") as db:
        before = json.loads(db.execute("select data from staging where source_id = 'rec-1-org'").fetchone()[0])
    args = ["migrate", "erase", "--config", "pipeline.yml", "--policy", "retention.yml",
            "--subject", "register/people/rec-1-org"]
    dry = crm2(*args, cwd=example)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "would erase 1 source record(s) and 1 golden record(s)" in dry.stdout
    done = crm2(*args, "--apply", cwd=example)
    assert done.returncode == 0, done.stderr[-2000:]
    for out in (dry.stdout + dry.stderr, done.stdout + done.stderr):  # references, never values
        assert before["surname"] not in out and before["soc_sec_id"] not in out
    with sqlite3.connect(example / "people.sqlite") as db:
        after = json.loads(db.execute("select data from staging where source_id = 'rec-1-org'").fetchone()[0])
        golden = json.loads(db.execute("select g.data from golden g join crosswalk c on c.golden_id = g.golden_id "
                                       "where c.source_id = 'rec-1-org'").fetchone()[0])
    for record in (after, golden):
        assert record["surname"].startswith("erased:") and record["soc_sec_id"].startswith("erased:")
        assert record["suburb"] == before["suburb"]  # not personal in the policy: kept
