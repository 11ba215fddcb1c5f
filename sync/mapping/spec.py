"""The mapping file format as pydantic models: what a data team may write, and nothing else.

A mapping file names its source system and, per Singer stream, the target entity, the key, the
fields and runnable examples. Shorthands keep files short: a field given as a string is a
source path (``name: Name``), any other scalar is a constant (``complaint: true``), and a single
transform may be written without a list. Semantic checks (known entities, transforms, target
fields, expression syntax) happen in :mod:`sync.mapping.compiler`, where YAML positions are at
hand.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from sync.mapping.entities import EntityDecl

OnError = Literal["quarantine", "null", "fail"]

_SCALAR_SCHEMA = {"type": ["string", "number", "integer", "boolean", "null"]}
TransformItem = Annotated[Any, WithJsonSchema({
    "anyOf": [
        {"type": "string", "description": "transform name, e.g. strip"},
        {"type": "object", "minProperties": 1, "maxProperties": 1,
         "additionalProperties": {"type": "object"},
         "description": "transform with parameters, e.g. {mask: {keep: 4}}"},
    ]})]


def plain(value: Any, *, dates_as_text: bool = False) -> Any:
    """ruamel's node types as plain Python values (and dates as ISO text, as Singer sends them)."""
    if isinstance(value, dict):
        return {str(k): plain(v, dates_as_text=dates_as_text) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, dates_as_text=dates_as_text) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                         value.microsecond, value.tzinfo)
        return value.isoformat() if dates_as_text else value
    if isinstance(value, date):
        value = date(value.year, value.month, value.day)
        return value.isoformat() if dates_as_text else value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Decimal):
        return value
    return str(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ValueRef(_Strict):
    """A parameter that is either a constant or read from another field of the same record."""

    from_: str | None = Field(default=None, alias="from", description="source field to read the value from")
    const: Any = Field(default=None, description="a fixed value")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return data if isinstance(data, dict) else {"const": plain(data)}


_VALUE_REF_SCHEMA = WithJsonSchema({"anyOf": [
    _SCALAR_SCHEMA,
    {"type": "object", "properties": {"from": {"type": "string"}}, "required": ["from"],
     "additionalProperties": False}]})


class FieldSpec(_Strict):
    """How one target field gets its value: a source path, a constant or an expression, then
    transforms, a value table and a default."""

    from_: str | None = Field(default=None, alias="from",
                              description="source field; dots reach into objects (contact.email)")
    const: Any = Field(default=None, description="a constant value")
    expr: str | None = Field(default=None, description="a safe Python-like expression over the record's fields;"
                             " 'value' is the value read by 'from'; transforms apply to the result")
    ref: str | None = Field(default=None, description="entity this field refers to; the value is that record's"
                            " source id in the same system")
    transform: list[TransformItem] = Field(default_factory=list, description="transforms applied in order")
    map: dict[str, Any] | None = Field(default=None, description="value table applied after transforms")
    default: Any = Field(default=None, description="used when the value is missing or null (and for map misses)")
    default_region: Annotated[ValueRef, _VALUE_REF_SCHEMA] | None = Field(
        default=None, description="region for phone_e164: an ISO code, a country name, or {from: field}")
    timezone: str | None = Field(default=None, description="time zone for date/datetime values without one")
    on_error: OnError = Field(default="quarantine", description="bad value: quarantine the record, use null,"
                              " or fail the run")
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"from": data}
        if not isinstance(data, dict):
            return {"const": plain(data)}
        data = dict(data)
        if isinstance(data.get("transform"), str):
            data["transform"] = [data["transform"]]
        if isinstance(data.get("map"), dict):
            data["map"] = {map_key(k): plain(v) for k, v in data["map"].items()}
        for key in ("const", "default"):
            if key in data:
                data[key] = plain(data[key])
        return data

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = [k for k in ("from_", "const", "expr") if k in self.model_fields_set]
        if not given:
            raise ValueError("give 'from', 'const' or 'expr'")
        if "const" in given and len(given) > 1:
            raise ValueError("'const' cannot be combined with 'from' or 'expr'")
        if self.ref and not self.from_:
            raise ValueError("'ref' needs 'from' (the field holding the referenced record's id)")
        return self


def map_key(key: Any) -> str:
    """Value-table keys compare as text, so YAML's `1:` or `true:` match "1" and True alike."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(plain(key, dates_as_text=True))


class Example(_Strict):
    """A runnable test: a source record and what the mapping must make of it."""

    input: dict[str, Any] = Field(description="a source record as the tap emits it")
    expect: dict[str, Any] | None = Field(default=None, description="expected target fields (others are not checked)")
    quarantined: str | None = Field(default=None, description="expect quarantine because of this target field")
    deleted: bool = Field(default=False, description="expect the record to be marked deleted")
    description: str | None = None

    @field_validator("input", "expect", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return plain(value, dates_as_text=True) if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _one_outcome(self) -> Example:
        if self.expect is None and self.quarantined is None and not self.deleted:
            raise ValueError("give 'expect', 'quarantined' or 'deleted: true'")
        return self


class StreamSpec(_Strict):
    """One Singer stream mapped into one entity."""

    stream: str | None = Field(default=None, description="Singer stream to read when it differs from this entry's"
                               " name: lets one stream feed two entities (accounts → customer and contact)")
    entity: str = Field(description="target entity: customer, contact, deal, order, invoice, payment,"
                        " interaction, service_case, survey, or one declared under 'entities:'")
    key: Annotated[list[str], WithJsonSchema({"anyOf": [{"type": "string"},
                                                        {"type": "array", "items": {"type": "string"}}]})] = Field(
        description="source field(s) holding the record's id; several are joined with ':'")
    deleted_when: FieldSpec | None = Field(
        default=None, description="the record is a deletion when this is true (e.g. IsDeleted)")
    fields: dict[str, FieldSpec] = Field(
        description="target field → how to fill it; 'address.city' reaches into nested target fields")
    examples: list[Example] = Field(default_factory=list)
    description: str | None = None

    @field_validator("key", mode="before")
    @classmethod
    def _one_key(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class MappingSpec(_Strict):
    """A mapping file: how one source system's streams become crm2 entities."""

    source: str = Field(min_length=1, description="source system name, e.g. salesforce")
    description: str | None = None
    entities: dict[str, EntityDecl] = Field(
        default_factory=dict, description="entity types this file declares for its streams, besides crm2's own "
                                          "(customer, contact …): name → fields with types")
    streams: dict[str, StreamSpec] = Field(description="Singer stream name (or an entry name with 'stream:')"
                                           " → its mapping; the name is the source object in SourceRef")
    ignore: list[str] = Field(default_factory=list,
                              description="streams the tap sends that this mapping leaves out on purpose: their "
                                          "records are counted as skipped; any other unmapped stream makes the "
                                          "run exit 3")
