"""singer-sdk's standard tap tests for tap-crm2 (discovery, sync, schema and attribute checks).

``get_tap_test_class`` asks the tap for its streams when the class is built, so the store exists
from import time, in a temporary folder removed at exit.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_crm2_store import add_customer, scores, ts

from connectors.crm2.tap import TapCrm2
from sync.store import Store

_workdir = Path(tempfile.mkdtemp(prefix="crm2-tap-sdk-"))
atexit.register(shutil.rmtree, _workdir, ignore_errors=True)
_db = _workdir / "store.sqlite"
with Store.open(_db) as _store:
    for _n, _tier in enumerate("ABCAB"):
        add_customer(_store, f"CUS-{_n}", ts(_n % 3), accounts=(f"001SDK00000000000{_n}",),
                     data=scores(_tier, 40.0 + _n, 5.0 * _n))

StandardTests = get_tap_test_class(TapCrm2, config={"store_url": str(_db)},
                                   suite_config=SuiteConfig(max_records_limit=None))


class TestTapCrm2Standard(StandardTests):  # type: ignore[misc, valid-type]
    """All standard tap, stream and attribute tests."""
