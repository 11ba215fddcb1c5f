"""Pipeline configuration (`crm2 sync --config FILE`), validated once into pydantic models.

Secrets are never written in a config: a config names the environment variable that holds
each one (`password_env: CRM2_STORE_PASSWORD`), and taps receive those names, not the values.
Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from ruamel.yaml.comments import CommentedMap

from sync import yamlconf
from sync.redaction import register_secret

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreConfig(Strict):
    url: str = Field(default=".crm2/crm2.sqlite",
                     description="SQLite file path, or a SQLAlchemy URL such as postgresql+psycopg://crm2@db/crm2")
    password_env: str | None = Field(default=None, description="environment variable holding the password")
    key_env: str | None = Field(default=None, description="environment variable holding the SQLite store's "
                                                           "SQLCipher key (docs/security.md)")
    key_file: str | None = Field(default=None, description="file holding the SQLite store's SQLCipher key, "
                                                           "kept away from the data (docs/security.md)")

    @field_validator("password_env", "key_env")
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

            self._export_key(base)
            path = Path(self.url).expanduser()
            return store_url(path if path.is_absolute() else base / path)
        if not self.password_env:
            return self.url
        password = os.environ.get(self.password_env)
        if password is None:  # callers with the config file run check_environment first, which points
            raise yamlconf.ConfigError.single(
                "store", f"environment variable {self.password_env} (named by password_env) is not set")
        register_secret(password)
        from sqlalchemy.engine import make_url

        return make_url(self.url).set(password=password).render_as_string(hide_password=False)

    def _export_key(self, base: Path) -> None:
        """Hand the configured store key to Store.open and to the programs a run starts
        (target-crm2 opens the store too) through the variables sync.store.keys reads."""
        from sync.store import keys

        if self.key_env:
            key = os.environ.get(self.key_env)
            if not key:
                raise yamlconf.ConfigError.single("store.key_env", f"environment variable {self.key_env} is not set")
            register_secret(key)
            os.environ[keys.KEY_ENV] = key
        elif self.key_file:
            path = Path(self.key_file).expanduser()
            path = path if path.is_absolute() else base / path
            if not path.is_file():
                raise yamlconf.ConfigError.single("store.key_file", f"no key file {path}")
            os.environ[keys.KEY_FILE_ENV] = str(path)


class Extractor(Strict):
    """One source: a Singer tap piped into target-crm2 with a YAML mapping."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="source system name, e.g. salesforce")
    tap: str = Field(description="the tap's executable, e.g. tap-crm2-salesforce")
    config: dict[str, Any] = Field(default_factory=dict, description="the tap's config (secrets by env name)")
    mapping: Path = Field(description="YAML mapping file for this source")
    enabled: bool = True
    batch: bool | None = Field(
        default=None, description="send records as Singer BATCH files instead of RECORD lines (default: the "
                                  "pipeline's 'batch'); only crm2's own taps do, any other tap sends lines")


class StageToggle(Strict):
    enabled: bool = True
    rules: Path | None = None


class SparkSettings(Strict):
    master: str = Field(default="local[2]", description="Spark master URL: local[N], spark://host:7077, yarn ...")
    settings: dict[str, str] = Field(default_factory=dict, description="Spark settings, e.g. spark.executor.memory")
    exchange: Path | None = Field(
        default=None, description="folder where the driver and Spark hand Parquet files to each other; "
                                  "default: the temporary folder, which only a local[N] master can reach")

    @model_validator(mode="after")
    def _cluster_needs_a_shared_exchange(self) -> SparkSettings:
        if self.exchange is None and not self.master.startswith("local"):
            raise ValueError("a master other than local[N] runs executors on other machines: set exchange "
                             "to a folder the driver and every executor can read and write (a shared mount)")
        return self


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
    environments: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="named overrides (dev, prod…) applied with crm2 sync --env NAME: "
        "store, checks…writeback as here, extractors as a mapping from extractor name to its changes")
    store: StoreConfig = Field(default_factory=StoreConfig)
    batch: bool = Field(
        default=True, description="crm2's own taps hand records to target-crm2 as Singer BATCH files (private, "
                                  "deleted once committed) instead of one RECORD line each; other taps are "
                                  "unaffected")
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
    env: str | None = None
    """The environment whose overrides were applied, if any."""
    tree: Any = Field(default=None, exclude=True, repr=False)
    """The parsed YAML with node positions, so later checks can point at file:line:column."""

    @property
    def base(self) -> Path:
        return self.path.parent

    def resolve_path(self, value: Path) -> Path:
        return value if value.is_absolute() else self.base / value


def _merge(base: Any, override: Any) -> Any:
    """Deep-merge ``override`` into ``base`` (ruamel maps), keeping each value's own position, so
    a bad overriding value is reported where it is written in ``environments:``."""
    if not (isinstance(base, CommentedMap) and isinstance(override, CommentedMap)):
        return override
    for key, value in override.items():
        base[key] = _merge(base[key], value) if key in base else value
        if key in override.lc.data:
            base.lc.data[key] = list(override.lc.data[key])
    return base


