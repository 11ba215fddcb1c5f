"""Apply a compiled stream plan to one source record.

The result is always one of three things — a validated entity, a deletion, or a quarantine
reason ``{stream, source_id, field, reason}`` — and never an exception, unless a field says
``on_error: fail``. Reasons describe the problem, never the value: they are stored and shown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from sync.mapping.compiler import CompiledField, CompiledStream, Param
from sync.mapping.errors import MappingFailed, TransformError
from sync.mapping.spec import map_key
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


def _resolve(params: dict[str, Param], record: dict[str, Any]) -> dict[str, Any]:
    resolved = {}
    for name, param in params.items():
        value = param.const if param.path is None else read_path(record, param.path, param.raw_path)
        if value is not None:
            resolved[name] = value
    return resolved


def field_value(spec: CompiledField, record: dict[str, Any]) -> Any:
    """The target value for one field; raises TransformError with a data-free reason."""
    value = spec.const if spec.path is None and spec.expr is None else (
        read_path(record, spec.path, spec.raw_path) if spec.path is not None else None)
    if spec.expr is not None:
        # before the transforms, so they can tidy what the expression computes
        value = spec.expr.evaluate(record, value)
    for transform, params in spec.steps:
        if value is None:
            break
        try:
            value = transform(value, **_resolve(params, record))
        except TransformError as exc:
            raise TransformError(f"{transform.name}: {exc}") from None
        except Exception as exc:  # a library choking on odd input is bad data, not a crash
            raise TransformError(f"{transform.name}: could not convert value ({type(exc).__name__})") from None
    if value is not None and spec.ref is not None:
        if isinstance(value, dict | list | bool):
            raise TransformError(f"reference to {spec.ref} is not an id")
        value = str(value)
        if not value:
            value = None
    if value is not None and spec.table is not None:
        key = map_key(value) if not isinstance(value, dict | list) else None
        if key is not None and key in spec.table:
            value = spec.table[key]
        elif spec.has_default:
            value = spec.default
        else:
            raise TransformError("value not in map and no default")
    if value is None and spec.has_default:
        value = spec.default
    if spec.wants_text and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        value = str(value)
    return value


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


def _set(data: dict[str, Any], target: str, value: Any) -> None:
    *parents, leaf = target.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value


def apply_record(stream: CompiledStream, record: Any) -> Result:
    if not isinstance(record, dict):
        return Quarantine(stream.name, None, None, "record is not an object")
    source_id, missing = _source_id(stream, record)
    if missing:
        return missing
    source = SourceRef(system=stream.system, object=stream.name, id=source_id)
    if stream.deleted_when is not None:
        try:
            flag = field_value(stream.deleted_when, record)
            deleted = flag not in (None, False, 0, "", "false", "False", "0")
        except TransformError:
            deleted = False  # an unreadable flag is not a deletion; the fields decide the rest
        if deleted:
            return Deleted(source)
    data: dict[str, Any] = {}
    by_target = {f.target.split(".")[0]: f for f in stream.fields}
    for spec in stream.fields:
        try:
            value = field_value(spec, record)
        except TransformError as exc:
            if spec.on_error == "fail":
                raise MappingFailed(stream.name, source_id, spec.target, str(exc)) from None
            if spec.on_error == "quarantine":
                return Quarantine(stream.name, source_id, spec.target, str(exc))
            value = None
        if value is not None:
            _set(data, spec.target, value)
    data["source"] = source
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
