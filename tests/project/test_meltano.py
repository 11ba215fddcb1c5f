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
    for kind, name in (("extractor", "tap-crm2-finance"), ("loader", "target-crm2"), ("extractor", "tap-crm2-sales"),
                       ("utility", "crm2")):
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



def _env_files(folder: Path) -> dict[str, str]:
    """What `set -a; . f` gives for the sandbox's env files (KEY=shell-quoted value)."""
    import shlex

    env: dict[str, str] = {}
    for path in sorted(folder.glob("*.env")):
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key:
                env[key] = shlex.split(value)[0] if value else ""
    return env


def test_dev_environment_reads_the_sandbox_and_crm2_runs_the_later_stages(project: Path) -> None:
    """No edits to meltano.yml: the sales sandbox writes what environment `dev` needs; Meltano
    extracts; the crm2 utility runs checks, resolve and enrich on the store Meltano loaded."""
    sandbox = subprocess.Popen([sys.executable, "-m", "sync", "sandbox", "sales", "--customers", "30"], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert sandbox.stdout is not None
        [sandbox.stdout.readline() for _ in range(3)]  # started: its env files are written
        env = _env_files(project / ".crm2" / "sandbox")
        assert env["TAP_CRM2_SALES_BASE_URL"].startswith("http://127.0.0.1:") and env["CRM2_SALES_TOKEN"]
        loaded = meltano(project, "--environment", "dev", "run", "tap-crm2-sales", "target-crm2", env=env)
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        # plugin versions are reported (singer-sdk reads them from the crm2 distribution)
        assert "tap-crm2-sales v0.1.0" in loaded.stderr and "target-crm2 v0.1.0" in loaded.stderr
        assert "could not be detected" not in loaded.stderr
    finally:
        sandbox.send_signal(2)
        sandbox.communicate(timeout=60)
    later = meltano(project, "invoke", "crm2", "sync", "--select", "checks,resolve,enrich,writeback")
    assert later.returncode in (0, 3), later.stderr[-3000:]
    with Store.open(project / ".crm2" / "crm2.sqlite") as store, store.engine.connect() as conn:
        from sync.store.schema import golden

        customers = conn.execute(sa.select(sa.func.count()).select_from(golden)
                                 .where(golden.c.entity == "customer")).scalar_one()
        sales_rows = conn.execute(sa.select(sa.func.count()).select_from(crosswalk)
                                  .where(crosswalk.c.source_system == "sales")).scalar_one()
    assert customers > 0 and sales_rows > 0
    runs = meltano(project, "invoke", "crm2", "runs", "--json")
    assert runs.returncode == 0 and '"command": "sync"' in runs.stdout, runs.stderr[-2000:]
