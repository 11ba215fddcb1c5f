"""Mid-stage markers: each stage of a crm2 run logs ``<stage>: mid-stage`` once, part-way through
its real work (rows written or about to be, nothing finished), so crash tests can kill a run
exactly there instead of a guessed delay after the stage starts.

``CRM2_KILL_AT_STAGE=<stage>`` (tests only; unset it does nothing) makes the marker SIGKILL its
whole process group — the `crm2 sync` and its taps and targets, as a power cut would — right
after logging it. Stages: ``extract:<extractor>`` (target-crm2, rows of a batch committed, the
bookmark not yet saved), ``checks`` (every check evaluated, nothing committed), ``resolve`` (the
first entity resolved), ``enrich`` (scoring under way), ``writeback`` (Salesforce answered, the
outcome not recorded).
"""

from __future__ import annotations

import logging
import os
import signal

ENV = "CRM2_KILL_AT_STAGE"
log = logging.getLogger("crm2.stages")
_marked: set[str] = set()


def mid_stage(stage: str) -> None:
    """Log the stage's marker (once per process); die on it when the crash tests ask."""
    if stage in _marked:
        return
    _marked.add(stage)
    log.info("%s: mid-stage", stage)
    if os.environ.get(ENV) == stage:
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.killpg(os.getpgid(0), signal.SIGKILL)
