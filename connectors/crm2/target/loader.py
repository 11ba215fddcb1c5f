"""Load one batch of a stream's records: skip the unchanged, validate and map the rest, write.

For every plan of the mapping that reads the stream, each record ends as exactly one of:
inserted, updated, unchanged (its fingerprint is already in the crosswalk), deleted,
quarantined (with a reason), or — only after a plan failed with ``on_error: fail`` — unprocessed,
in which case the stream's bookmark is held back so the next run reads those records again.
The counts are kept per stream and plan and must add up to what was received.

A batch is written in one transaction, retried on transient database errors. When it still
fails, its records are written one at a time so a single record the store rejects (say, a NUL
character PostgreSQL cannot hold) is quarantined instead of taking the batch down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

import sqlalchemy as sa
from jsonschema import Draft202012Validator, SchemaError, validators
from jsonschema.exceptions import ValidationError, best_match
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from connectors.crm2.target.config import TargetRunError
from connectors.crm2.target.masking import masked_record
from connectors.crm2.target.writer import (
    BatchWriter,
    FingerprintedRecord,
    Known,
    Outcomes,
    Quarantined,
    Written,
    canonical,
    digest,
    fingerprint,
    known,
)
from sync.mapping import Deleted, Mapped, Mapping, MappingFailed, Quarantine
from sync.mapping.applier import source_key
from sync.mapping.compiler import CompiledStream
from sync.mapping.staging import staged_data
from sync.store import Store

log = logging.getLogger("target-crm2")

LOADER_VERSION = "2"
"""Part of every fingerprint: bump when this module maps the same input to different output."""

T = TypeVar("T")


def _crm2_version() -> str:
    try:
        return version("crm2")
    except PackageNotFoundError:
        return "dev"


@dataclass
class PlanCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    quarantined: int = 0
    unprocessed: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged + self.deleted + self.quarantined + self.unprocessed

    def add(self, written: Written) -> None:
        self.inserted += written.inserted
        self.updated += written.updated
        self.unchanged += written.unchanged
        self.deleted += written.deleted
        self.quarantined += written.quarantined


@dataclass
class StreamCounts:
    received: int = 0
    skipped: int = 0
    """Records of an unmapped stream dropped on purpose (under ``ignore:``, or ``unmapped_streams: skip``)."""
    quarantined: int = 0
    """Records quarantined before any plan saw them: unmapped stream, no valid schema."""
    plans: dict[str, PlanCounts] = field(default_factory=dict)

    @property
    def routed(self) -> int:
        return self.received - self.skipped - self.quarantined

    def problems(self, stream: str) -> list[str]:
        """Why the counts do not add up (empty when every record is accounted for)."""
        return [f"stream {stream}, plan {name}: {c.total} outcomes for {self.routed} records"
                for name, c in self.plans.items() if c.total != self.routed]

    def line(self, stream: str) -> str:
        parts = [f"stream {stream}: received {self.received}"]
        if self.skipped:
            parts.append(f"skipped {self.skipped} (no mapping)")
        if self.quarantined:
            parts.append(f"quarantined {self.quarantined} (stream level)")
        for name, c in self.plans.items():
            text = (f"{name}: inserted {c.inserted}, updated {c.updated}, unchanged {c.unchanged}, "
                    f"deleted {c.deleted}, quarantined {c.quarantined}")
            parts.append(text + (f", unprocessed {c.unprocessed}" if c.unprocessed else ""))
        return "; ".join(parts)


_SHAPE_ONLY = frozenset({
    "type", "properties", "items", "required", "format", "anyOf", "oneOf", "allOf", "additionalProperties",
    "description", "title", "default", "$schema", "$id", "$comment", "examples", "inclusion", "selected",
    "selected-by-default", "readOnly", "writeOnly", "deprecated", "contentMediaType", "contentEncoding"})
"""Keywords whose verdict depends only on a record's keys and value types (formats are not
enforced), so the verdict for one record holds for every record of the same shape."""
_MAX_SHAPES = 4096
_SCALARS = frozenset({str, int, bool, type(None), Decimal})
"""Value types whose verdict depends on the type alone (a float's depends on being whole too)."""


def _shape_only(schema: Any) -> bool:
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict) or not set(schema) <= _SHAPE_ONLY:
        return False
    for key, sub in schema.items():
        if key == "properties" and not (isinstance(sub, dict) and all(_shape_only(s) for s in sub.values())):
            return False
        if key in ("items", "additionalProperties") and not isinstance(sub, bool | list) and not _shape_only(sub):
            return False
        if key in ("anyOf", "oneOf", "allOf") and not (isinstance(sub, list) and all(_shape_only(s) for s in sub)):
            return False
    return True


