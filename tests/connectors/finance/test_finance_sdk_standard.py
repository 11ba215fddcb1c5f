"""singer-sdk's standard tap test suite for tap-crm2-finance, on a SQLite and on a PostgreSQL ledger.

Both ledgers hold the same rows: the synthetic generator's finance objects for a few dozen
customers (what ``crm2 demo`` loads: non-ASCII names, missing values, real amounts) plus the
hand-made edge cases of ``finance_ledger_data`` (a four-invoice timestamp tie, money with 14
integer digits).

``get_tap_test_class`` runs discovery when it builds the class, at import time, so both databases
must be answering by then: the SQLite file is written at import, and the PostgreSQL ledger is a
new database on the process's throwaway server (tests/throwaway_postgres.py, which the
``postgres_url`` fixture hands out too), dropped when its class is done.

``max_records_limit=None``: the suite reads every row rather than the first 150 of each table,
so the primary-key, schema and attribute checks see the whole ledger, ties included.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import io
import itertools
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from finance_ledger_data import ledger_records
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from throwaway_postgres import shared

from connectors.finance import ledger
from connectors.finance.tap import TapFinance
from synthetic import generate

SUITE = SuiteConfig(max_records_limit=None)
GENERATED_CUSTOMERS = 40


def ledger_rows() -> list[tuple[str, dict[str, Any]]]:
    generated = ((obj, rec) for system, obj, rec in generate(GENERATED_CUSTOMERS, 42) if system == "finance")
    return list(itertools.chain(generated, ledger_records()))


def load_ledger(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        return ledger.load(engine, ledger_rows())
    finally:
        engine.dispose()


_workdir = Path(tempfile.mkdtemp(prefix="crm2-fin-sdk-"))
atexit.register(shutil.rmtree, _workdir, ignore_errors=True)
SQLITE_URL = f"sqlite:///{_workdir / 'finance.sqlite'}"
SQLITE_COUNTS = load_ledger(SQLITE_URL)

StandardTestsSQLite = get_tap_test_class(TapFinance, config={"url": SQLITE_URL}, suite_config=SUITE)


class TestTapFinanceStandardSQLite(StandardTestsSQLite):  # type: ignore[misc, valid-type]
    """All standard tap, stream and attribute tests, on the SQLite ledger the demo uses."""

    def test_the_suite_read_every_row(self, runner):
        """The suite's checks are only as good as what it read: every table, whole."""
        read = {name: len(records) for name, records in runner.records.items()}
        assert read == SQLITE_COUNTS
        assert all(n > 0 for n in read.values())


_server = shared()
if _server is not None:
    PG_URL = _server.create_database()
    PG_COUNTS = load_ledger(PG_URL)
    StandardTestsPostgres = get_tap_test_class(TapFinance, config={"url": PG_URL}, suite_config=SUITE)

    @pytest.mark.postgres
    class TestTapFinanceStandardPostgres(StandardTestsPostgres):  # type: ignore[misc, valid-type]
        """All standard tap, stream and attribute tests, on PostgreSQL (NUMERIC, TIMESTAMPTZ, DATE)."""

        @pytest.fixture(scope="class", autouse=True)
        @classmethod
        def _drop_database_after(cls):
            yield
            _server.drop_database(PG_URL)

        def test_the_suite_read_every_row(self, runner):
            read = {name: len(records) for name, records in runner.records.items()}
            assert read == PG_COUNTS == SQLITE_COUNTS

        def test_a_read_stopped_early_closes_its_server_side_cursor(self, runner):
            """The connection test stops each stream after one row, inside a streaming query."""
            tap = runner.new_tap()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ResourceWarning)
                with contextlib.redirect_stdout(io.StringIO()) as out:
                    tap.run_connection_test()
                gc.collect()
            tap.engine.dispose()
            assert out.getvalue().count('"type":"RECORD"') == len(PG_COUNTS)
            assert [str(w.message) for w in caught if "Cursor" in str(w.message)] == []

else:

    @pytest.mark.postgres
    def test_standard_suite_on_postgres():
        """Reported, not silently absent: in CI a missing server fails, as in tests/conftest.py."""
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) not found")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
