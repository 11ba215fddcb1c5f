"""What crm2's Singer programs load at start-up, and the collector settings of their record loop."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap

from connectors.heap import YOUNG_THRESHOLD, steady_heap


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_steady_heap_restores_the_collector_and_still_collects_cycles():
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with steady_heap():
        assert gc.get_threshold()[0] >= YOUNG_THRESHOLD
        assert gc.get_freeze_count() > frozen  # what existed before the loop is out of the walks

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a  # type: ignore[attr-defined]
        marker = id(a)
        del a, b
        gc.collect()
        assert not any(id(o) == marker for o in gc.get_objects())
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen
