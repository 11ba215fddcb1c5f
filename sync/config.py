"""Pipeline configuration (`crm2 sync --config FILE`), validated once into pydantic models.

Secrets are never written in a config: a config names the environment variable that holds
each one (`password_env: CRM2_STORE_PASSWORD`), and taps receive those names, not the values.
Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sync import yamlconf
from sync.redaction import register_secret

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreConfig(Strict):
    url: str = Field(default=".crm2/crm2.sqlite",
                     description="SQLite file path, or a SQLAlchemy URL such as postgresql+psycopg://crm2@db/crm2")
    password_env: str | None = Field(default=None, description="environment variable holding the password")

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("must be an environment variable name such as CRM2_STORE_PASSWORD")
        return value

    @field_validator("url")
    @classmethod
    def _no_inline_password(cls, value: str) -> str:
        if re.match(r"^[a-z][\w+.-]*://[^/@:]+:[^/@]+@", value):
            raise ValueError("do not put a password in the URL; name its environment variable in password_env")
        return value

    def resolved_url(self, base: Path) -> str:
        if "://" not in self.url:
            from sync.store import store_url

            path = Path(self.url).expanduser()
            return store_url(path if path.is_absolute() else base / path)
        if not self.password_env:
            return self.url
        password = os.environ.get(self.password_env)
        if password is None:
            raise yamlconf.ConfigError.single(
                "store.password_env", f"environment variable {self.password_env} is not set")
        register_secret(password)
        from sqlalchemy.engine import make_url

        return make_url(self.url).set(password=password).render_as_string(hide_password=False)


class Extractor(Strict):
    """One source: a Singer tap piped into target-crm2 with a YAML mapping."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="source system name, e.g. salesforce")
    tap: str = Field(description="the tap's executable, e.g. tap-crm2-salesforce")
    config: dict[str, Any] = Field(default_factory=dict, description="the tap's config (secrets by env name)")
    mapping: Path = Field(description="YAML mapping file for this source")
    enabled: bool = True


class StageToggle(Strict):
    enabled: bool = True
    rules: Path | None = None


class SparkSettings(Strict):
    master: str = Field(default="local[2]", description="Spark master URL: local[N], spark://host:7077, yarn ...")
    settings: dict[str, str] = Field(default_factory=dict, description="Spark settings, e.g. spark.executor.memory")


class ResolveToggle(StageToggle):
    engine: Literal["duckdb", "spark", "python"] = Field(
        default="duckdb", description="where candidate pairs are found and scored: duckdb (set-based SQL, "
                                      "in-process), spark (the same SQL on Apache Spark) or python (one call "
                                      "per pair); all decide the same")
    spark: SparkSettings = Field(default_factory=SparkSettings)


class EnrichToggle(StageToggle):
    as_of: date | None = Field(default=None, description="score as of this date (default: today, UTC)")


class WritebackConfig(Strict):
    enabled: bool = False
    target: str = "target-crm2-salesforce"
    mapping: Path | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = Field(default=True, description="print what would change; write nothing")


class PipelineConfig(Strict):
    version: Literal[1] = 1
    store: StoreConfig = Field(default_factory=StoreConfig)
    extractors: list[Extractor] = Field(default_factory=list)
    checks: StageToggle = Field(default_factory=StageToggle)
    resolve: ResolveToggle = Field(default_factory=ResolveToggle)
    enrich: EnrichToggle = Field(default_factory=EnrichToggle)
    writeback: WritebackConfig = Field(default_factory=WritebackConfig)

    @field_validator("extractors")
    @classmethod
    def _unique_names(cls, value: list[Extractor]) -> list[Extractor]:
        seen: set[str] = set()
        for ex in value:
            if ex.name in seen:
                raise ValueError(f"extractor name '{ex.name}' is used twice")
            seen.add(ex.name)
        return value


class LoadedConfig(BaseModel):
    """A validated pipeline config with the folder its relative paths are resolved against."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: Path
    pipeline: PipelineConfig

    @property
    def base(self) -> Path:
        return self.path.parent

    def resolve_path(self, value: Path) -> Path:
        return value if value.is_absolute() else self.base / value


def load(path: str | Path) -> LoadedConfig:
    """Load and validate a pipeline config, checking referenced files exist."""
    path = Path(path)
    tree = yamlconf.read_yaml(path)
    pipeline = yamlconf.validate(tree, PipelineConfig, path)
    loaded = LoadedConfig(path=path, pipeline=pipeline)
    problems: list[yamlconf.Problem] = []
    for i, ex in enumerate(pipeline.extractors):
        if not loaded.resolve_path(ex.mapping).is_file():
            line, col = yamlconf.position(tree, ["extractors", i, "mapping"])
            problems.append(yamlconf.Problem(str(path), line, col, f"mapping file not found: {ex.mapping}",
                                             "paths are relative to the config file's folder"))
    if problems:
        raise yamlconf.ConfigError(problems)
    return loaded
