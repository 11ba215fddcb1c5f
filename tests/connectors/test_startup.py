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


def test_programs_start_without_joblib_or_numpy():
    # singer-sdk imports joblib (which imports numpy) for parallel draining no crm2 program uses
    seen = _run("""
        import json, sys
        import connectors.crm2.target, connectors.finance.tap
        print(json.dumps({"numpy": "numpy" in sys.modules,
                          "joblib": type(sys.modules["joblib"]).__module__}))
    """)
    assert seen == {"numpy": False, "joblib": "connectors.lazy_joblib"}


def test_singer_sdk_parallel_drain_gets_the_real_joblib():
    seen = _run("""
        import json, sys
        import connectors.crm2.target
        from singer_sdk import target_base
        with target_base.parallel_config(backend="threading", n_jobs=2):
            drained = target_base.Parallel()(target_base.delayed(abs)(x) for x in [-1, -2, 3])
        import joblib
        from joblib.parallel import Parallel
        print(json.dumps({"drained": drained, "joblib": joblib.__name__, "real": hasattr(joblib, "Memory"),
                          "same": Parallel is joblib.Parallel, "module": type(sys.modules["joblib"]).__module__}))
    """)
    assert seen == {"drained": [1, 2, 3], "joblib": "joblib", "real": True, "same": True, "module": "builtins"}


def test_joblib_imported_through_the_stand_in_is_the_real_one():
    seen = _run("""
        import json, sys
        import connectors.crm2.target
        import joblib  # the stand-in, as long as nothing used it
        version = joblib.__version__  # a version check imports the real joblib
        print(json.dumps({"version": version, "memory": joblib.Memory.__module__,
                          "module": type(sys.modules["joblib"]).__module__}))
    """)
    assert seen["version"] and seen["memory"] == "joblib.memory" and seen["module"] == "builtins"


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
