"""Crash points for the kill-and-rerun tests: ``CRM2_WRITEBACK_CRASH_AT=after_send:2`` kills the
process with SIGKILL the second time it reaches ``after_send`` — no cleanup, no flush, exactly
like a power cut or an OOM kill. Unset (always, outside tests), it does nothing.

Points: ``before_send`` (batch recorded, nothing sent), ``after_send`` (Salesforce answered,
outcome not recorded), ``after_commit`` (outcome recorded), ``bulk_closed`` (Bulk job
UploadComplete, not yet polled).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

from sync.stage_marks import mid_stage

ENV = "CRM2_WRITEBACK_CRASH_AT"
POINTS = ("before_send", "after_send", "after_commit", "bulk_closed")

_seen: Counter[str] = Counter()


def crash_point(name: str) -> None:
    if name == "after_send":
        mid_stage("writeback")  # Salesforce answered, the outcome not recorded
    spec = os.environ.get(ENV)
    if not spec:
        return
    _seen[name] += 1
    for item in spec.split(","):
        point, _, nth = item.strip().partition(":")
        if point == name and _seen[name] == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)