def apply_environment(tree: Any, name: str, path: Path) -> Any:
    """The config tree with ``environments.<name>`` merged in (extractors matched by name)."""
    envs = tree.get("environments") if isinstance(tree, CommentedMap) else None
    if not isinstance(envs, CommentedMap) or name not in envs:
        choices = [str(k) for k in envs] if isinstance(envs, CommentedMap) else []
        line, col = yamlconf.position(tree, ["environments"], at_key=True)
        raise yamlconf.ConfigError.single(
            path, f"no environment '{name}'", line=line if choices else 0, column=col if choices else 0,
            hint=yamlconf.did_you_mean(name, choices) if choices else "add an environments: section")
    override = envs[name]
    if override is None:
        return tree
    if not isinstance(override, CommentedMap):
        line, col = yamlconf.position(tree, ["environments", name])
        raise yamlconf.ConfigError.single(path, f"environments.{name} must be a mapping of overrides",
                                          line=line, column=col)
    for key, value in override.items():
        if key != "extractors":
            tree[key] = _merge(tree[key], value) if key in tree else value
            if key in override.lc.data:
                tree.lc.data[key] = list(override.lc.data[key])
            continue
        listed = {ex.get("name"): ex for ex in tree.get("extractors") or [] if isinstance(ex, CommentedMap)}
        for ex_name, changes in (value or {}).items():
            if ex_name not in listed:
                line, col = yamlconf.position(tree, ["environments", name, "extractors", ex_name], at_key=True)
                raise yamlconf.ConfigError.single(path, f"no extractor named '{ex_name}' to override",
                                                  line=line, column=col,
                                                  hint=yamlconf.did_you_mean(str(ex_name), [str(n) for n in listed]))
            _merge(listed[ex_name], changes)
    return tree


def load(path: str | Path, *, env: str | None = None) -> LoadedConfig:
    """Load and validate a pipeline config, checking referenced files exist; ``env`` applies the
    overrides of ``environments.<env>`` first."""
    path = Path(path)
    tree = yamlconf.read_yaml(path)
    if env:
        tree = apply_environment(tree, env, path)
    pipeline = yamlconf.validate(tree, PipelineConfig, path)
    loaded = LoadedConfig(path=path, pipeline=pipeline, tree=tree, env=env)
    problems: list[yamlconf.Problem] = []
    for i, ex in enumerate(pipeline.extractors):
        if not loaded.resolve_path(ex.mapping).is_file():
            line, col = yamlconf.position(tree, ["extractors", i, "mapping"])
            problems.append(yamlconf.Problem(str(path), line, col, f"mapping file not found: {ex.mapping}",
                                             "paths are relative to the config file's folder"))
    if problems:
        raise yamlconf.ConfigError(problems)
    return loaded


# the settings a Salesforce writeback target cannot run without (one of the two hosts)
_WRITEBACK_HOSTS = ("login_url", "instance_url")


def _env_names(value: Any, loc: list[str | int]) -> list[tuple[list[str | int], str]]:
    """Every ``*_env`` setting (at any depth of a tap's config) with where it is."""
    found: list[tuple[list[str | int], str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.endswith("_env") and isinstance(item, str):
                found.append(([*loc, key], item))
            else:
                found += _env_names(item, [*loc, key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _env_names(item, [*loc, i])
    return found


def check_environment(loaded: LoadedConfig, environ: Mapping[str, str] | None = None) -> None:
    """Raise ConfigError (file:line:column per problem) when something the run needs is missing:
    a ``*_env`` setting of an enabled part naming an unset variable, or a writeback switched on
    without the Salesforce connection its target needs. Run by ``crm2 validate`` and before
    ``crm2 sync`` starts, so such a config fails before anything runs, not midway."""
    environ = os.environ if environ is None else environ
    pipeline, tree, path = loaded.pipeline, loaded.tree, str(loaded.path)
    named: list[tuple[list[str | int], str]] = []
    if pipeline.store.password_env:
        named.append((["store", "password_env"], pipeline.store.password_env))
    for i, ex in enumerate(pipeline.extractors):
        if ex.enabled:
            named += _env_names(ex.config, ["extractors", i, "config"])
    problems: list[yamlconf.Problem] = []
    if pipeline.writeback.enabled:
        named += _env_names(pipeline.writeback.config, ["writeback", "config"])
        if not any(pipeline.writeback.config.get(k) for k in _WRITEBACK_HOSTS):
            line, col = yamlconf.position(tree, ["writeback", "config"], at_key=True)
            problems.append(yamlconf.Problem(
                path, line, col, "writeback is enabled but has no Salesforce connection settings",
                "add writeback.config with login_url or instance_url, auth_flow, client_id and "
                "client_secret_env, or set writeback.enabled: false"))
    for loc, name in named:
        if name not in environ:
            line, col = yamlconf.position(tree, loc)
            problems.append(yamlconf.Problem(path, line, col, f"environment variable {name} is not set",
                                             f"set {name} in the environment before running, or name another variable"))
    if problems:
        raise yamlconf.ConfigError(sorted(problems, key=lambda p: (p.line, p.column)))
