"""Entity types a data team declares in its own mapping file, next to the built-in ones.

crm2's own entities (customer, contact, order …) are pydantic models in :mod:`sync.model`. A
data team bringing another kind of record — people from a registry, patients, parcels — writes
its type in the mapping's ``entities:`` block instead of code::

    entities:
      person:
        fields:
          given_name: text
          surname: {type: text, required: true}
          date_of_birth: text
          soc_sec_id: text

Each declaration becomes a pydantic model derived from :class:`sync.model.Entity` once, when the
file is loaded, so everything downstream (the mapping compiler's field checks, the applier's
validation and quarantine reasons, target-crm2's staging, resolve) treats it like a built-in
entity. Names and types are checked with the file's YAML positions in the compiler.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from sync.model import Entity

TYPES: dict[str, Any] = {
    "text": str,
    "integer": int,
    "number": float,
    "decimal": Decimal,
    "boolean": bool,
    "date": date,
    "datetime": datetime,
}
"""Field types a declared entity may use, by the name written in YAML."""

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class DeclaredField(BaseModel):
    """One field of a declared entity: its type, and whether every record must have it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(default="text", description="text, integer, number, decimal, boolean, date or datetime")
    required: bool = Field(default=False, description="a record without a value is quarantined")
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # `given_name: text` reads better than `given_name: {type: text}`
        return {"type": data} if isinstance(data, str) else data


class EntityDecl(BaseModel):
    """A data team's own entity type: its fields, and which of them identify a record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: dict[str, DeclaredField] = Field(min_length=1, description="field name → type (or {type, required})")
    identified_by: list[str] = Field(
        default_factory=list, description="fields that identify a record: one of them at least must have a value, "
                                          "or the record is quarantined (a person with no name and no id)")
    description: str | None = None


def field_problems(name: str, decl: EntityDecl) -> list[tuple[list[str | int], str, str | None]]:
    """What is wrong with a declaration, as (location under the entity, message, choices) —
    the compiler turns them into positioned problems."""
    import re

    from sync.model import ENTITIES

    out: list[tuple[list[str | int], str, str | None]] = []
    if name in ENTITIES:
        out.append(([], f"'{name}' is one of crm2's own entities; declare another name", None))
    elif not re.match(NAME_PATTERN, name):
        out.append(([], f"entity name '{name}' should be lower case letters, digits and _", None))
    for field, spec in decl.fields.items():
        if field == "source":
            out.append((["fields", field], "'source' is set by crm2 from the stream and key", None))
        elif not re.match(NAME_PATTERN, field):
            out.append((["fields", field], f"field name '{field}' should be lower case letters, digits and _", None))
        if spec.type not in TYPES:
            out.append((["fields", field], f"unknown field type '{spec.type}'", spec.type))
    for i, field in enumerate(decl.identified_by):
        if field not in decl.fields:
            out.append((["identified_by", i], f"'{field}' is not a field of '{name}'", field))
    return out


def build_entity(name: str, decl: EntityDecl) -> type[Entity]:
    """The pydantic model for a (checked) declaration: an :class:`Entity` like the built-in ones."""
    fields: dict[str, Any] = {}
    for field, spec in decl.fields.items():
        kind = TYPES[spec.type]
        if spec.required:
            fields[field] = (kind, Field(min_length=1) if kind is str else ...)
        else:
            fields[field] = (kind | None, None)
    identified_by = tuple(decl.identified_by)

    def _identified(self: Entity) -> Entity:
        if identified_by and all(getattr(self, f) in (None, "") for f in identified_by):
            raise ValueError(f"no identifying field ({', '.join(identified_by)}) has a value")
        return self

    validators: dict[str, Any] | None = (
        {"_identified": model_validator(mode="after")(_identified)} if identified_by else None)
    model = create_model(
        f"Declared_{name}", __base__=Entity, __module__=__name__, __validators__=validators,
        __doc__=decl.description or f"Entity type '{name}' declared in a mapping file.", **fields)
    model.entity = name
    return model  # type: ignore[no-any-return]
