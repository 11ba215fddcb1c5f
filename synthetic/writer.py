"""Writing a generated dataset to JSON Lines files, in bounded memory, on several processes if asked.

Customers are cut into fixed blocks; each block is rendered to bytes (in a worker process or in
this one) and the blocks are appended to the files strictly in order. Block boundaries do not
depend on the number of workers and each customer's records depend only on (seed, customer),
so the files are byte-identical however many workers made them. At most a few blocks are in
flight at once, so memory stays flat from a thousand customers to millions.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import IO

import orjson

from sync import private
from synthetic.companies import Universe
from synthetic.generator import ALL_OBJECTS, OBJECTS, generate_range

BLOCK = 1000
"""Customers per block of work."""
KEYS: tuple[str, ...] = tuple(f"{system}/{obj}" for system, objs in OBJECTS.items() for obj in objs)

Chunk = dict[str, bytes]


def file_for(out: Path, key: str) -> Path:
    """``out/<system>/<object>.jsonl``; the ground truth is ``out/truth.jsonl``."""
    return out / "truth.jsonl" if key == "truth/links" else out / f"{key}.jsonl"


def render_block(customers: int, seed: int, start: int, stop: int) -> Chunk:
    """The JSON Lines bytes of customers ``start`` .. ``stop - 1``, per "system/object"."""
    universe = Universe(customers, seed)
    # appended at once: each small bytes object orjson returns holds a much larger allocation
    out: dict[str, bytearray] = {key: bytearray() for key in KEYS}
    encode = orjson.dumps  # compact, UTF-8, key order kept: the same bytes as json.dumps(separators=(",", ":"))
    for system, obj, record in generate_range(universe, start, stop, ALL_OBJECTS):
        buffer = out[f"{system}/{obj}"]
        buffer += encode(record)
        buffer += b"\n"
    return {key: bytes(data) for key, data in out.items()}


def write_dataset(out: Path, customers: int, seed: int, *, workers: int = 1,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Write ``out/<system>/<object>.jsonl`` and ``out/truth.jsonl``; records written per "system/object"."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    Universe(customers, seed)  # refuse impossible sizes before touching the disk
    out = Path(out)
    for system in OBJECTS:
        if system != "truth":
            private.mkdir(out / system)
    counts = dict.fromkeys(KEYS, 0)
    blocks = [(start, min(start + BLOCK, customers)) for start in range(0, customers, BLOCK)]
    files: dict[str, IO[bytes]] = {}
    try:
        for key in KEYS:
            files[key] = private.open_write(file_for(out, key), "wb")
        done = 0
        for (start, stop), chunk in zip(blocks, _rendered(customers, seed, blocks, workers), strict=True):
            for key, data in chunk.items():
                if data:
                    files[key].write(data)
                    counts[key] += data.count(b"\n")
            done += stop - start
            if progress is not None:
                progress(done, customers)
    finally:
        for handle in files.values():
            handle.close()
    return counts


def _rendered(customers: int, seed: int, blocks: list[tuple[int, int]], workers: int) -> Iterator[Chunk]:
    if workers == 1 or len(blocks) <= 1:
        for start, stop in blocks:
            yield render_block(customers, seed, start, stop)
        return
    # fork: the children need nothing from a fresh interpreter, and `python -m sync` has no
    # import guard a spawned child could rely on
    context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    window = 2 * workers
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[Future[Chunk]] = deque()
        queued = iter(blocks)
        for start, stop in queued:
            pending.append(pool.submit(render_block, customers, seed, start, stop))
            if len(pending) >= window:
                break
        while pending:
            chunk = pending.popleft().result()
            nxt = next(queued, None)
            if nxt is not None:
                pending.append(pool.submit(render_block, customers, seed, *nxt))
            yield chunk