def _shape(value: Any, budget: list[int]) -> Any:
    """Keys and value types of a record, nested; spends ``budget`` (below 0: too big to remember)."""
    budget[0] -= 1
    if budget[0] < 0:
        return None
    if isinstance(value, dict):
        return (dict, *((k, _shape(v, budget)) for k, v in value.items()))
    if isinstance(value, list):
        return (list, *(_shape(v, budget) for v in value))
    if isinstance(value, float):
        return (float, value.is_integer())  # 1.0 is an integer to JSON Schema, 1.5 is not
    return type(value)


class SchemaCheck:
    """A stream's JSON Schema as the tap sent it: validates records and names what is wrong.

    Reasons name the field and the rule, never the value (values are often personal data).
    Records of one stream mostly share a shape, so for schemas whose verdict depends on shape
    alone the verdict is remembered per shape and jsonschema runs once per shape, not per record.
    """

    def __init__(self, schema: dict[str, Any], *, validate: bool) -> None:
        self.digest = digest(canonical(schema), str(validate))
        self.problem: str | None = None
        self._validator: Any = None
        self._by_shape: dict[Any, tuple[str | None, str] | None] | None = {} if _shape_only(schema) else None
        if not validate:
            return
        try:
            cls = validators.validator_for(schema, default=Draft202012Validator)
            cls.check_schema(schema)
            self._validator = cls(schema)  # no format checker: like singer-sdk, formats are not enforced
        except SchemaError:
            self.problem = "the tap's schema for this stream is not valid JSON Schema"

    def check(self, record: Any) -> tuple[str | None, str] | None:
        """(field, reason) when ``record`` does not match the schema, else None."""
        if self._validator is None:
            return None
        if self._by_shape is None:
            return self._verdict(record)
        shape: Any = None
        if type(record) is dict:
            # the common case, a flat record of plain values: its shape in two C-speed tuples
            types = tuple(map(type, record.values()))
            if _SCALARS.issuperset(types):
                shape = (tuple(record), types)
        if shape is None:
            budget = [256]
            shape = _shape(record, budget)
            if budget[0] < 0:
                return self._verdict(record)
        if shape not in self._by_shape:
            if len(self._by_shape) >= _MAX_SHAPES:
                self._by_shape.clear()
            self._by_shape[shape] = self._verdict(record)
        return self._by_shape[shape]

    def _verdict(self, record: Any) -> tuple[str | None, str] | None:
        if self._validator.is_valid(record):
            return None
        error = best_match(self._validator.iter_errors(record))
        return _schema_reason(error) if error is not None else (None, "does not match the tap's schema")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float) or type(value).__name__ == "Decimal":
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _schema_reason(error: ValidationError) -> tuple[str | None, str]:
    where = ".".join(str(p) for p in error.absolute_path) or None
    rule = str(error.validator)
    if rule == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        what = f"expected {' or '.join(map(str, expected))}, got {_json_type(error.instance)}"
    elif rule == "required":
        missing = [r for r in error.validator_value if isinstance(error.instance, dict) and r not in error.instance]
        if missing:
            where = f"{where}.{missing[0]}" if where else str(missing[0])
        what = "required field is missing"
    elif rule == "enum":
        what = "not one of the allowed values"
    elif rule == "additionalProperties":
        what = "has fields the schema does not allow"
    else:
        what = f"fails the schema's '{rule}' rule"
    return where, "does not match the tap's schema: " + (f"field '{where}': " if where else "") + what


@dataclass
class Plan:
    """One mapping entry that reads the stream, with what the loader keeps about it."""

    compiled: CompiledStream
    context: str
    """Fingerprint prefix: changes when the plan, the entity model or crm2 changes."""
    failed: str | None = None

    @property
    def name(self) -> str:
        return self.compiled.name

    @property
    def key_fields(self) -> list[str]:
        return [raw.split(".")[0] for raw, _ in self.compiled.key]


