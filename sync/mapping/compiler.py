"""Compile a validated mapping spec into fast per-stream plans, checking what pydantic cannot.

Checks here need the whole picture — the entity model, the transform registry, the expression
parser — and report with the YAML position of the offending node: unknown entity, unknown
target field, unknown transform or parameter, bad expression, ``ref`` to an unknown entity,
unknown time zone or region. All problems in a file are reported together.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sync.mapping import countries, values
from sync.mapping.entities import TYPES, build_entity, field_problems
from sync.mapping.errors import TransformError
from sync.mapping.expressions import Expression, ExpressionError, compile_expression
from sync.mapping.spec import FieldSpec, MappingSpec, StreamSpec, ValueRef
from sync.mapping.transforms import TRANSFORMS, Transform
from sync.model import ENTITIES, Entity
from sync.yamlconf import ConfigError, Problem, did_you_mean, position

if typing.TYPE_CHECKING:
    from sync.mapping.applier import Result


@dataclass(frozen=True)
class Param:
    """A transform parameter: a constant, or a path read from the same record."""

    const: Any = None
    path: tuple[str, ...] | None = None
    raw_path: str | None = None


@dataclass
class CompiledField:
    target: str
    raw_path: str | None = None
    path: tuple[str, ...] | None = None
    const: Any = None
    expr: Expression | None = None
    ref: str | None = None
    steps: list[tuple[Transform, dict[str, Param]]] = field(default_factory=list)
    table: dict[str, Any] | None = None
    default: Any = None
    has_default: bool = False
    on_error: str = "quarantine"
    wants_text: bool = False
    """The target is a text field: numbers from the source are taken as their text form."""

    def source_fields(self) -> list[str]:
        """Source fields this field reads (for the catalog check): path, params, expression names."""
        found = [self.raw_path] if self.raw_path else []
        for _, params in self.steps:
            found += [p.raw_path for p in params.values() if p.raw_path]
        if self.expr:
            found += list(self.expr.names)
        return found


@dataclass
class CompiledStream:
    name: str
    """Entry name in the file; the ``object`` of every SourceRef it produces."""
    source_stream: str
    """The Singer stream it reads (usually the same as ``name``)."""
    system: str
    entity: type[Entity]
    key: list[tuple[str, tuple[str, ...]]]
    fields: list[CompiledField]
    deleted_when: CompiledField | None
    spec: StreamSpec


@dataclass
class Mapping:
    """A loaded, checked mapping file, ready to apply to records."""

    path: Path
    spec: MappingSpec
    tree: Any
    streams: dict[str, CompiledStream]

    @property
    def source(self) -> str:
        return self.spec.source

    def position(self, loc: Sequence[str | int], *, at_key: bool = False) -> tuple[int, int]:
        return position(self.tree, loc, at_key=at_key)

    def apply(self, entry: str, record: Any, source_id: str | None = None) -> Result:
        """Map one record with the plan named ``entry``: an entity, a deletion, or a quarantine reason
        (``source_id``: the record's key under the plan, when the caller already has it)."""
        from sync.mapping.applier import apply_record

        return apply_record(self.streams[entry], record, source_id)

    def plans_for(self, stream: str) -> list[CompiledStream]:
        """The plans that read Singer stream ``stream`` (none when the mapping ignores it)."""
        return [p for p in self.streams.values() if p.source_stream == stream]

    def apply_all(self, stream: str, record: Any) -> list[Result]:
        """Map one record of Singer stream ``stream`` with every plan that reads it."""
        from sync.mapping.applier import apply_record

        return [apply_record(plan, record) for plan in self.plans_for(stream)]


def split_path(raw: str) -> tuple[str, ...]:
    return tuple(raw.split("."))


def _is_text(annotation: Any) -> bool:
    args = typing.get_args(annotation)
    return annotation is str or (str in args and not any(isinstance(a, type) and issubclass(a, BaseModel)
                                                         for a in args))


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for t in (annotation, *typing.get_args(annotation)):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


class _Compiler:
    def __init__(self, spec: MappingSpec, tree: Any, path: Path, lines: list[str]) -> None:
        self.spec, self.tree, self.path, self.lines = spec, tree, path, lines
        self.problems: list[Problem] = []
        self.entities: dict[str, type[Entity]] = dict(ENTITIES)
        """crm2's own entities and the ones this file declares (``entities:``)."""

    def problem(self, loc: Sequence[str | int], message: str, hint: str | None = None, *,
                at_key: bool = False, offset: int = 0) -> None:
        line, col = position(self.tree, loc, at_key=at_key)
        if offset:
            col = self._column_in_scalar(line, col, offset)
        self.problems.append(Problem(str(self.path), line, col, message, hint))

    def _column_in_scalar(self, line: int, col: int, offset: int) -> int:
        """Column of character ``offset`` inside a one-line scalar starting at (line, col)."""
        if not 0 < line <= len(self.lines):
            return col
        if self.lines[line - 1][col - 1:col] in ("'", '"'):
            col += 1
        return col + offset

    def compile(self) -> dict[str, CompiledStream]:
        self._declared()
        streams = {}
        for name, stream in self.spec.streams.items():
            compiled = self._stream(name, stream)
            if compiled:
                streams[name] = compiled
        if self.problems:
            raise ConfigError(self.problems)
        return streams

    def _declared(self) -> None:
        """The file's own entity types, checked and built into models like the built-in ones."""
        for name, decl in self.spec.entities.items():
            problems = field_problems(name, decl)
            for loc, message, word in problems:
                choices = list(decl.fields) if loc and loc[0] == "identified_by" else sorted(TYPES)
                self.problem(["entities", name, *loc], message, did_you_mean(word, choices) if word else None,
                             at_key=not loc or loc[0] == "fields")
            if not problems:
                self.entities[name] = build_entity(name, decl)

    def _stream(self, name: str, stream: StreamSpec) -> CompiledStream | None:
        loc: list[str | int] = ["streams", name]
        entity = self.entities.get(stream.entity)
        if entity is None:
            if stream.entity not in self.spec.entities:  # a faulty declaration was reported already
                self.problem([*loc, "entity"], f"unknown entity '{stream.entity}'",
                             did_you_mean(stream.entity, list(self.entities)))
            return None
        if not stream.key:
            self.problem([*loc, "key"], "key needs at least one source field")
        fields = []
        for target, spec in stream.fields.items():
            annotation = self._target(entity, target, [*loc, "fields", target])
            if annotation is not None:
                fields.append(self._field(target, spec, [*loc, "fields", target], _is_text(annotation)))
        deleted = (self._field("deleted_when", stream.deleted_when, [*loc, "deleted_when"], False)
                   if stream.deleted_when else None)
        return CompiledStream(name, stream.stream or name, self.spec.source, entity,
                              [(k, split_path(k)) for k in stream.key], fields, deleted, stream)

    def _target(self, entity: type[Entity], target: str, loc: list[str | int]) -> Any:
        """The annotation of target field ``target`` ('address.city' reaches into Address)."""
        model: type[BaseModel] = entity
        annotation: Any = None
        for i, part in enumerate(target.split(".")):
            choices = [f for f in model.model_fields if f != "source"]
            if part not in choices:
                what = f"entity '{entity.entity}'" if i == 0 else f"'{model.__name__}'"
                message = ("'source' is set by crm2 from the stream and key" if part == "source"
                           else f"unknown field '{part}' for {what}")
                self.problem(loc, message, None if part == "source" else did_you_mean(part, choices), at_key=True)
                return None
            annotation = model.model_fields[part].annotation
            nested = _nested_model(annotation)
            if nested is not None:
                model = nested
            elif i < len(target.split(".")) - 1:
                self.problem(loc, f"'{part}' has no nested fields", at_key=True)
                return None
        if _nested_model(annotation) is not None:
            self.problem(loc, f"'{target}' is an object; map its fields, e.g. '{target}.city'", at_key=True)
            return None
        return annotation

    def _field(self, target: str, spec: FieldSpec, loc: list[str | int], wants_text: bool) -> CompiledField:
        compiled = CompiledField(target=target, on_error=spec.on_error, wants_text=wants_text,
                                 has_default="default" in spec.model_fields_set, default=spec.default,
                                 table=spec.map, const=spec.const)
        if spec.from_ is not None:
            compiled.raw_path, compiled.path = spec.from_, split_path(spec.from_)
        if spec.expr is not None:
            try:
                compiled.expr = compile_expression(spec.expr)
            except ExpressionError as exc:
                self.problem([*loc, "expr"], exc.message, exc.hint, offset=exc.offset)
        if spec.ref is not None:
            if spec.ref not in self.entities and spec.ref not in self.spec.entities:
                self.problem([*loc, "ref"], f"'ref' to unknown entity '{spec.ref}'",
                             did_you_mean(spec.ref, list(self.entities)))
            compiled.ref = spec.ref
        shared: dict[str, Param] = {}
        if spec.default_region is not None:
            shared["default_region"] = self._param(spec.default_region, [*loc, "default_region"], region=True)
        if spec.timezone is not None:
            if not values.is_time_zone(spec.timezone):
                self.problem([*loc, "timezone"], f"unknown time zone '{spec.timezone}'",
                             "use an IANA name such as 'Asia/Shanghai' or 'UTC'")
            shared["timezone"] = Param(const=spec.timezone)
        for i, item in enumerate(spec.transform):
            step = self._transform(item, [*loc, "transform", i], shared)
            if step:
                compiled.steps.append(step)
        return compiled

    def _param(self, ref: ValueRef, loc: list[str | int], *, region: bool = False) -> Param:
        if ref.from_ is not None:
            return Param(path=split_path(ref.from_), raw_path=ref.from_)
        if region and ref.const is not None:
            try:
                countries.country_code(ref.const)
            except TransformError:
                self.problem(loc, "unknown region", "use an ISO 3166 code such as 'CN' or {from: a_country_field}")
        return Param(const=ref.const)

    def _transform(self, item: Any, loc: list[str | int],
                   shared: dict[str, Param]) -> tuple[Transform, dict[str, Param]] | None:
        given: dict[str, Any]
        if isinstance(item, str):
            name, given = item, {}
        elif isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())) or {}, dict):
            name, given = next(iter(item.items()))
            given = dict(given or {})
        else:
            self.problem(loc, "a transform is a name or {name: {parameter: value}}", "e.g. strip or {mask: {keep: 4}}")
            return None
        transform = TRANSFORMS.get(name)
        if transform is None:
            self.problem(loc, f"unknown transform '{name}'", did_you_mean(str(name), sorted(TRANSFORMS)))
            return None
        params = {k: v for k, v in shared.items() if k in transform.params}
        for key, raw in given.items():
            if key not in transform.params:
                hint = did_you_mean(str(key), list(transform.params)) if transform.params else "it takes no parameters"
                self.problem([*loc, name, key], f"unknown parameter '{key}' for transform '{name}'", hint, at_key=True)
                continue
            try:
                ref = ValueRef.model_validate(raw)
            except ValidationError:
                self.problem([*loc, name, key], f"parameter '{key}' should be a value or {{from: field}}")
                continue
            expected = transform.params[key]
            if ref.from_ is None and ref.const is not None and not isinstance(ref.const, expected):
                self.problem([*loc, name, key], f"parameter '{key}' of '{name}' should be {expected.__name__}")
                continue
            params[key] = self._param(ref, [*loc, name, key], region=key == "default_region")
        if name in ("datetime", "date") and "timezone" in given and params["timezone"].path is None \
                and not values.is_time_zone(str(params["timezone"].const)):
            self.problem(loc, f"unknown time zone '{params['timezone'].const}'", "use an IANA name such as 'UTC'")
        if transform.check is not None:  # the transform's own load-time check of its constant parameters
            problem = transform.check({k: p.const for k, p in params.items() if p.path is None})
            if problem:
                self.problem(loc, problem)
        return transform, params


def compile_mapping(spec: MappingSpec, tree: Any, path: str | Path = "<string>", text: str = "") -> Mapping:
    """Check ``spec`` (validated from ``tree``) and build its plans; raise ConfigError if wrong."""
    path = Path(path)
    streams = _Compiler(spec, tree, path, text.splitlines()).compile()
    return Mapping(path, spec, tree, streams)
