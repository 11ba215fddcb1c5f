"""`crm2 migrate plan`: what a source holds and how much of it the mapping covers, before moving anything.

For each source: the tap's catalog (``--discover``), an inventory pass — a full read that asks
only for each mapped stream's key, deletion flag and replication key (Singer property
selection; singer-sdk taps honour it, so the retired system sends a fraction of the data) —
record counts per stream and per mapping entry (distinct ids, deleted at source, records
without a usable key), what crm2 already holds per object, and the mapping's coverage from
:func:`sync.mapping.check_against_catalog` (unknown fields are errors; source fields and streams
nothing maps are listed so the team decides whether they matter).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from sync.mapping import check_against_catalog
from sync.mapping.applier import field_value, source_key
from sync.mapping.compiler import CompiledStream
from sync.mapping.errors import TransformError
from sync.migrate.singer_reader import Record, replication_key, select_properties, stream_entries
from sync.migrate.sources import Source
from sync.store import Store
from sync.store.schema import crosswalk


@dataclass
class ObjectPlan:
    """One mapping entry (a crm2 source object) and what the source holds for it."""

    name: str
    stream: str
    entity: str
    records: int = 0
    """Distinct source ids."""
    deleted: int = 0
    """Of those, deleted at source (the mapping's ``deleted_when``)."""
    without_key: int = 0
    """Records whose key is missing: they will be quarantined."""
    mapped_fields: list[str] = field(default_factory=list)
    in_crm2: dict[str, int] = field(default_factory=dict)
    """Crosswalk rows by status, now."""


@dataclass
class StreamPlan:
    name: str
    records: int = 0
    mapped: bool = True
    replication_key: str | None = None
    unmapped_fields: list[str] = field(default_factory=list)


@dataclass
class SourcePlan:
    source: str
    tap: str
    streams: list[StreamPlan] = field(default_factory=list)
    objects: list[ObjectPlan] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """The mapping does not fit the catalog (file:line:column: message)."""
    warnings: list[str] = field(default_factory=list)

    @property
    def unmapped_streams(self) -> list[str]:
        return [s.name for s in self.streams if not s.mapped]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "unmapped_streams": self.unmapped_streams}


def read_fields(plan: CompiledStream) -> list[str]:
    """Top-level source fields a mapping entry reads (key, deletion flag, fields, parameters)."""
    read = [raw.split(".")[0] for raw, _ in plan.key]
    for spec in [*plan.fields, *([plan.deleted_when] if plan.deleted_when else [])]:
        read += [p.split(".")[0] for p in spec.source_fields()]
    return list(dict.fromkeys(read))


def is_deleted(plan: CompiledStream, record: Any) -> bool:
    """Whether the mapping says ``record`` was deleted at source (as the applier decides it)."""
    if plan.deleted_when is None or not isinstance(record, dict):
        return False
    try:
        flag = field_value(plan.deleted_when, record)
    except TransformError:
        return False
    return flag not in (None, False, 0, "", "false", "False", "0")


def _warnings(source: Source) -> list[str]:
    config = source.extractor.config
    found = []
    if config.get("include_deleted") is False:
        found.append("include_deleted is false: records deleted at source will not be read (set it to true "
                     "for a migration, so deletions are accounted for)")
    if config.get("start_date"):
        found.append("start_date is set: records last changed before it are not read (remove it for a "
                     "migration's full extract)")
    return found


def _in_crm2(store: Store, source: str) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    with store.engine.connect() as conn:
        for obj, status, n in conn.execute(
                sa.select(crosswalk.c.source_object, crosswalk.c.status, sa.func.count())
                .where(crosswalk.c.source_system == source)
                .group_by(crosswalk.c.source_object, crosswalk.c.status)):
            found.setdefault(obj, {})[status] = n
    return found


