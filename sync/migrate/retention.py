"""Retention policy (``config/retention.yml``): which data is personal, and when it must go.

Parsed once into pydantic models; every problem is reported as ``file:line:column: message
(hint)``. The policy names

* ``personal.entities`` — fields of crm2's entities that hold personal data (``contact:
  [first_name, last_name, email, phone, title]``): they are replaced in staged and golden records;
* ``personal.sources`` — raw fields per source system and stream (``salesforce: {Contact:
  [FirstName, Email, ...]}``, dotted paths for nested fields): they are replaced in archived raw
  records and in quarantined copies;
* ``rules`` — which records to erase on a schedule: an ``entity``, criteria (the record's own
  date field older than N days; the lifecycle stage of the customer it belongs to) and an
  ``action``: ``anonymise`` (values become irreversible ``erased:`` tokens, the record and its
  counts stay) or ``delete`` (the record goes; its crosswalk row says ``erased``).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sync.model import ENTITIES, Entity, LifecycleStage
from sync.yamlconf import ConfigError, Problem, did_you_mean, position, read_yaml, validate

Action = Literal["anonymise", "delete"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonalData(_Strict):
    entities: dict[str, list[str]] = Field(default_factory=dict,
                                           description="entity → fields holding personal data")
    sources: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict, description="source system → stream → raw fields holding personal data")


class OlderThan(_Strict):
    field: str = Field(description="a date or datetime field of the entity, e.g. updated_at")
    days: int = Field(ge=0)


class Rule(_Strict):
    name: str = Field(min_length=1)
    description: str | None = None
    entity: str
    older_than: OlderThan | None = None
    customer_stage: list[LifecycleStage] | None = Field(
        default=None, min_length=1,
        description="the lifecycle stage of the customer the record belongs to (a customer's own, for customers)")
    action: Action = "anonymise"


class RetentionPolicy(_Strict):
    version: Literal[1] = 1
    personal: PersonalData = Field(default_factory=PersonalData)
    rules: list[Rule] = Field(default_factory=list)

    def entity_fields(self, entity: str) -> list[str]:
        return self.personal.entities.get(entity, [])

    def source_fields(self, system: str, stream: str) -> list[str]:
        return self.personal.sources.get(system, {}).get(stream, [])


def _fields_of(entity: type[Entity]) -> dict[str, type | None]:
    """Top-level field → its nested model (for dotted paths), None for plain values."""
    found: dict[str, type | None] = {}
    for name, info in entity.model_fields.items():
        if name == "source":
            continue
        nested = None
        for arg in (info.annotation, *typing.get_args(info.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                nested = arg
        found[name] = nested
    return found


def _check_path(entity: type[Entity], path: str) -> str | None:
    """Why ``path`` is not a field of ``entity`` (None when it is)."""
    head, _, rest = path.partition(".")
    fields = _fields_of(entity)
    if head not in fields:
        return f"{entity.entity} has no field '{head}'"
    nested = fields[head]
    if rest and (nested is None or rest.split(".")[0] not in nested.model_fields):  # type: ignore[attr-defined]
        return f"{entity.entity}.{head} has no field '{rest}'"
    return None


def load_policy(path: str | Path, entities: Mapping[str, type[Entity]] | None = None) -> RetentionPolicy:
    """Read and check a retention policy; ConfigError with every problem, positioned.

    ``entities``: the entity types it may name (default: crm2's own; the erase command adds the
    ones the pipeline's mappings declare, so a data team's ``person`` can have a policy too)."""
    path = Path(path)
    known = ENTITIES if entities is None else entities
    tree = read_yaml(path)
    policy = validate(tree, RetentionPolicy, path)
    problems: list[Problem] = []

    def problem(loc: list[str | int], message: str, hint: str | None = None, at_key: bool = False) -> None:
        line, col = position(tree, loc, at_key=at_key)
        problems.append(Problem(str(path), line, col, message, hint))

    for entity, fields in policy.personal.entities.items():
        loc: list[str | int] = ["personal", "entities", entity]
        if entity not in known:
            problem(loc, f"unknown entity '{entity}'", did_you_mean(entity, list(known)), at_key=True)
            continue
        for i, name in enumerate(fields):
            why = _check_path(known[entity], name)
            if why:
                problem([*loc, i], why, did_you_mean(name.split(".")[0], list(_fields_of(known[entity]))))
    seen: set[str] = set()
    for i, rule in enumerate(policy.rules):
        loc = ["rules", i]
        if rule.name in seen:
            problem([*loc, "name"], f"duplicate rule name '{rule.name}'")
        seen.add(rule.name)
        if rule.entity not in known:
            problem([*loc, "entity"], f"unknown entity '{rule.entity}'", did_you_mean(rule.entity, list(known)))
            continue
        if rule.older_than is None and rule.customer_stage is None:
            problem(loc, f"rule '{rule.name}' selects nothing", "give older_than, customer_stage or both")
        if rule.older_than is not None:
            why = _check_path(known[rule.entity], rule.older_than.field)
            if why:
                problem([*loc, "older_than", "field"], why,
                        did_you_mean(rule.older_than.field, list(_fields_of(known[rule.entity]))))
        if (rule.customer_stage is not None and rule.entity != "customer"
                and "customer" not in _fields_of(known[rule.entity])):
            problem([*loc, "customer_stage"], f"{rule.entity} records do not belong to a customer")
    if problems:
        raise ConfigError(problems)
    return policy
