"""``mappings/writeback.yml``: which tap-crm2 field goes to which Salesforce field, per object.

Parsed once into pydantic models; every mistake is reported as ``file:line:column: message
(hint)``, including the ones only the tap's SCHEMA message can reveal (a ``from`` naming a field
the stream does not have). The rest of the target sees :class:`WritebackMapping` and the
:class:`Intent` objects it makes from records: one per Salesforce record to write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from sync.writeback.values import Kind, ValueProblem, canonical, kind_from_schema
from sync.yamlconf import ConfigError, Problem, did_you_mean, position, read_yaml, validate

API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
Match = Literal["salesforce_id", "external_id"]
Mode = Literal["upsert", "update_only"]
Operation = Literal["update", "upsert"]


def _api_name(value: str) -> str:
    if not API_NAME.match(value):
        raise ValueError(f"'{value}' is not a Salesforce API name (letters, digits, underscores)")
    return value


ApiName = Annotated[str, AfterValidator(_api_name)]


class FieldSpec(BaseModel):
    """One Salesforce field: where its value comes from and how it is shaped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from", min_length=1, description="Field of the tap's record")
    type: Kind | None = Field(None, description="Value kind; default: what the tap's schema says")
    max_length: int | None = Field(None, ge=1, description="Cut longer text to this many characters")
    map: dict[str, str | None] | None = Field(None, description="Replace values, e.g. {A: 'A - Key account'}")
    triggers_write: bool = Field(True, description="false: sent along with other changes, never alone")
    only_on_create: bool = Field(False, description="true: sent only with an upsert of a record crm2 never wrote"
                                 " (e.g. the required Name of an Account it may create)")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"from": value} if isinstance(value, str) else value


