"""Per-record preparation: each record's prepared comparison values and blocking keys.

The one owner of preparation. ``engine: duckdb`` and ``engine: python`` call :func:`prepare` on
the driver a page at a time; ``engine: spark`` calls the very same function on Spark's executors,
through :func:`arrow_preparer` as ``mapInArrow`` (sync/resolve/spark.py), so the prepared values
and keys are the same on every engine by construction, not by a copy kept in step.

On Spark a record travels as an Arrow row of :func:`to_prepare_schema` — its source reference, content
hash, rid (null: new), the staged data as JSON text, and its references' golden ids as JSON text
(read from the crosswalk on the driver: they live in the store's open transaction) — and comes
back as a row of :func:`prepared_schema`: the same columns with the prepared values as JSON text and the
blocking keys as a list. The per-value memo (sync/resolve/memo.py) lives once per Python worker:
bounded LRU caches, so a worker's memory stays flat however many batches it prepares.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from sync.resolve.blocking import keys_for_many
from sync.resolve.scoring import Features, Scorer
from sync.resolve.spec import EntityRules
from sync.store.bulk import json_text

if TYPE_CHECKING:  # pyarrow only where Spark needs it: the CLI's start-up stays without it
    import pyarrow as pa

REF = ("source_system", "source_object", "source_id")


@cache
def _passed() -> list[pa.Field]:
    import pyarrow as pa

    return [pa.field("seq", pa.int64(), nullable=False), *(pa.field(n, pa.string(), nullable=False) for n in REF),
            pa.field("content_hash", pa.string(), nullable=False), pa.field("rid", pa.int64())]


@cache
def to_prepare_schema() -> pa.Schema:
    """A record to prepare: ``seq`` (the driver's reading order, kept so records are written back in
    it), the reference, content hash and rid (null: a new record), the staged data and the
    references' golden ids (``{name: golden id or null}``, null when the rules have none) as JSON."""
    import pyarrow as pa

    return pa.schema([*_passed(), pa.field("data", pa.string(), nullable=False), pa.field("refs", pa.string())])


@cache
def prepared_schema() -> pa.Schema:
    """A prepared record: ``seq``, reference, hash and rid as they came, the prepared values as JSON
    text and the blocking keys."""
    import pyarrow as pa

    return pa.schema([*_passed(), pa.field("features", pa.string(), nullable=False),
                      pa.field("keys", pa.list_(pa.string()), nullable=False)])


PREPARED_DDL = ("seq bigint, source_system string, source_object string, source_id string, content_hash string, "
                "rid bigint, features string, keys array<string>")
""":func:`prepared_schema` in Spark's words (``mapInArrow``'s output schema)."""


def prepare(scorer: Scorer, records: Sequence[Mapping[str, Any]]) -> tuple[list[Features], list[list[str]]]:
    """Prepared values (one per comparison) and sorted blocking keys of a page of records."""
    return scorer.features_many(records), keys_for_many(records, scorer.rules.blocking)


def prepare_batch(scorer: Scorer, batch: pa.RecordBatch) -> pa.RecordBatch:
    """One Arrow batch of :func:`to_prepare_schema` rows prepared into :func:`prepared_schema` rows."""
    import pyarrow as pa

    # json.loads, as the store's JSON columns are read (SQLAlchemy's default): the same dicts
    records = [json.loads(text) for text in batch.column("data").to_pylist()]
    for record, refs in zip(records, batch.column("refs").to_pylist(), strict=True):
        if refs is not None:
            record.update(json.loads(refs))
    features, keys = prepare(scorer, records)
    passed = [batch.column(f.name).cast(f.type) for f in _passed()]
    return pa.RecordBatch.from_arrays(
        [*passed, pa.array([json_text(f) for f in features], pa.string()), pa.array(keys, pa.list_(pa.string()))],
        schema=prepared_schema())


def arrow_preparer(rules: EntityRules) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """``mapInArrow``'s function: Arrow batches of records in, prepared batches out.

    It carries the rules as plain JSON and rebuilds them on the executor; what it calls is
    imported there from crm2 (installed on the executors, or the driver's interpreter in local
    mode), never pickled by value.
    """
    from sync.resolve.engine import PREPARED_FORM  # here: the engine module imports this one

    dumped, form = rules.model_dump(mode="json"), PREPARED_FORM

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from sync.resolve import engine

        # an executor with another crm2 would prepare values the driver's would not: refuse
        if form != engine.PREPARED_FORM:
            raise RuntimeError(f"this executor's crm2 prepares values in form {engine.PREPARED_FORM}, the "
                               f"driver's in form {form}: install the driver's crm2 on the executors")
        scorer = Scorer(EntityRules.model_validate(dumped))
        for batch in batches:
            yield prepare_batch(scorer, batch)
    return run
