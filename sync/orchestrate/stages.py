"""The stages after extraction — quality checks, entity resolution, enrichment — run on the store.

Each stage is idempotent and incremental on its own (checks re-evaluate, resolve touches only
changed records, enrich writes only changed scores), so a run killed anywhere is finished by the
next one. A check with severity ``fail`` stops the run before golden records change.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from sync.orchestrate.config import LoadedConfig, ResolveToggle
from sync.shipped import DEFAULT_RULES
from sync.store import Store

if TYPE_CHECKING:
    from sync.enrich import ScoringRules
    from sync.model import Entity
    from sync.quality import ChecksConfig
    from sync.resolve import MatchConfig

log = logging.getLogger(__name__)


class StageStatus(StrEnum):
    OK = "ok"
    PARTIAL = "partial"
    """Finished, but some records were quarantined or rejected (the run exits 3)."""
    FAILED = "failed"
    SKIPPED = "skipped"
    UNAVAILABLE = "unavailable"
    """The stage's program is not installed."""


@dataclass
class StageReport:
    name: str
    status: StageStatus
    detail: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float | None = None  # wall time from the stage's start to its report; None when skipped

    def __post_init__(self) -> None:
        self.status = StageStatus(self.status)  # a status nobody documented is a bug, found here


def load_rules(loaded: LoadedConfig) -> dict[str, Any]:
    """Parse the rule file of every enabled stage (and the writeback mapping) up front, so a bad
    file stops the run before it starts (ConfigError with file:line:column). A stage without
    ``rules:`` uses the shipped file."""
    from sync.enrich import load_rules as load_scoring
    from sync.quality import load_checks
    from sync.resolve import load_match_config

    loaders: dict[str, Callable[[Path], Any]] = {"checks": load_checks, "resolve": load_match_config,
                                                 "enrich": load_scoring}
    parsed: dict[str, Any] = {}
    for stage, loader in loaders.items():
        if getattr(loaded.pipeline, stage).enabled:
            parsed[stage] = loader(rules_path(loaded, stage))
    if loaded.pipeline.writeback.enabled:
        from sync.writeback.mapping import load_mapping
        from sync.writeback.stage import mapping_path

        parsed["writeback"] = load_mapping(mapping_path(loaded))
    return parsed


def rules_path(loaded: LoadedConfig, stage: str) -> Path:
    """The rule file a stage reads: the config's ``rules:``, or the shipped one."""
    toggle = getattr(loaded.pipeline, stage)
    return loaded.resolve_path(toggle.rules) if toggle.rules else DEFAULT_RULES[stage]


def field_names(model: type[BaseModel], prefix: str = "") -> set[str]:
    """An entity's field names as rules and checks write them: dotted for nested ones."""
    out = set()
    for name, info in model.model_fields.items():
        out.add(prefix + name)
        for t in (info.annotation, *typing.get_args(info.annotation)):
            if isinstance(t, type) and issubclass(t, BaseModel):
                out |= field_names(t, f"{prefix}{name}.")
    return out - {"source"}


def mapped_entities(loaded: LoadedConfig) -> dict[str, type[Entity]]:
    """The entities the pipeline's mappings produce records of, crm2's own or declared in a
    mapping (``entities:``), by name. The one place that knows a declared entity outside target-crm2."""
    from sync.mapping import load_mapping

    found: dict[str, type[Entity]] = {}
    for ex in loaded.pipeline.extractors:
        for plan in load_mapping(loaded.resolve_path(ex.mapping)).streams.values():
            found[plan.entity.entity] = plan.entity
    return found


def known_entities(loaded: LoadedConfig) -> dict[str, type[Entity]]:
    """crm2's own entities and the ones the pipeline's mappings declare."""
    from sync.model import ENTITIES

    return {**ENTITIES, **mapped_entities(loaded)}


