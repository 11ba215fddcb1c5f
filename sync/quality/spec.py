"""Quality checks as a data team writes them in YAML (``config/checks.yml``).

A check names an entity, a type and a severity:

* ``warn`` — the result is recorded, nothing else happens;
* ``quarantine`` — failing records are set aside (crosswalk status ``quarantined`` with the
  reason in the quarantine table) and kept out of golden records until they pass again;
* ``fail`` — the run stops before golden records change.

Record-level types judge each staged record; dataset-level types (freshness, row-count
change) judge the entity as a whole and so cannot quarantine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sync.yamlconf import ConfigError, Problem, did_you_mean, position, read_yaml, validate

Severity = Literal["warn", "quarantine", "fail"]
FORMATS = ("email", "e164", "uscc", "domain", "country", "date", "datetime")


class _Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    entity: str
    severity: Severity = "warn"
    systems: list[str] | None = Field(default=None, description="only records from these source systems")
    description: str | None = None

    @property
    def record_level(self) -> bool:
        return True


class Required(_Check):
    type: Literal["required"]
    fields: list[str] = Field(min_length=1)


class Unique(_Check):
    type: Literal["unique"]
    field: str
    per_system: bool = Field(default=True, description="unique within each source system (not across)")


class AcceptedValues(_Check):
    type: Literal["accepted_values"]
    field: str
    values: list[str | int | float | bool] = Field(min_length=1)


class Format(_Check):
    type: Literal["format"]
    field: str
    format: Literal["email", "e164", "uscc", "domain", "country", "date", "datetime"]


class Regex(_Check):
    type: Literal["regex"]
    field: str
    pattern: str


class Range(_Check):
    type: Literal["range"]
    field: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        return self


class Relationship(_Check):
    """Every record's ``field`` names an existing ``to`` record of the same source system."""

    type: Literal["relationship"]
    field: str
    to: str = Field(description="the entity referred to")


class Freshness(_Check):
    type: Literal["freshness"]
    field: str | None = Field(default=None, description="timestamp field; default: when it was staged")
    max_age_hours: float = Field(gt=0)

    @property
    def record_level(self) -> bool:
        return False


class RowCountChange(_Check):
    type: Literal["row_count_change"]
    max_change_pct: float = Field(gt=0)
    min_rows: int = Field(default=0, ge=0)

    @property
    def record_level(self) -> bool:
        return False


Check = Annotated[Required | Unique | AcceptedValues | Format | Regex | Range | Relationship | Freshness
                  | RowCountChange, Field(discriminator="type")]


class ChecksConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    checks: list[Check] = Field(default_factory=list)


def unknown_targets(path: str | Path, config: ChecksConfig, fields_of: dict[str, set[str]]) -> list[Problem]:
    """Entities and fields the checks name that the records do not have, at their position in
    the checks file. ``fields_of``: entity → its field names (dotted for nested ones)."""
    tree = read_yaml(path)
    problems: list[Problem] = []

    def problem(loc: list[str | int], message: str, hint: str | None) -> None:
        line, col = position(tree, loc)
        problems.append(Problem(str(path), line, col, message, hint))

    for i, check in enumerate(config.checks):
        known = fields_of.get(check.entity)
        if known is None:
            problem(["checks", i, "entity"], f"unknown entity '{check.entity}'",
                    did_you_mean(check.entity, sorted(fields_of)))
            continue
        named: list[tuple[str, list[str | int]]] = []
        if isinstance(check, Required):
            named = [(f, ["checks", i, "fields", j]) for j, f in enumerate(check.fields)]
        elif not isinstance(check, RowCountChange) and check.field:  # a freshness check may go by staging time
            named = [(check.field, ["checks", i, "field"])]
        for name, loc in named:
            if name not in known:
                problem(loc, f"unknown field '{name}' for entity '{check.entity}'", did_you_mean(name, sorted(known)))
        if isinstance(check, Relationship) and check.to not in fields_of:
            problem(["checks", i, "to"], f"unknown entity '{check.to}'", did_you_mean(check.to, sorted(fields_of)))
    return problems


def load_checks(path: str | Path) -> ChecksConfig:
    """Parse and validate a checks file; problems point at file:line:column."""
    import re

    tree = read_yaml(path)
    config = validate(tree, ChecksConfig, path)
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, check in enumerate(config.checks):
        if check.name in seen:
            line, col = position(tree, ["checks", i, "name"])
            problems.append(Problem(str(path), line, col, f"duplicate check name '{check.name}'",
                                    "names identify results across runs"))
        seen.add(check.name)
        if check.severity == "quarantine" and not check.record_level:
            line, col = position(tree, ["checks", i, "severity"])
            problems.append(Problem(str(path), line, col, f"a {check.type} check cannot quarantine records",
                                    "use 'warn' or 'fail'"))
        if isinstance(check, Regex):
            try:
                re.compile(check.pattern)
            except re.error as exc:
                line, col = position(tree, ["checks", i, "pattern"])
                problems.append(Problem(str(path), line, col, f"invalid regular expression: {exc}"))
    if problems:
        raise ConfigError(problems)
    return config
