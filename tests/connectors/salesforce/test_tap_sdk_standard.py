"""singer-sdk's standard tap test suite, run against the local Salesforce stand-in over HTTPS.

``get_tap_test_class`` builds the test class at import time and asks the tap for its streams
then, so the stand-in must already be answering: it starts when this module is imported and
stops when the module's tests are done (or at interpreter exit if collection is all that ran).
"""

from __future__ import annotations

import atexit
import os
import tempfile
from pathlib import Path

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from connectors.salesforce.standin import SalesforceStandIn
from connectors.salesforce.tap import TapSalesforce

SECRET_ENV = "CRM2_SDKTEST_SF_CLIENT_SECRET"
_workdir = Path(tempfile.mkdtemp(prefix="crm2-sf-sdk-"))
_standin = SalesforceStandIn(_workdir / "org.sqlite", host="127.0.0.1", port=0)
_standin.start()
_standin.seed_from_generator(12, 42)
atexit.register(_standin.stop)
os.environ[SECRET_ENV] = _standin.credentials["client_secret"]

CONFIG = {
    "instance_url": _standin.url,
    "ca_bundle": str(_standin.ca_path),
    "auth_flow": "client_credentials",
    "client_id": _standin.credentials["client_id"],
    "client_secret_env": SECRET_ENV,
    "start_date": "2020-01-01T00:00:00Z",
    "retry_initial_wait": 0.05,
}

StandardTests = get_tap_test_class(
    TapSalesforce,
    config=CONFIG,
    suite_config=SuiteConfig(max_records_limit=None),
)


class TestTapSalesforceStandard(StandardTests):  # type: ignore[misc, valid-type]
    """All standard tap, stream and attribute tests for every default object."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _stop_standin_after(cls):
        yield
        _standin.stop()