def check_rule_fields(loaded: LoadedConfig, rules: MatchConfig) -> None:
    """The match rules compare fields the pipeline's mappings give their entities (crm2's own or
    declared in a mapping): ConfigError at the rules file's position otherwise. For `crm2 validate`."""
    from sync.errors import ConfigError
    from sync.resolve.spec import unknown_fields

    fields_of = {name: field_names(model) for name, model in mapped_entities(loaded).items()}
    problems = unknown_fields(rules_path(loaded, "resolve"), rules, fields_of)
    if problems:
        raise ConfigError(problems)


def check_check_targets(loaded: LoadedConfig, checks: ChecksConfig) -> None:
    """The checks name entities and fields that exist (crm2's own, or declared in one of the
    pipeline's mappings): ConfigError at the checks file's position otherwise. A typo there made a
    check judge empty values, or nothing at all. For `crm2 validate`."""
    from sync.errors import ConfigError
    from sync.quality.spec import unknown_targets

    fields_of = {name: field_names(model) for name, model in known_entities(loaded).items()}
    problems = unknown_targets(rules_path(loaded, "checks"), checks, fields_of)
    if problems:
        raise ConfigError(problems)


def checks(store: Store, rules: ChecksConfig, run_id: str) -> StageReport:
    from sync.quality import run_checks

    result = run_checks(store, run_id, rules)
    failed = [r.check for r in result.results if not r.passed]
    counts = {"checks": len(result.results), "not_passed": len(failed), "quarantined": result.quarantined,
              "released": result.released, "evaluated": result.evaluated, "carried_over": result.carried_over}
    if result.failed:
        blocking = [r.check for r in result.results if r.severity == "fail" and not r.passed]
        return StageReport("checks", StageStatus.FAILED, "failing checks stop the run: " + ", ".join(blocking), counts)
    detail = (f"{len(result.results) - len(failed)}/{len(result.results)} passed; {result.evaluated:,} record "
              f"verdicts judged, {result.carried_over:,} unchanged carried over")
    if result.quarantined:
        detail += f", {result.quarantined} records quarantined"
    return StageReport("checks", StageStatus.OK, detail, counts)


def resolve(store: Store, rules: MatchConfig, run_id: str, settings: ResolveToggle | None = None,
            place: Callable[[Path], Path] = Path) -> StageReport:
    """``settings``: the pipeline config's ``resolve`` section (engine, Spark master and settings);
    ``place`` resolves a path in it (relative to the config file)."""
    from sync.resolve import resolve_all

    engine = settings.engine if settings else None
    if settings and engine == "spark":  # the session is made on first use, with the configured master and settings
        from sync.resolve import spark

        exchange = place(settings.spark.exchange) if settings.spark.exchange else None
        spark.configure(settings.spark.master, settings.spark.settings, exchange)
    results = resolve_all(store, rules, run_id, engine=engine)
    counts = {f"{r.entity}_{k}": v for r in results for k, v in
              (("golden", r.golden), ("changed", r.changed), ("merges", r.merges), ("reviews", r.reviews))}
    detail = ", ".join(f"{r.golden:,} golden {r.entity}s ({r.changed:,} changed, {r.reviews:,} to review)"
                       for r in results)
    return StageReport("resolve", StageStatus.OK, detail, counts)


def enrich(store: Store, rules: ScoringRules, run_id: str, as_of: date | None = None) -> StageReport:
    from sync.enrich.store_io import enrich_store

    as_of = as_of or datetime.now(UTC).date()
    summary = enrich_store(store.engine, rules, as_of, run_id)
    counts = {"customers": summary.customers, "updated": summary.written.updated,
              "unchanged": summary.written.unchanged, "rescored": summary.rescored,
              "not_rescored": summary.not_rescored, **{f"tier_{t}": n for t, n in summary.tiers.items()}}
    tiers = " ".join(f"{t}={n:,}" for t, n in sorted(summary.tiers.items()))
    detail = (f"{summary.customers:,} customers scored as of {as_of} ({tiers}); {summary.written.updated:,} changed; "
              f"{summary.rescored:,} re-scored, {summary.not_rescored:,} skipped ({summary.why})")
    return StageReport("enrich", StageStatus.OK, detail, counts)
