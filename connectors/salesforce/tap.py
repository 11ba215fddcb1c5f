"""tap-crm2-salesforce: a Singer tap for the primary CRM (Salesforce), built on singer-sdk.

Discovery describes only the configured objects. Each object is one incremental stream (see
``tap_streams``). When the org's API quota runs low the tap stops *cleanly*: everything emitted
so far is followed by a final STATE, the remaining streams are skipped, and the process exits
with :data:`STOPPED_EARLY` (75, ``EX_TEMPFAIL``) so a scheduler notices and retries later
while the target still saves the state. Exit codes:

* 0 — every selected stream was extracted completely.
* 75 — stopped early on the API limit / budget or a failure that outlasted the retries; the
  STATE emitted covers exactly the records emitted, so the next run resumes there.
* 1 — a non-retryable error (credentials refused, a query Salesforce rejects); state is still
  emitted for completed records, other streams still run unless authentication failed.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from singer_sdk import Tap

from connectors.metrics import write_metrics
from connectors.salesforce.client import (
    ApiBudget,
    ApiLimitReached,
    AuthenticationError,
    RetryPolicy,
    SalesforceClient,
    SalesforceError,
    TransientError,
)
from connectors.salesforce.tap_config import SalesforceTapConfig, config_jsonschema
from connectors.salesforce.tap_schema import kinds_from_schema, schema_from_describe
from connectors.salesforce.tap_streams import SObjectStream
from sync.exitcodes import STOPPED_EARLY, ExitCode


class TapSalesforce(Tap):
    """Salesforce sObjects as Singer streams."""

    name = "tap-crm2-salesforce"
    package_name = "crm2"  # the distribution these programs ship in: --version and logs report its version
    dynamic_catalog = True
    config_jsonschema: ClassVar[dict[str, Any]] = config_jsonschema()

    _last_instance: ClassVar[TapSalesforce | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._settings: SalesforceTapConfig | None = None
        self._client: SalesforceClient | None = None
        self.halt_reason: str | None = None
        self.exit_code = 0
        self.failures: dict[str, str] = {}
        super().__init__(*args, **kwargs)
        # singer-sdk's sync_all is final and invoke() does not hand back the tap, so the CLI
        # wrapper finds the instance here to turn a clean early stop into an exit code.
        TapSalesforce._last_instance = self

    # -- settings and client ------------------------------------------------------------------

    @property
    def settings(self) -> SalesforceTapConfig:
        if self._settings is None:
            self._settings = SalesforceTapConfig.model_validate(dict(self.config))
        return self._settings

    @property
    def client(self) -> SalesforceClient:
        if self._client is None:
            cfg = self.settings
            self._client = SalesforceClient(
                cfg.credentials(), api_version=cfg.api_version, ca_bundle=cfg.ca_bundle,
                budget=ApiBudget(max_pct=cfg.api_budget_pct),
                retry=RetryPolicy(max_attempts=cfg.max_attempts, initial_wait=cfg.retry_initial_wait,
                                  max_wait=cfg.retry_max_wait, read_timeout=cfg.request_timeout))
        return self._client

    # -- discovery ----------------------------------------------------------------------------

    def discover_streams(self) -> list[SObjectStream]:
        wanted = self.settings.objects
        catalog = self.input_catalog
        if catalog is not None:
            # A run with a catalog costs no describe calls: the catalog already has the schemas.
            entries = {entry.tap_stream_id: entry for entry in catalog.values()}
            if all(name in entries for name in wanted):
                streams = []
                for name in wanted:
                    schema = entries[name].schema.to_dict()
                    streams.append(SObjectStream(self, sobject=name, schema=schema, kinds=kinds_from_schema(schema)))
                return streams
        streams = []
        for name in wanted:
            schema, kinds = schema_from_describe(self.client.describe(name))
            streams.append(SObjectStream(self, sobject=name, schema=schema, kinds=kinds))
        self.logger.info("Described %d objects: %s", len(wanted), self.client.budget.summary())
        return streams

    # -- early stop ---------------------------------------------------------------------------

    @property
    def halted(self) -> bool:
        return self.halt_reason is not None

    def record_failure(self, stream: str, exc: SalesforceError) -> None:
        """Called by a stream that stopped on an error after flushing what it had."""
        if isinstance(exc, ApiLimitReached | TransientError):
            self.halt_reason = f"{type(exc).__name__} during {stream}: {exc}"
            self.exit_code = STOPPED_EARLY
            self.logger.warning("Stopping cleanly: %s -- state covers every record emitted; rerun later to "
                                "resume.", self.halt_reason)
        elif isinstance(exc, AuthenticationError):
            self.halt_reason = f"authentication failed: {exc}"
            self.exit_code = max(self.exit_code, ExitCode.FAILED)
            self.logger.error("Stopping: %s", self.halt_reason)
        else:
            self.exit_code = self.exit_code or ExitCode.FAILED
            self.logger.error("Stream %s failed: %s", stream, exc)
        self.failures[stream] = str(exc)

    def api_summary(self) -> str:
        return self._client.budget.summary() if self._client else "api_calls=0"

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        cls._last_instance = None
        super().invoke(*args, **kwargs)
        tap = cls._last_instance
        if tap is None:
            return
        tap.logger.info("Salesforce API usage: %s", tap.api_summary())
        budget = tap._client.budget if tap._client else None
        write_metrics({"api_calls": (budget.calls + budget.auth_calls) if budget else 0})
        if tap.exit_code:
            sys.exit(tap.exit_code)


if __name__ == "__main__":
    TapSalesforce.cli()
