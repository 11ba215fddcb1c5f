"""Run the ``examples:`` blocks of a mapping file: each input record must map to what it expects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sync.mapping.applier import Deleted, Mapped, Quarantine
from sync.mapping.compiler import Mapping
from sync.mapping.errors import MappingFailed


@dataclass(frozen=True)
class ExampleResult:
    path: str
    line: int
    column: int
    stream: str
    index: int
    ok: bool
    message: str = ""
    description: str | None = None

    @property
    def name(self) -> str:
        return f"{self.stream}[{self.index}]" + (f" {self.description}" if self.description else "")

    def __str__(self) -> str:
        status = "ok" if self.ok else self.message
        return f"{self.path}:{self.line}:{self.column}: example {self.name}: {status}"


def _as_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def same(expected: Any, actual: Any) -> bool:
    """Does ``actual`` (a JSON dump of the entity) match ``expected`` (as written in YAML)?

    Dicts match on the keys given; numbers match by exact decimal value ('1234.50' == 1234.5);
    timestamps match as instants whatever their spelling ('Z' or '+00:00').
    """
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(same(v, actual.get(k)) for k, v in expected.items())
    if expected is None or actual is None or isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual or (expected == actual and type(expected) is type(actual))
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(map(same, expected, actual))
    if expected == actual:
        return True
    if isinstance(expected, int | float | Decimal) or isinstance(actual, int | float | Decimal):
        try:
            return Decimal(str(expected)) == Decimal(str(actual))
        except InvalidOperation:
            return False
    left, right = _as_time(expected), _as_time(actual)
    if left is not None and right is not None and (left.tzinfo is None) == (right.tzinfo is None):
        return left == right
    return False


def _check(mapping: Mapping, stream: str, example_index: int) -> str | None:
    """None when the example passes, else what went wrong."""
    example = mapping.spec.streams[stream].examples[example_index]
    try:
        result = mapping.apply(stream, example.input)
    except MappingFailed as exc:
        return f"mapping failed on field '{exc.field}': {exc.reason}"
    if isinstance(result, Quarantine):
        if example.quarantined is not None:
            if example.quarantined in ("", result.field):
                return None
            return f"quarantined on field '{result.field}' ({result.reason}), expected field '{example.quarantined}'"
        path = next((f.raw_path for f in mapping.streams[stream].fields if f.target == result.field), None)
        missing = path is not None and path.split(".")[0] not in (example.input or {})
        return f"quarantined: field '{result.field}': {result.reason}" + (_const_hint(path, path) if missing else "")
    if isinstance(result, Deleted):
        return None if example.deleted else "record was mapped as deleted"
    assert isinstance(result, Mapped)
    if example.quarantined is not None:
        return f"expected quarantine on field '{example.quarantined}', but the record mapped"
    if example.deleted:
        return "expected a deletion, but the record mapped"
    actual = result.entity.model_dump(mode="json", exclude={"source"})
    paths = {f.target: f.raw_path for f in mapping.streams[stream].fields}
    wrong = [f"{key}: expected {value!r}, got {_dig(actual, key)!r}" + _const_hint(paths.get(key), value)
             for key, value in (example.expect or {}).items() if not same(value, _dig(actual, key))]
    return "; ".join(wrong) or None


def _const_hint(path: str | None, expected: Any) -> str:
    """`currency: USD` reads a field named USD; expecting 'USD' back means a constant was meant."""
    if path is not None and path == expected:
        return f" (a plain string names a source field; for the text '{path}' itself write {{const: {path}}})"
    return ""


def _dig(data: dict[str, Any], key: str) -> Any:
    current: Any = data
    for part in key.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    return current


def run_examples(mapping: Mapping) -> list[ExampleResult]:
    """Every example of every stream, in file order, with pass/fail and where it is written."""
    results = []
    for stream, spec in mapping.spec.streams.items():
        if stream not in mapping.streams:
            continue
        for i, example in enumerate(spec.examples):
            line, col = mapping.position(["streams", stream, "examples", i])
            error = _check(mapping, stream, i)
            results.append(ExampleResult(str(mapping.path), line, col, stream, i, error is None, error or "",
                                         example.description))
    return results
