"""Apply a compiled stream plan to one source record.

The result is always one of three things — a validated entity, a deletion, or a quarantine
reason ``{stream, source_id, field, reason}`` — and never an exception, unless a field says
``on_error: fail``. Reasons describe the problem, never the value: they are stored and shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from pydantic import ValidationError

from sync.mapping.compiler import CompiledField, CompiledStream, Param
from sync.mapping.errors import MappingFailed, TransformError
from sync.mapping.spec import map_key
from sync.mapping.transforms import Transform
from sync.model import Entity, SourceRef

_MAX_ID = 255


@dataclass(frozen=True)
class Mapped:
    entity: Entity

    @property
    def source(self) -> SourceRef:
        return self.entity.source


@dataclass(frozen=True)
class Deleted:
    source: SourceRef


@dataclass(frozen=True)
class Quarantine:
    stream: str
    source_id: str | None
    field: str | None
    reason: str

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


Result = Mapped | Deleted | Quarantine


def read_path(record: Any, path: tuple[str, ...], raw: str | None = None) -> Any:
    """The value at ``path`` ('contact.email' → record['contact']['email']); None if absent.

    A source field whose own name contains a dot is found first, so 'a.b' as one key still works.
    """
    if raw is not None and isinstance(record, dict) and raw in record:
        return record[raw]
    current = record
    for part in path:
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
        if current is None:
            return None
    return current


def field_value(spec: CompiledField, record: dict[str, Any]) -> Any:
    """The target value for one field; raises TransformError with a data-free reason."""
    return field_function(spec)(record)


FieldFunction = Callable[[dict[str, Any]], Any]


def field_function(spec: CompiledField) -> FieldFunction:
    """``spec`` as one function of the record, built once and kept on the field.

    Everything that depends only on the mapping — where the value comes from, which transforms
    run with which constant parameters, the table, the default — is decided here, once per
    field, so mapping a record runs a chain of closures instead of re-reading the plan (a 20k
    record profile spent a third of its mapping time interpreting plans, not transforming).
    """
    built = spec.__dict__.get("_function")
    if built is None:
        built = _build(spec)
        spec.__dict__["_function"] = built
    return built


def _reader(spec: CompiledField) -> FieldFunction:
    if spec.path is None:
        const = spec.const
        return lambda record: const
    path, raw = spec.path, spec.raw_path
    if len(path) == 1 and raw == path[0]:
        return lambda record: record.get(raw)
    return lambda record: read_path(record, path, raw)


def _step(transform: Transform, params: dict[str, Param]) -> Callable[[Any, dict[str, Any]], Any]:
    fn, name = transform.fn, transform.name
    const = {k: p.const for k, p in params.items() if p.path is None and p.const is not None}
    paths = [(k, p.path, p.raw_path) for k, p in params.items() if p.path is not None]

    def call(value: Any, record: dict[str, Any]) -> Any:
        kwargs = const
        if paths:
            kwargs = dict(const)
            for key, path, raw in paths:
                found = read_path(record, path, raw)
                if found is not None:
                    kwargs[key] = found
        try:
            return fn(value, **kwargs)
        except TransformError as exc:
            raise TransformError(f"{name}: {exc}") from None
        except Exception as exc:  # a library choking on odd input is bad data, not a crash
            raise TransformError(f"{name}: could not convert value ({type(exc).__name__})") from None

    return call


def _chain(steps: list[tuple[Transform, dict[str, Param]]]) -> Callable[[Any], Any] | None:
    """The transforms as one function of the value, when none takes a parameter; else None.

    Most fields are such a chain (``[strip, lower]``, ``date``, ``[null_if, email]``): calling
    each transform directly, without the keyword plumbing ``_step`` needs for parameters, is
    what a field costs per record once its reader is done. Same calls, same order, same stop
    at None, same reasons on failure.
    """
    if any(params for _, params in steps):
        return None
    fns = [(t.fn, t.name) for t, _ in steps]

    def failed(name: str, exc: Exception) -> TransformError:
        if isinstance(exc, TransformError):
            return TransformError(f"{name}: {exc}")
        return TransformError(f"{name}: could not convert value ({type(exc).__name__})")

    if len(fns) == 1:
        [(fn, name)] = fns

        def one(value: Any) -> Any:
            if value is None:
                return None
            try:
                return fn(value)
            except Exception as exc:  # a library choking on odd input is bad data, not a crash
                raise failed(name, exc) from None

        return one

    def chain(value: Any) -> Any:
        for fn, name in fns:
            if value is None:
                break
            try:
                value = fn(value)
            except Exception as exc:
                raise failed(name, exc) from None
        return value

    return chain


def _build(spec: CompiledField) -> FieldFunction:
    read = _reader(spec) if spec.expr is None else (
        _reader(spec) if spec.path is not None else (lambda record: None))
    expr = spec.expr
    steps = [_step(transform, params) for transform, params in spec.steps]
    ref, table, has_default, default, wants_text = spec.ref, spec.table, spec.has_default, spec.default, spec.wants_text
    plain = expr is None and ref is None and table is None and not has_default and not wants_text

    if plain and not steps:
        return read
    chain = _chain(spec.steps) if expr is None else None
    if plain and chain is not None:
        # only parameter-free transforms: the value through them, nothing else to decide
        def transformed(value: Any, record: dict[str, Any]) -> Any:
            return chain(value)

        return _memoised(read, transformed, spec)

    def finish(value: Any, record: dict[str, Any]) -> Any:
        if expr is not None:
            # before the transforms, so they can tidy what the expression computes
            value = expr.evaluate(record, value)
        for step in steps:
            if value is None:
                break
            value = step(value, record)
        if value is not None and ref is not None:
            if isinstance(value, dict | list | bool):
                raise TransformError(f"reference to {ref} is not an id")
            value = str(value)
            if not value:
                value = None
        if value is not None and table is not None:
            key = map_key(value) if not isinstance(value, dict | list) else None
            if key is not None and key in table:
                value = table[key]
            elif has_default:
                value = default
            else:
                raise TransformError("value not in map and no default")
        if value is None and has_default:
            value = default
        if wants_text and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            value = str(value)
        return value

    if expr is None and not any(p.path is not None for _, params in spec.steps for p in params.values()):
        return _memoised(read, finish, spec)  # the result depends on the value read alone

    def value_of(record: dict[str, Any]) -> Any:
        return finish(read(record), record)

    return value_of


_MEMO_SIZE = 4096
"""Distinct values remembered per field; the memo starts afresh when full (bounded memory)."""
_SHAREABLE = (str, int, float, bool, Decimal, date, datetime, type(None))
"""Immutable results: one object can be handed to every record with the same value."""
_MISS = object()


class _Failed(NamedTuple):
    reason: str


def _memoised(read: FieldFunction, finish: Callable[[Any, dict[str, Any]], Any],
              spec: CompiledField) -> FieldFunction:
    """``finish(read(record))`` remembered per distinct text value, failures included.

    Transforms are pure functions of the value (and of constant parameters), and source columns
    repeat: dates, currencies, statuses, countries, a customer's number on each of its invoices.
    A 100k-record ledger ran its date and currency parsers once per record; now once per value.
    Only ``str`` values are keys: equal numbers of other types (1, 1.0, True, Decimal('1.00'))
    hash alike but may map differently.
    """
    memo: dict[str, Any] = {}
    top = spec.raw_path if spec.path is not None and len(spec.path) == 1 and spec.raw_path == spec.path[0] else None

    def value_of(record: dict[str, Any]) -> Any:
        # a top-level source field is read here rather than through ``read`` (one call fewer a
        # field a record); the same ``record.get`` ``_reader`` makes for it
        value = record.get(top) if top is not None else read(record)
        if type(value) is not str:
            return finish(value, record)
        result = memo.get(value, _MISS)
        if result is _MISS:
            try:
                result = finish(value, record)
            except TransformError as exc:
                result = _Failed(str(exc))
            else:
                if not isinstance(result, _SHAREABLE):
                    return result
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[value] = result
        if type(result) is _Failed:
            raise TransformError(result.reason)
        return result

    return value_of


def _source_id(stream: CompiledStream, record: dict[str, Any]) -> tuple[str | None, Quarantine | None]:
    parts = []
    for raw, path in stream.key:
        value = read_path(record, path, raw)
        if value is None or isinstance(value, dict | list | bool) or str(value).strip() == "":
            return None, Quarantine(stream.name, None, raw, f"key field '{raw}' is missing or not a scalar")
        parts.append(str(value).strip())
    source_id = ":".join(parts)
    if len(source_id) > _MAX_ID:
        return None, Quarantine(stream.name, None, stream.key[0][0], f"key longer than {_MAX_ID} characters")
    return source_id, None


def source_key(stream: CompiledStream, record: Any) -> str | None:
    """The id ``record`` has under this plan (key fields joined with ':'), None when unusable.

    The same id :func:`apply_record` puts in the SourceRef, available without mapping the record,
    so a loader can look the record up in the crosswalk first and skip it if unchanged.
    """
    if not isinstance(record, dict):
        return None
    return _source_id(stream, record)[0]


@dataclass(frozen=True)
class _StreamPlan:
    """What applying a stream needs, computed once per stream: each field's function and where
    its value goes, and the field that owns each top-level target (for validation errors)."""

    fields: list[tuple[CompiledField, FieldFunction, tuple[str, ...], str]]
    by_target: dict[str, CompiledField]


def _plan(stream: CompiledStream) -> _StreamPlan:
    plan = stream.__dict__.get("_plan")
    if plan is None:
        fields = []
        for spec in stream.fields:
            *parents, leaf = spec.target.split(".")
            fields.append((spec, field_function(spec), tuple(parents), leaf))
        plan = _StreamPlan(fields, {f.target.split(".")[0]: f for f in stream.fields})
        stream.__dict__["_plan"] = plan
    return plan


def apply_record(stream: CompiledStream, record: Any, source_id: str | None = None) -> Result:
    """Map ``record``; ``source_id`` is its :func:`source_key` when the caller has worked it out."""
    if not isinstance(record, dict):
        return Quarantine(stream.name, None, None, "record is not an object")
    if source_id is None:
        source_id, missing = _source_id(stream, record)
        if missing:
            return missing
        assert source_id is not None
    if stream.deleted_when is not None:
        try:
            flag = field_value(stream.deleted_when, record)
            deleted = flag not in (None, False, 0, "", "false", "False", "0")
        except TransformError:
            deleted = False  # an unreadable flag is not a deletion; the fields decide the rest
        if deleted:
            return Deleted(SourceRef(system=stream.system, object=stream.name, id=source_id))
    data: dict[str, Any] = {}
    plan = _plan(stream)
    for spec, value_of, parents, leaf in plan.fields:
        try:
            value = value_of(record)
        except TransformError as exc:
            if spec.on_error == "fail":
                raise MappingFailed(stream.name, source_id, spec.target, str(exc)) from None
            if spec.on_error == "quarantine":
                return Quarantine(stream.name, source_id, spec.target, str(exc))
            value = None
        if value is not None:
            if parents:
                into = data
                for part in parents:
                    into = into.setdefault(part, {})
                into[leaf] = value
            else:
                data[leaf] = value
    # validated with the entity, in one call into pydantic's core instead of two
    data["source"] = {"system": stream.system, "object": stream.name, "id": source_id}
    by_target = plan.by_target
    for _ in range(len(stream.fields) + 1):
        try:
            return Mapped(stream.entity.model_validate(data))
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            loc = [str(p) for p in error["loc"]]
            target = ".".join(loc) if loc else None
            owner = by_target.get(loc[0]) if loc else None
            reason = "required field is missing" if error["type"] == "missing" else error["msg"]
            if owner is not None and owner.on_error == "null" and loc[0] in data:
                data.pop(loc[0])  # drop the bad value and let the entity default apply
                continue
            if owner is not None and owner.on_error == "fail":
                raise MappingFailed(stream.name, source_id, target, reason) from None
            return Quarantine(stream.name, source_id, target, reason)
    return Quarantine(stream.name, source_id, None, "record does not validate")
