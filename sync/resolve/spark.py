"""``resolve.engine: spark`` — the DuckDB plan (sync/resolve/duck.py) on Apache Spark.

The same three inputs (blocking keys, changed records, prepared values as JSON text) are handed
over to Spark as Parquet files and the same SQL, in Spark's dialect, finds the candidates and scores
them; Spark writes the pairs it keeps as Parquet, which are read back a batch at a time. Nothing
the size of the entity is held in the driver's memory or shipped through it. The files live in a
private temporary folder under ``exchange`` (default: this machine's temporary folder, enough for
``local[N]``; a cluster needs a folder every executor can reach). The inputs are read from the
store on the driver's own connection, because resolve prepares them in the same uncommitted
transaction it scores them in: a JDBC reader would not see them.

Preparation runs there too (:func:`prepare`): the records to prepare are handed over the same way,
prepared on the executors by ``mapInArrow`` of the driver's own preparation function
(sync/resolve/prepare.py), and read back a batch at a time for the store's writes.

Spark has no Jaro-Winkler and none of rapidfuzz's token ratios: they are vectorised pandas UDFs
(Arrow batches, rapidfuzz ``cpdist`` in C++), the same scorers DuckDB's functions call, so both
engines decide the same (tests/sync/test_resolve_spark.py).

One session per process, ``local[2]`` unless ``master`` says otherwise; settings from the
pipeline config's ``resolve.spark`` (e.g. ``spark.executor.memory``). Needs Java 17+ and the
``spark`` extra (``pip install crm2[spark]``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from sync.resolve import duck
from sync.resolve.spec import EntityRules

DEFAULTS = {
    "spark.sql.shuffle.partitions": "2",  # small local data: 200 shuffle tasks would be pure overhead
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
}
_session: Any = None
_exchange: Path | None = None
_configured: tuple[str | None, Mapping[str, str] | None] = (None, None)


def configure(master: str | None = None, settings: Mapping[str, str] | None = None,
              exchange: Path | None = None) -> None:
    """What the session is made with when a run first needs it: a run with nothing to score
    (an unchanged re-run) never starts a JVM."""
    global _configured, _exchange
    _configured = (master, settings)
    if exchange is not None:
        _exchange = exchange


def _scorer(name: str) -> Callable[..., float]:
    from rapidfuzz import fuzz
    from rapidfuzz.distance import Indel, JaroWinkler

    scorers: dict[str, Callable[..., float]] = {
        "crm2_jaro_winkler": JaroWinkler.similarity, "crm2_ratio": fuzz.ratio,
        "crm2_token_set": fuzz.token_set_ratio, "crm2_token_sort": fuzz.token_sort_ratio,
        "crm2_indel": Indel.normalized_similarity}
    return scorers[name]


def _vectorised(name: str) -> Callable[[pd.Series, pd.Series], pd.Series]:
    # by name: rapidfuzz's compiled scorers cannot be pickled to Spark's Python workers
    def run(a: pd.Series, b: pd.Series) -> pd.Series:
        from rapidfuzz.process import cpdist

        scorer = _scorer(name)
        # empty sides never reach a level (the SQL's CASE), but Spark evaluates the UDF for every row
        left = a.fillna("").to_numpy(dtype=object)
        right = b.fillna("").to_numpy(dtype=object)
        return pd.Series(cpdist(left, right, scorer=scorer, dtype=np.float64, workers=1))
    return run


def session(master: str | None = None, settings: Mapping[str, str] | None = None,
            exchange: Path | None = None) -> Any:
    """The process's Spark session with crm2's similarity functions (created on first use);
    ``exchange`` is the folder the Parquet hand-over happens in (None: the temporary folder)."""
    global _session, _exchange
    if exchange is not None:
        _exchange = exchange
    if _session is not None:
        return _session
    if master is None and settings is None:
        master, settings = _configured
    from pyspark.sql import SparkSession
    from pyspark.sql.functions import pandas_udf

    builder = SparkSession.builder.master(master or "local[2]").appName("crm2-resolve")
    # Python workers run this interpreter (its packages: rapidfuzz, crm2), not whatever python3 is first on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    for key, value in {**DEFAULTS, **(settings or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    for name in ("crm2_jaro_winkler", "crm2_ratio", "crm2_token_set", "crm2_token_sort", "crm2_indel"):
        spark.udf.register(name, pandas_udf(_vectorised(name), "double"))  # type: ignore[call-overload]
    _session = spark
    return spark


def stop() -> None:
    global _session
    if _session is not None:
        _session.stop()
        _session = None


@contextlib.contextmanager
def _exchange_folder() -> Iterator[Path]:
    root = None
    if _exchange is not None:
        _exchange.mkdir(parents=True, exist_ok=True)
        root = str(_exchange)
    with tempfile.TemporaryDirectory(prefix="crm2-spark-", dir=root) as folder:  # 0700, removed after
        yield Path(folder)


def _hand_over(spark: Any, path: Path, batches: Iterable[Any], schema: Any, view: str) -> None:
    """Write ``batches`` to one Parquet file as they come and make it the temporary view ``view``."""
    import pyarrow.parquet as pq

    with pq.ParquetWriter(str(path), schema) as writer:  # an empty input still leaves a file with the schema
        for batch in batches:
            writer.write_batch(batch)
    spark.read.parquet(str(path)).createOrReplaceTempView(view)


def _read_back(path: Path, batch_size: int = 10_000) -> Iterator[Any]:
    import pyarrow.dataset as ds

    # Spark's part files sort in the order it wrote them; its _SUCCESS and .crc files are skipped
    yield from ds.dataset(str(path), format="parquet").to_batches(batch_size=batch_size)


def prepare(rules: EntityRules, batches: Iterable[Any], batch_size: int) -> Iterator[Any]:
    """Records to prepare (Arrow batches of ``prepare.to_prepare_schema()``) prepared on Spark's executors:
    handed over as Parquet, ``mapInArrow`` of :func:`sync.resolve.prepare.arrow_preparer` (the
    driver's own preparation, not a copy), written as Parquet in the order they came and read
    back ``batch_size`` rows at a time. Nothing to prepare starts no session."""
    from sync.resolve.prepare import PREPARED_DDL, arrow_preparer, to_prepare_schema

    batches = iter(batches)
    first = next(batches, None)
    if first is None:
        return
    spark = session()
    with _exchange_folder() as folder:
        try:
            _hand_over(spark, folder / "to_prepare.parquet", itertools.chain([first], batches), to_prepare_schema(),
                       "to_prepare")
            spark.table("to_prepare").mapInArrow(arrow_preparer(rules), PREPARED_DDL).write.parquet(
                str(folder / "unordered"))
            # seq: the driver's reading order, so records are written back (and get rids) in it. Sorted
            # apart from preparing: a sort samples its input first, which would prepare everything twice
            spark.read.parquet(str(folder / "unordered")).orderBy("seq").write.parquet(str(folder / "prepared"))
        finally:
            spark.catalog.dropTempView("to_prepare")
        yield from _read_back(folder / "prepared", batch_size)


def score(conn: Connection, entity: str, rules: EntityRules, dirty: Sequence[int], big: set[str],
          whole: bool, sink: duck.Sink, master: str | None = None,
          settings: Mapping[str, str] | None = None) -> duck.Scored:
    """Score the changed records against everyone sharing a key, on Spark; the pairs to keep."""
    import pyarrow as pa

    spark = session(master, settings)
    d = duck.SPARK
    with _exchange_folder() as folder:
        _hand_over(spark, folder / "keys.parquet", duck.key_batches(conn, entity, dirty, big, whole), duck.KEYS,
                   "keys")
        rids = pa.array(sorted(set(dirty)), pa.int64())
        _hand_over(spark, folder / "dirty.parquet", [pa.record_batch([rids], names=["rid"])],
                   pa.schema([("rid", pa.int64())]), "dirty")
        if rules.link_only:  # candidates as usual, then only the pairs across two sources
            spark.sql(duck.candidates_sql(rules, d)).createOrReplaceTempView("cand_any")
            members = [] if whole else sorted(
                r[0] for r in spark.sql("SELECT l FROM cand_any UNION SELECT r FROM cand_any").collect())
            _hand_over(spark, folder / "sources.parquet", duck.source_batches(conn, entity, members, whole),
                       duck.SOURCES, "sources")
            cand = spark.sql(duck.LINK_ONLY_SQL).cache()
        else:
            cand = spark.sql(duck.candidates_sql(rules, d)).cache()
        try:
            cand.createOrReplaceTempView("cand")
            pairs = cand.count()
            if not pairs:
                return duck.Scored()
            need = [] if whole else sorted(
                r[0] for r in spark.sql("SELECT l FROM cand UNION SELECT r FROM cand").collect())
            _hand_over(spark, folder / "features.parquet", duck.feature_batches(conn, entity, need, whole),
                       duck.FEATURES, "features_json")
            spark.sql(duck.prepared_sql(rules, d)).createOrReplaceTempView("rec")
            spark.sql(f"SELECT * FROM ({duck.scoring_sql(rules, d)}) s WHERE decision IN ('match', 'review') "
                      "ORDER BY l, r").write.parquet(str(folder / "kept"))
            names = [c.name for c in rules.comparisons]
            scored = duck.Scored(int(pairs))
            for batch in _read_back(folder / "kept"):
                rows = zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns)), strict=True)
                scored.take(duck.kept_rows(rows, names), sink)
            return scored
        finally:
            cand.unpersist()
            for view in ("keys", "dirty", "cand", "cand_any", "sources", "features_json", "rec"):
                spark.catalog.dropTempView(view)
