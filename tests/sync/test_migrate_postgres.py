"""`crm2 migrate` on a PostgreSQL store: the full run, the reconciliation and an erasure whose
search through every table finds nothing of the erased contact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_migrate_support import crm2, find_values, start_org

pytestmark = pytest.mark.postgres


def test_migrate_run_verify_and_erase_on_postgresql(fresh_postgres_db: str, tmp_path: Path):
    org = start_org(tmp_path / "org", sources=("salesforce",))
    try:
        config = tmp_path / "pg.yml"
        config.write_text(org.config.read_text().replace(f"store: {{url: {org.store}}}",
                                                         f"store: {{url: '{fresh_postgres_db}'}}"))
        run = crm2(org, "migrate", "run", "--config", config)
        assert run.returncode in (0, 3), run.stderr
        verify = crm2(org, "migrate", "verify", "--config", config, "--json")
        assert verify.returncode == 0, verify.stdout[-2000:]
        report = json.loads(verify.stdout)
        assert report["totals"]["unexplained"] == 0 and report["totals"]["source"] > 0

        engine = sa.create_engine(fresh_postgres_db)
        with engine.connect() as conn:
            sid, data = conn.execute(sa.text(
                "SELECT source_id, data FROM staging WHERE source_object = 'Contact' AND deleted = false AND "
                "data->>'email' IS NOT NULL AND data->>'phone' IS NOT NULL ORDER BY source_id LIMIT 1")).one()
        engine.dispose()
        needles = [data["email"], data["phone"], " ".join(filter(None, [data.get("first_name"), data["last_name"]]))]
        assert find_values(fresh_postgres_db, [], needles)
        erase = crm2(org, "migrate", "erase", "--config", config, "--subject", f"salesforce/Contact/{sid}", "--apply")
        assert erase.returncode == 0, erase.stderr
        assert find_values(fresh_postgres_db, [], needles) == []
        again = crm2(org, "migrate", "verify", "--config", config)
        assert again.returncode == 0, again.stdout[-2000:]
    finally:
        org.stop()
