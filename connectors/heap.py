"""Keep Python's cyclic garbage collector off the start-up heap while a program streams records.

A Singer program imports a lot before its first record (singer-sdk, SQLAlchemy, pydantic's
schemas, the mapping): a few hundred thousand objects that live until it exits. CPython's
collector counts allocations, and every record allocates dicts, lists and model instances, so
it runs many times a second and each full collection walks that whole start-up heap again to
find no garbage in it. Measured on target-crm2's 100k-record first load, about a tenth of the
CPU time went there (docs/batches.md).

:func:`steady_heap` moves what exists when the loop starts into the collector's permanent
generation (``gc.freeze``) and lets the youngest generation grow before it is collected, for the
duration of the loop only; on the way out the objects are handed back (``gc.unfreeze``) and the
thresholds restored, so a test or a host process that runs the loop in-process keeps its own
collector settings and nothing frozen leaks. Garbage is still collected: cycles made while
streaming are found as before, only less often and without the start-up heap in the walk.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 10_000
"""Net allocations of container objects before a young collection (CPython's default: 700, a
few records' worth). Collections become rarer, so fewer of a batch's short-lived objects are
promoted to the older generations, and garbage cycles made while loading still go within ten
thousand allocations."""


@contextmanager
def steady_heap() -> Iterator[None]:
    """Freeze the objects that exist now and collect the young generation less often, until exit."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], YOUNG_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
