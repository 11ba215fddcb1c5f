"""Synthetic CRM, finance and sales data with ground truth, for the demo, tests and benchmarks.

    from synthetic import generate, write_dataset

    for system, obj, record in generate(1000, seed=42, objects={"Account", "links"}):
        ...
    write_dataset(Path("data"), 100_000, 42, workers=4)   # data/<system>/<object>.jsonl, data/truth.jsonl

See docs/synthetic-data.md for the objects, fields, formats and the ground truth.
"""

from synthetic.generator import ALL_OBJECTS, OBJECTS, generate, wanted_objects
from synthetic.values import NOW_DATE
from synthetic.writer import write_dataset

__all__ = ["ALL_OBJECTS", "NOW_DATE", "OBJECTS", "generate", "wanted_objects", "write_dataset"]