def _transient(exc: BaseException) -> bool:
    """Database errors worth another try: lost connections, locks, serialisation failures."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sa.exc.OperationalError)


class Loader:
    """Everything target-crm2 does with a batch once the Singer plumbing has handed it over."""

    def __init__(self, store: Store, mapping: Mapping, *, source_system: str, run_id: str | None,
                 unmapped: str, validate: bool, mapping_name: str, retry_wait: float = 0.5) -> None:
        self.store, self.mapping, self.system, self.run_id = store, mapping, source_system, run_id
        self.unmapped, self.validate, self.mapping_name = unmapped, validate, mapping_name
        self.writer = BatchWriter(store, source_system, run_id)
        self.counts: dict[str, StreamCounts] = {}
        self.failures: dict[str, str] = {}
        """Stream → why it stopped (``on_error: fail``, or the store refused its records)."""
        self._plans: dict[str, list[Plan]] = {}
        self._reported_unmapped: set[str] = set()
        self.unmapped_streams: set[str] = set()
        """Streams the tap sent that the mapping neither maps nor lists under ``ignore:`` (exit 3)."""
        self._retry_wait = retry_wait
        crm2 = _crm2_version()
        for plan in mapping.streams.values():
            spec = plan.spec.model_dump(mode="json", by_alias=True, exclude={"examples", "description"})
            context = digest(LOADER_VERSION, crm2, source_system, plan.name, canonical(spec),
                             canonical(plan.entity.model_json_schema()))
            self._plans.setdefault(plan.source_stream, []).append(Plan(plan, context))

    def stream_counts(self, stream: str) -> StreamCounts:
        return self.counts.setdefault(stream, StreamCounts())

    def plans(self, stream: str) -> list[Plan]:
        return self._plans.get(stream, [])

    # -- the batch ------------------------------------------------------------------------------
    def load(self, stream: str, records: Sequence[Any], schema: SchemaCheck, key_properties: Sequence[str]) -> None:
        counts = self.stream_counts(stream)
        counts.received += len(records)
        plans = self.plans(stream)
        if not plans:
            self._unmapped(stream, records, key_properties, counts)
            return
        prepared: list[tuple[Plan, Outcomes, dict[str, Known], PlanCounts]] = []
        verdicts: dict[int, tuple[str | None, str] | None] = {}  # schema check per record, shared by plans
        with self.store.engine.connect() as conn:
            for plan in plans:
                plan_counts = counts.plans.setdefault(plan.name, PlanCounts())
                if plan.failed:
                    plan_counts.unprocessed += len(records)
                    continue
                outcomes, known_rows = self._prepare(conn, stream, plan, records, schema, plan_counts, verdicts)
                prepared.append((plan, outcomes, known_rows, plan_counts))
        self._write(stream, prepared)

    def _prepare(self, conn: sa.Connection, stream: str, plan: Plan, records: Sequence[Any], schema: SchemaCheck,
                 plan_counts: PlanCounts, verdicts: dict[int, tuple[str | None, str] | None],
                 ) -> tuple[Outcomes, dict[str, Known]]:
        context = plan.context + schema.digest
        entries = [(record, source_key(plan.compiled, record), fingerprint(context, record)) for record in records]
        ids = sorted({sid for _, sid, _ in entries if sid is not None})
        known_rows = known(conn, self.system, plan.name, ids)
        # Within one batch the last version of a record wins; earlier ones are superseded.
        last = {sid: i for i, (_, sid, _) in enumerate(entries) if sid is not None}
        outcomes = Outcomes()
        for i, (record, sid, fp) in enumerate(entries):
            if sid is not None and (last[sid] != i or (sid in known_rows and known_rows[sid].content_hash == fp)):
                plan_counts.unchanged += 1
                continue
            try:
                if i not in verdicts and self.validate and isinstance(record, dict):
                    verdicts[i] = schema.check(record)
                self._map_one(plan, record, sid, fp, schema, outcomes, verdicts.get(i))
            except MappingFailed as exc:
                plan.failed = f"plan {plan.name}: field '{exc.field}': {exc.reason} (on_error: fail)"
                self.failures.setdefault(stream, plan.failed)
                log.error("stream %s stopped: %s; its bookmark stays where it was", stream, plan.failed)
                plan_counts.unprocessed += len(entries) - i
                break
        return outcomes, known_rows

    def _map_one(self, plan: Plan, record: Any, sid: str | None, fp: str, schema: SchemaCheck,
                 outcomes: Outcomes, bad: tuple[str | None, str] | None) -> None:
        def quarantined(source_id: str | None, where: str | None, reason: str) -> None:
            outcomes.quarantined.append(Quarantined(source_id, where, reason, masked_record(record, plan.key_fields),
                                                    fp))

        if schema.problem:
            quarantined(sid, None, schema.problem)
            return
        if not isinstance(record, dict):
            quarantined(None, None, "record is not an object")
            return
        if bad is not None:
            quarantined(sid, bad[0], bad[1])
            return
        try:
            result = self.mapping.apply(plan.name, record, sid)
        except MappingFailed:
            raise
        except Exception as exc:  # a bug or a library choking on odd input: keep the record, say so
            quarantined(sid, None, f"the mapping raised {type(exc).__name__}")
            return
        if isinstance(result, Mapped):
            data = staged_data(result)
            outcomes.staged.append(FingerprintedRecord(self.system, plan.name, result.source.id,
                                                       plan.compiled.entity.entity, data, plain=True,
                                                       fingerprint=fp))
        elif isinstance(result, Deleted):
            outcomes.deleted.append(FingerprintedRecord(self.system, plan.name, result.source.id,
                                                        plan.compiled.entity.entity, {}, deleted=True, fingerprint=fp))
        else:
            assert isinstance(result, Quarantine)
            quarantined(result.source_id or sid, result.field, result.reason)

    # -- writing --------------------------------------------------------------------------------
    def _retrying(self, fn: Callable[[], T]) -> T:
        for attempt in Retrying(retry=retry_if_exception(_transient), stop=stop_after_attempt(3), reraise=True,
                                wait=wait_exponential(multiplier=self._retry_wait, max=self._retry_wait * 8)):
            with attempt:
                return fn()
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(self, stream: str, prepared: list[tuple[Plan, Outcomes, dict[str, Known], PlanCounts]]) -> None:
        if not any(len(outcomes) for _, outcomes, _, _ in prepared):
            return

        def whole() -> list[Written]:
            with self.store.begin() as conn:
                return [self.writer.write(conn, stream, plan.name, plan.compiled.entity.entity, outcomes, known_rows)
                        for plan, outcomes, known_rows, _ in prepared]

        try:
            results = self._retrying(whole)
        except Exception as exc:
            log.warning("stream %s: a batch could not be written (%s); writing its records one by one",
                        stream, type(exc).__name__)
            for plan, outcomes, known_rows, plan_counts in prepared:
                for single in outcomes.split():
                    plan_counts.add(self._write_single(stream, plan, single, known_rows))
            return
        for (_, _, _, plan_counts), written in zip(prepared, results, strict=True):
            plan_counts.add(written)

    def _write_single(self, stream: str, plan: Plan, single: Outcomes, known_rows: dict[str, Known]) -> Written:
        entity = plan.compiled.entity.entity
        try:
            with self.store.begin() as conn:
                return self.writer.write(conn, stream, plan.name, entity, single, known_rows)
        except Exception as exc:
            problem = type(exc).__name__
        record = next(iter(single.staged or single.deleted), None)
        if record is not None:
            reason = f"the store rejected the record ({problem})"
            rejected = Quarantined(record.source_id, None, reason, masked_record(record.data), record.fingerprint)
        else:
            original = single.quarantined[0]
            rejected = Quarantined(original.source_id, original.field,
                                   f"{original.reason}; the store rejected the masked copy ({problem})",
                                   None, original.fingerprint)
        try:
            with self.store.begin() as conn:
                return self.writer.write(conn, stream, plan.name, entity, Outcomes(quarantined=[rejected]), known_rows)
        except Exception as exc:
            raise TargetRunError(f"stream {stream}: the store refuses writes ({type(exc).__name__}); "
                                 "stopping so nothing is lost") from None

    def _unmapped(self, stream: str, records: Sequence[Any], key_properties: Sequence[str],
                  counts: StreamCounts) -> None:
        ignored = stream in self.mapping.spec.ignore  # left out on purpose: counted, not a problem
        if stream not in self._reported_unmapped:
            self._reported_unmapped.add(stream)
            if ignored:
                log.info("stream %s is under 'ignore:' in %s: skipping its records", stream, self.mapping_name)
            else:
                action = "quarantining" if self.unmapped == "quarantine" else "skipping"
                log.warning("stream %s has no mapping in %s: %s its records (list it under 'ignore:' to skip it "
                            "on purpose)", stream, self.mapping_name, action)
        if ignored:
            counts.skipped += len(records)
            return
        self.unmapped_streams.add(stream)
        if self.unmapped == "skip":
            counts.skipped += len(records)
            return
        self.quarantine_stream(stream, records, f"stream '{stream}' has no mapping in {self.mapping_name}",
                               key_properties)

    def quarantine_stream(self, stream: str, records: Sequence[Any], reason: str,
                          key_properties: Sequence[str] = (), *, count_received: bool = False) -> None:
        """Quarantine records no plan will see (unmapped stream, no valid schema, before a schema)."""
        counts = self.stream_counts(stream)
        if count_received:
            counts.received += len(records)
        items = [Quarantined(_singer_key(record, key_properties), None, reason,
                             masked_record(record, key_properties)) for record in records]

        def write() -> int:
            with self.store.begin() as conn:
                return self.writer.quarantine_unmapped(conn, stream, items)

        try:
            counts.quarantined += self._retrying(write)
        except Exception as exc:
            raise TargetRunError(f"stream {stream}: the store refuses writes ({type(exc).__name__}); "
                                 "stopping so nothing is lost") from None


def _singer_key(record: Any, key_properties: Sequence[str]) -> str | None:
    """The record's id by the tap's key properties, as text; None when any is missing."""
    if not key_properties or not isinstance(record, dict):
        return None
    parts = [record.get(k) for k in key_properties]
    if any(p is None or isinstance(p, dict | list) for p in parts):
        return None
    text = ":".join(str(p) for p in parts)
    return text if 0 < len(text) <= 255 else None
