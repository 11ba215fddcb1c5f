"""tap-crm2: a Singer tap over the crm2 store, the source end of the writeback pipe.

``tap-crm2 | target-crm2-salesforce`` pushes tiers and scores to the primary CRM as an ordinary
Singer pipe, so it also runs under Meltano or by hand. One stream, ``customer_scores`` (see
``tap_streams``), incremental on the golden record's change time; ``full_refresh: true`` (or no
state) reads every live customer. The target diffs against what it last wrote, so a full read
costs no API calls for customers whose values did not change.

Exit codes: 0 done; 2 bad configuration (nothing ran); 1 anything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from connectors.crm2.tap_streams import CustomerScoresStream
from connectors.sdk import Crm2Tap, parse_settings
from sync.redaction import register_secret
from sync.store.store import create_engine, store_url


class TapCrm2Config(BaseModel):
    # singer-sdk adds its own keys (stream_maps, flattening_*, batch_config...) to the config
    model_config = ConfigDict(extra="allow")

    store_url: str = Field(min_length=1, description="crm2 store: a SQLite file path or a SQLAlchemy URL")
    full_refresh: bool = Field(False, description="Ignore the bookmark and read every live customer")
    batch_size: int = Field(1000, ge=1, le=10_000, description="Customers read from the store per round trip")


def config_jsonschema() -> dict[str, Any]:
    schema = TapCrm2Config.model_json_schema()
    schema.pop("title", None)
    schema["additionalProperties"] = True
    return schema


class TapCrm2(Crm2Tap):
    """The crm2 store's golden customers, with tiers and scores, as a Singer stream."""

    name = "tap-crm2"
    package_name = "crm2"  # the distribution these programs ship in: --version and logs report its version
    config_jsonschema: ClassVar[dict[str, Any]] = config_jsonschema()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._settings: TapCrm2Config | None = None
        self._engine: sa.Engine | None = None
        super().__init__(*args, **kwargs)

    def parse_settings(self, config: dict[str, Any]) -> TapCrm2Config:
        parsed: TapCrm2Config = parse_settings(TapCrm2Config, config)
        return parsed

    @property
    def settings(self) -> TapCrm2Config:
        if self._settings is None:
            self._settings = self.parse_settings(dict(self.config))
        return self._settings

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            url = store_url(self.settings.store_url)
            password = sa.make_url(url).password
            register_secret(str(password) if password else None)
            # read-only use: no migrations here, the store is upgraded by crm2 before a run
            self._engine = create_engine(url)  # private file, SQLCipher key when the store has one
        return self._engine

    def load_state(self, state: dict[str, Any]) -> None:
        # a full refresh starts from nothing: an old bookmark would make singer-sdk reject the
        # first (older) record as out of order
        if not TapCrm2Config.model_validate(dict(self.config)).full_refresh:
            super().load_state(state)

    def discover_streams(self) -> Sequence[CustomerScoresStream]:
        return [CustomerScoresStream(self)]


if __name__ == "__main__":
    TapCrm2.cli()