class ExternalId(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    field: ApiName = Field(description="Salesforce external id field, e.g. CRM2_Golden_Id__c")
    source: str = Field(alias="from", min_length=1, description="Field of the tap's record holding the key")


class ObjectSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stream: str = Field(min_length=1, description="tap-crm2 stream feeding this object")
    ids_from: str | None = Field(None, description="Record field with the Salesforce Ids (match: salesforce_id)")
    external_id: ExternalId | None = Field(None, description="Key for match: external_id, and for creating in upsert")
    fields: dict[ApiName, FieldSpec] = Field(min_length=1)

    @field_validator("fields")
    @classmethod
    def _something_triggers(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        if not any(spec.triggers_write and not spec.only_on_create for spec in value.values()):
            raise ValueError("at least one field must have triggers_write: true, or nothing is ever written")
        return value

    @model_validator(mode="after")
    def _key_not_a_field(self) -> ObjectSpec:
        if self.external_id and self.external_id.field in self.fields:
            raise ValueError(f"'{self.external_id.field}' is the external id; do not list it under fields too")
        if not (self.ids_from or self.external_id):
            raise ValueError("set ids_from, external_id or both: otherwise no record can be matched")
        return self


class WritebackMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    objects: dict[ApiName, ObjectSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Intent:
    """What one Salesforce record should hold after the writeback, and how it is matched."""

    object: str
    operation: Operation
    key_field: str  # "Id" or the external id field
    key_value: str
    record_id: str | None  # the Salesforce Id when known
    golden_id: str | None
    values: dict[str, Any]  # canonical values of every mapped field

    @property
    def key(self) -> tuple[str, str, str]:
        return self.object, self.key_field, self.key_value


@dataclass
class MapStats:
    no_match: int = 0  # records with nothing to match a Salesforce record by (in this mode)
    bad_values: list[str] = field(default_factory=list)  # "object.field: problem" (no values)


@dataclass
class LoadedMapping:
    """The validated mapping plus the parsed tree, to point at problems found later."""

    path: Path
    spec: WritebackMapping
    tree: Any
    kinds: dict[tuple[str, str], Kind] = field(default_factory=dict)  # (object, field) -> kind

    def problem(self, loc: Sequence[str | int], message: str, hint: str | None = None) -> Problem:
        line, col = position(self.tree, loc)
        return Problem(str(self.path), line, col, message, hint)

    def objects_for(self, stream: str) -> list[str]:
        return [name for name, spec in self.spec.objects.items() if spec.stream == stream]

    def check_settings(self, *, match: Match, mode: Mode) -> None:
        """Problems between the target's match/mode settings and what each object can be matched by."""
        problems = []
        for name, spec in self.spec.objects.items():
            if match == "external_id" and spec.external_id is None:
                problems.append(self.problem(["objects", name], f"object '{name}' has no external_id",
                                             "match: external_id needs one"))
            if match == "salesforce_id" and spec.ids_from is None:
                problems.append(self.problem(["objects", name], f"object '{name}' has no ids_from",
                                             "match: salesforce_id needs the record field holding the Ids"))
        if problems:
            raise ConfigError(problems)

    def bind_schema(self, stream: str, schema: Mapping[str, Any]) -> None:
        """Check every ``from`` of the objects fed by ``stream`` against its SCHEMA; learn the kinds."""
        props: Mapping[str, Any] = schema.get("properties") or {}
        problems = []
        for name in self.objects_for(stream):
            spec = self.spec.objects[name]
            sources: list[tuple[list[str | int], str]] = [
                (["objects", name, "fields", f, "from"], fs.source) for f, fs in spec.fields.items()]
            if spec.ids_from:
                sources.append((["objects", name, "ids_from"], spec.ids_from))
            if spec.external_id:
                sources.append((["objects", name, "external_id", "from"], spec.external_id.source))
            for loc, source in sources:
                if source not in props:
                    problems.append(self.problem(loc, f"stream '{stream}' has no field '{source}'",
                                                 did_you_mean(source, sorted(props))))
            for f, fs in spec.fields.items():
                if fs.source in props:
                    self.kinds[(name, f)] = fs.type or kind_from_schema(props[fs.source])
        if problems:
            raise ConfigError(problems)

    def intents(self, stream: str, record: Mapping[str, Any], *, match: Match, mode: Mode,
                stats: MapStats) -> list[Intent]:
        """The Salesforce records one tap record should be written to, with their mapped values."""
        out: list[Intent] = []
        golden_id = record.get("golden_id")
        for name in self.objects_for(stream):
            spec = self.spec.objects[name]
            values = self._values(name, spec, record, stats)
            if values is None:
                continue
            ext_value = _text(record.get(spec.external_id.source)) if spec.external_id else None
            if match == "salesforce_id":
                ids = record.get(spec.ids_from or "") or []
                ids = [ids] if isinstance(ids, str) else [str(i) for i in ids if i]
                if ids:
                    out.extend(Intent(name, "update", "Id", i, i, golden_id, values) for i in ids)
                    continue
                if mode == "upsert" and spec.external_id and ext_value:
                    # no Salesforce record yet: upsert on the external id creates one, and a
                    # rerun finds it by the same key instead of creating a second
                    out.append(Intent(name, "upsert", spec.external_id.field, ext_value, None, golden_id, values))
                    continue
                stats.no_match += 1
                continue
            if not (spec.external_id and ext_value):
                stats.no_match += 1
                continue
            operation: Operation = "upsert" if mode == "upsert" else "update"
            out.append(Intent(name, operation, spec.external_id.field, ext_value, None, golden_id, values))
        return out

    def _values(self, name: str, spec: ObjectSpec, record: Mapping[str, Any],
                stats: MapStats) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        for f, fs in spec.fields.items():
            raw = record.get(fs.source)
            if fs.map is not None and raw is not None:
                raw = fs.map.get(str(raw), raw)
            kind = self.kinds.get((name, f), fs.type or "string")
            try:
                value = canonical(kind, raw)
            except ValueProblem as exc:
                stats.bad_values.append(f"{name}.{f}: {exc}")
                return None
            if fs.max_length and isinstance(value, str) and len(value) > fs.max_length:
                value = value[:fs.max_length - 1] + "…"
            values[f] = value
        return values

    def triggers(self, name: str) -> set[str]:
        return {f for f, fs in self.spec.objects[name].fields.items() if fs.triggers_write and not fs.only_on_create}

    def create_only(self, name: str) -> set[str]:
        return {f for f, fs in self.spec.objects[name].fields.items() if fs.only_on_create}

    def known_kind(self, name: str, field_name: str) -> Kind | None:
        """The field's kind if the mapping declares it or the stream's schema told it, else None."""
        spec = self.spec.objects.get(name)
        declared = spec.fields[field_name].type if spec and field_name in spec.fields else None
        return self.kinds.get((name, field_name)) or declared

    def kind(self, name: str, field_name: str) -> Kind:
        return self.kinds.get((name, field_name)) or self.spec.objects[name].fields[field_name].type or "string"


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def load_mapping(path: str | Path) -> LoadedMapping:
    """Read and validate the mapping file; ConfigError with file:line:column on any problem."""
    path = Path(path)
    tree = read_yaml(path)
    spec = validate(tree, WritebackMapping, path)
    return LoadedMapping(path=path, spec=spec, tree=tree)
