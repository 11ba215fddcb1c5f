"""The shipped meltano.yml works: Meltano installs crm2's plugins from the project and
`meltano run tap-crm2-finance target-crm2` loads a ledger into the crm2 store, incrementally."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.finance.standin import write_ledger
from sync.store import Store
from sync.store.schema import bookmarks, crosswalk
from synthetic import generate

ROOT = Path(__file__).resolve().parents[2]
MELTANO = Path(sys.executable).with_name("meltano")
IGNORED = shutil.ignore_patterns(".venv", ".git", ".crm2", ".meltano", "__pycache__", ".pytest_cache", ".ruff_cache",
                                 ".hypothesis", "*.egg-info", "build")

pytestmark = pytest.mark.slow


def meltano(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", **(env or {})}
    return subprocess.run([str(MELTANO), *args], cwd=project, capture_output=True, text=True, env=full_env,
                          timeout=900)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    if not MELTANO.exists():
        pytest.fail("meltano is part of the test extra; install with pip install -e '.[test]'")
    project = tmp_path_factory.mktemp("meltano") / "crm2"
    shutil.copytree(ROOT, project, ignore=IGNORED)
    for kind, name in (("extractor", "tap-crm2-finance"), ("loader", "target-crm2")):
        done = meltano(project, "install", kind, name)
        assert done.returncode == 0, done.stderr[-3000:]
    return project


def test_meltano_run_loads_the_ledger_into_the_store_and_resumes(project: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "finance.sqlite"
    counts = write_ledger(ledger, ((obj, rec) for system, obj, rec in generate(40, 7) if system == "finance"))
    env = {"TAP_CRM2_FINANCE_URL": f"sqlite:///{ledger}"}

    first = meltano(project, "run", "tap-crm2-finance", "target-crm2", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    with Store.open(project / ".crm2" / "crm2.sqlite") as store, store.engine.connect() as conn:
        rows = dict(conn.execute(sa.select(crosswalk.c.source_object, sa.func.count())
                                 .where(crosswalk.c.source_system == "finance")
                                 .group_by(crosswalk.c.source_object)).all())
        saved = conn.execute(sa.select(bookmarks.c.state).where(bookmarks.c.name == "meltano:finance")).scalar()
    # every ledger row is in the crosswalk (loaded or quarantined), under the mapping load_schema chose
    assert rows == counts
    assert saved and set(saved["bookmarks"]) >= {"customers", "invoices"}

    state = meltano(project, "state", "list")
    assert state.returncode == 0 and "tap-crm2-finance-to-target-crm2" in state.stdout

    second = meltano(project, "run", "tap-crm2-finance", "target-crm2", env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    # Meltano handed the tap its state: no record was read again
    counts = [json.loads(line.split(" counts ", 1)[1]) for line in second.stderr.splitlines() if " counts {" in line]
    assert counts, second.stderr[-2000:]
    assert sum(stream["received"] for stream in counts[-1].values()) == 0
