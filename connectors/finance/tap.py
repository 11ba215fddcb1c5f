"""tap-crm2-finance: a Singer tap for a finance ledger in any SQLAlchemy database.

Discovery reflects only the configured tables and checks every configured table, key and
replication column against the database, so a mistake shows up before any row is read, as one
line naming the setting::

    config error: streams.invoices.table: table 'invoicez' not found in database (did you mean 'invoices'?)

Exit codes: 0 done; 2 bad configuration (nothing ran); 1 anything else.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa

from connectors.finance.tap_config import FinanceTapConfig, StreamSpec, config_jsonschema, parse
from connectors.finance.tap_streams import LedgerTableStream
from connectors.sdk import Crm2Tap
from connectors.singer_writer import BlockSingerWriter
from sync.errors import ConfigError


class TapFinance(Crm2Tap):
    """Finance ledger tables as Singer streams."""

    name = "tap-crm2-finance"
    package_name = "crm2"  # the distribution these programs ship in: --version and logs report its version
    dynamic_catalog = True
    message_writer_class = BlockSingerWriter  # records in blocks, STATE flushed at once
    config_jsonschema: ClassVar[dict[str, Any]] = config_jsonschema()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._settings: FinanceTapConfig | None = None
        self._engine: sa.Engine | None = None
        super().__init__(*args, **kwargs)

    def parse_settings(self, config: dict[str, Any]) -> FinanceTapConfig:
        return parse(config)

    @property
    def settings(self) -> FinanceTapConfig:
        if self._settings is None:
            self._settings = parse(dict(self.config))
        return self._settings

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            url = self.settings.engine_url(dict(os.environ))
            try:
                self._engine = sa.create_engine(url, pool_pre_ping=True)
            except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
                raise ConfigError.setting("url", f"cannot use this database URL: {_first_line(exc)}") from None
        return self._engine

    def discover_streams(self) -> Sequence[LedgerTableStream]:
        specs = self.settings.stream_specs()
        tables = self._reflect(specs)
        return [LedgerTableStream(self, spec, tables[spec.name]) for spec in specs]

    def _reflect(self, specs: list[StreamSpec]) -> dict[str, sa.Table]:
        schema = self.settings.db_schema
        safe_url = sa.make_url(self.settings.url).render_as_string(hide_password=True)
        try:
            with self.engine.connect() as conn:
                inspector = sa.inspect(conn)
                existing = set(inspector.get_table_names(schema=schema)) | set(inspector.get_view_names(schema=schema))
                found: dict[str, sa.Table] = {}
                metadata = sa.MetaData(schema=schema)
                for spec in specs:
                    found[spec.name] = self._checked_table(conn, metadata, spec, existing)
                return found
        except sa.exc.OperationalError as exc:
            raise ConfigError.setting("url", f"cannot connect to {safe_url}: {_first_line(exc.orig or exc)}") from None

    @staticmethod
    def _checked_table(conn: sa.Connection, metadata: sa.MetaData, spec: StreamSpec,
                       existing: set[str]) -> sa.Table:
        where = f"streams.{spec.name}"
        if spec.table not in existing:
            raise ConfigError.setting(f"{where}.table",
                                     f"table '{spec.table}' not found in database{_did_you_mean(spec.table, existing)}")
        table = sa.Table(spec.table, metadata, autoload_with=conn)
        columns = set(table.c.keys())
        for i, key in enumerate(spec.key):
            if key not in columns:
                setting = f"{where}.key" if len(spec.key) == 1 else f"{where}.key[{i}]"
                raise ConfigError.setting(
                    setting, f"column '{key}' not found in table '{spec.table}'{_did_you_mean(key, columns)}")
        if spec.replication_key is not None and spec.replication_key not in columns:
            raise ConfigError.setting(
                f"{where}.replication_key",
                f"column '{spec.replication_key}' not found in table '{spec.table}'"
                f"{_did_you_mean(spec.replication_key, columns)}")
        return table


def _did_you_mean(name: str, choices: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


if __name__ == "__main__":
    TapFinance.cli()
