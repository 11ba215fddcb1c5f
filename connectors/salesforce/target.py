"""target-crm2-salesforce: the writeback, a Singer target (singer-sdk) fed by tap-crm2.

    tap-crm2 --config tap.json | target-crm2-salesforce --config target.json [--dry-run]

Records are mapped by ``mappings/writeback.yml`` to Salesforce records, diffed against what crm2
last wrote to each (unchanged ones cost no API call), and sent with sObject Collections or Bulk
API 2.0 under a write-ahead log, so a rerun after a crash writes nothing twice. Rejected rows are
queued in the store and retried on the next run; every write lands in the audit log. See
docs/writeback.md.

Exit codes:

* 0 — every change was written (or, in a dry run, listed);
* 3 — finished, but some records were rejected: listed in errors.csv, retried on the next run;
* 75 — stopped cleanly on the API limit or budget, or Salesforce unreachable: unsent changes
  are queued, a rerun continues;
* 2 — bad configuration or mapping (file:line:column), nothing ran;
* 1 — anything else.
"""

from __future__ import annotations

import sys
from functools import cached_property
from typing import Any, ClassVar

import click
from singer_sdk.sinks import BatchSink

from connectors.salesforce.client import AuthenticationError
from connectors.salesforce.writeback.config import WritebackSettings, config_jsonschema, parse_settings
from connectors.salesforce.writeback.engine import EngineResult, WritebackEngine
from connectors.salesforce.writeback.report import (
    exit_code,
    print_report,
    write_files,
)
from connectors.sdk import Crm2Target
from sync.errors import ConfigError
from sync.store import Store
from sync.writeback.mapping import LoadedMapping, load_mapping


class WritebackSink(BatchSink):
    """Holds a stream's records until a drain, then hands them to the engine."""

    def __init__(self, target: TargetSalesforce, stream_name: str, schema: dict[str, Any],
                 key_properties: list[str] | None) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.writeback = target
        target.mapping.bind_schema(stream_name, schema)
        if not target.mapping.objects_for(stream_name):
            self.logger.info("No Salesforce object in %s reads stream '%s'; its records are ignored",
                             target.mapping.path, stream_name)

    @property
    def max_size(self) -> int:
        return self.writeback.settings.batch_size

    @cached_property
    def validate_schema(self) -> bool:
        # Off unless asked for (validate_records: true): the mapping checks every value it uses
        # against its field's kind and reports the record, and jsonschema on each record costs
        # more than the whole rest of a run in which nothing changed.
        return bool(self.config.get("validate_records", False))

    def process_batch(self, context: dict[str, Any]) -> None:
        self.writeback.engine.add_records(self.stream_name, context.get("records") or [])


class TargetSalesforce(Crm2Target):
    """Writes crm2's tiers and scores to Salesforce."""

    name = "target-crm2-salesforce"
    package_name = "crm2"  # the distribution these programs ship in: --version and logs report its version
    config_jsonschema: ClassVar[dict[str, Any]] = config_jsonschema()
    default_sink_class = WritebackSink

    _force_dry_run: ClassVar[bool] = False
    _last_instance: ClassVar[TargetSalesforce | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._settings: WritebackSettings | None = None
        self._mapping: LoadedMapping | None = None
        self._engine: WritebackEngine | None = None
        self._store: Store | None = None
        self.result: EngineResult | None = None
        super().__init__(*args, **kwargs)
        # one engine, one write-ahead log: streams are drained one after another, never in parallel
        self.max_parallelism = 1
        # every configuration problem shows before any input is read (exit 2, nothing done)
        _ = self.mapping
        try:
            self.settings.client()  # names the secret env vars; no call is made yet
        except AuthenticationError as exc:
            raise ConfigError.setting("client_secret_env", str(exc)) from None
        # invoke() does not hand back the target; the CLI wrapper finds it here for the exit code
        TargetSalesforce._last_instance = self

    def parse_settings(self, config: dict[str, Any]) -> WritebackSettings:
        return parse_settings(config)

    @property
    def settings(self) -> WritebackSettings:
        if self._settings is None:
            self._settings = parse_settings(dict(self.config))
            if self._force_dry_run:
                self._settings.dry_run = True
            self._settings.register_store_secret()
        return self._settings

    @property
    def mapping(self) -> LoadedMapping:
        if self._mapping is None:
            mapping = load_mapping(self.settings.mapping)
            mapping.check_settings(match=self.settings.match, mode=self.settings.mode)
            self._mapping = mapping
        return self._mapping

    @property
    def engine(self) -> WritebackEngine:
        if self._engine is None:
            self._store = Store.open(self.settings.store_url)
            self._engine = WritebackEngine(self.settings, self.mapping, self._store)
        return self._engine

    def emit_state(self, state: dict[str, Any]) -> None:
        # every record before this state is written, queued or unchanged: the tap may resume after it
        super().emit_state(state)
        name = self.settings.bookmark_name
        if name and not self.settings.dry_run:
            self.engine.wstore.save_bookmark(name, state)

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        result = self.engine.finish()
        self.result = result
        settings = self.settings
        print_report(result, dry_run=settings.dry_run, out=sys.stderr)
        if settings.output_dir is not None:
            write_files(settings.output_dir, result, dry_run=settings.dry_run, run_id=settings.effective_run_id)
        if self._store is not None:
            self._store.close()

    @classmethod
    def invoke(cls, *args: Any, dry_run: bool = False, **kwargs: Any) -> None:  # type: ignore[override]
        cls._last_instance = None
        cls._force_dry_run = dry_run
        super().invoke(*args, **kwargs)
        target = cls._last_instance
        if target is not None and target.result is not None:
            code = exit_code(target.result)
            if code:
                sys.exit(code)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        command.params.append(click.Option(["--dry-run"], is_flag=True, default=False,
                                           help="Print what would change (before -> after); write nothing."))
        return command


if __name__ == "__main__":
    TargetSalesforce.cli()
