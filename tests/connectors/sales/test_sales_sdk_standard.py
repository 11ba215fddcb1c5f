"""singer-sdk's standard tap test suite for tap-crm2-sales, against the sales stand-in over loopback HTTP.

The stand-in serves the synthetic generator's sales objects for a few dozen customers (what
``crm2 demo`` serves) plus the hand-made records of ``sales_api_data`` (orders in timestamp ties,
money with 14 integer digits). Pages of 25 make the suite read every endpoint across many
requests and cursors, so paging is part of what it checks.

``get_tap_test_class`` runs discovery when it builds the class, at import time, so the stand-in
starts when this module is imported and stops when the class is done (or at exit if only
collection ran). ``max_records_limit=None``: every record is read, not the first 150.
"""

from __future__ import annotations

import atexit
import itertools
import os
from typing import Any

import pytest
from sales_api_data import TOKEN_ENV, sales_records
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from connectors.sales.standin import OBJECTS, RateLimit, SalesStandIn
from connectors.sales.tap import TapSales
from synthetic import generate

GENERATED_CUSTOMERS = 40
PAGE_SIZE = 25


def api_records() -> list[tuple[str, dict[str, Any]]]:
    generated = ((obj, rec) for system, obj, rec in generate(GENERATED_CUSTOMERS, 42) if system == "sales")
    return list(itertools.chain(generated, sales_records()))


_standin = SalesStandIn(rate_limit=RateLimit())
COUNTS = _standin.load(api_records())
_standin.start()
atexit.register(_standin.stop)
os.environ[TOKEN_ENV] = _standin.token

CONFIG = {
    "base_url": _standin.url,
    "auth": {"type": "bearer", "token_env": TOKEN_ENV},
    "endpoints": {name: {"pagination": {"size": PAGE_SIZE}} for name in OBJECTS},
    "retry_initial_wait": 0.01,
    "retry_max_wait": 0.05,
}

StandardTests = get_tap_test_class(TapSales, config=CONFIG, suite_config=SuiteConfig(max_records_limit=None))


class TestTapSalesStandard(StandardTests):  # type: ignore[misc, valid-type]
    """All standard tap, stream and attribute tests for every default endpoint."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _stop_standin_after(cls):
        yield
        _standin.stop()

    def test_the_suite_read_every_record_page_by_page(self, runner):
        """The suite's checks are only as good as what it read: every endpoint, whole."""
        read = {name: len(records) for name, records in runner.records.items()}
        assert read == COUNTS
        assert all(n > PAGE_SIZE for n in read.values()), "each endpoint should span several pages"