def plan_source(source: Source, store: Store | None = None,
                on_record: Callable[[int], None] | None = None) -> SourcePlan:
    """Discover, read keys and deletion flags, count, and check the mapping's coverage."""
    result = SourcePlan(source.name, source.extractor.tap, warnings=_warnings(source))
    catalog = source.tap.discover()
    report = check_against_catalog(source.mapping, catalog)
    result.errors = [str(p) for p in report.errors]
    entries = stream_entries(catalog)
    objects: dict[str, ObjectPlan] = {}
    wanted: dict[str, set[str]] = {}
    for name, entry in entries.items():
        plans = source.plans(name)
        read = {f for plan in plans for f in read_fields(plan)}
        unmapped = [p for p in (entry.get("schema") or {}).get("properties") or {} if p not in read] if plans else []
        result.streams.append(StreamPlan(name, mapped=bool(plans), replication_key=replication_key(entry),
                                         unmapped_fields=unmapped))
        wanted[name] = set()
        for plan in plans:
            objects[plan.name] = ObjectPlan(plan.name, name, plan.entity.entity, mapped_fields=read_fields(plan))
            wanted[name].update(raw.split(".")[0] for raw, _ in plan.key)
            if plan.deleted_when is not None:
                wanted[name].update(p.split(".")[0] for p in plan.deleted_when.source_fields())
    seen: dict[str, set[str]] = {name: set() for name in objects}
    per_stream: dict[str, int] = {}
    narrow = select_properties(catalog, wanted)
    for message in source.tap.read(narrow, on_record=on_record):
        if not isinstance(message, Record):
            continue
        per_stream[message.stream] = per_stream.get(message.stream, 0) + 1
        for plan in source.plans(message.stream):
            counts = objects[plan.name]
            sid = source_key(plan, message.record)
            if sid is None:
                counts.without_key += 1
            elif sid not in seen[plan.name]:
                seen[plan.name].add(sid)
                counts.records += 1
                counts.deleted += is_deleted(plan, message.record)
    for stream in result.streams:
        stream.records = per_stream.get(stream.name, 0)
    if store is not None:
        held = _in_crm2(store, source.name)
        for obj in objects.values():
            obj.in_crm2 = held.get(obj.name, {})
    result.objects = list(objects.values())
    return result


def summary(plans: Iterable[SourcePlan]) -> dict[str, Any]:
    """What a ``migrate-plan`` run record keeps (the console's Migration page shows it): counts per
    mapping entry, the streams nothing maps and how many mapping problems there were, no values."""
    return {"plan": {p.source: {
        "objects": {o.name: {"stream": o.stream, "records": o.records, "deleted": o.deleted,
                             "without_key": o.without_key, "in_crm2": sum(o.in_crm2.values())} for o in p.objects},
        "unmapped_streams": p.unmapped_streams, "errors": len(p.errors), "warnings": len(p.warnings)}
        for p in plans}}


def lines(plans: Iterable[SourcePlan]) -> list[str]:
    """The plan as plain text, one source after the other."""
    out: list[str] = []
    for p in plans:
        out.append(f"source {p.source} ({p.tap})")
        for w in p.warnings:
            out.append(f"  warning: {w}")
        out.append(f"  {'object':<24} {'stream':<22} {'entity':<14} {'records':>9} {'deleted':>8} "
                   f"{'no key':>7} {'in crm2':>8}")
        for o in p.objects:
            out.append(f"  {o.name:<24} {o.stream:<22} {o.entity:<14} {o.records:>9,} {o.deleted:>8,} "
                       f"{o.without_key:>7,} {sum(o.in_crm2.values()):>8,}")
        for s in p.streams:
            if not s.mapped:
                out.append(f"  stream {s.name}: {s.records:,} records, not mapped (not migrated; the archive "
                           "keeps them)")
            elif s.unmapped_fields:
                out.append(f"  stream {s.name}: fields nothing maps: {', '.join(s.unmapped_fields)}")
        for e in p.errors:
            out.append(f"  error: {e}")
    return out
