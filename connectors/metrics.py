"""End-of-run figures for the orchestrator: when ``crm2 sync`` runs a connector it names a file in
``CRM2_METRICS_FILE``; the connector writes a small JSON summary there as it ends. Run alone
(or under Meltano) the variable is unset and nothing is written."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from sync import private

METRICS_ENV = "CRM2_METRICS_FILE"


def write_metrics(figures: Mapping[str, Any]) -> None:
    path = os.environ.get(METRICS_ENV)
    if path:
        with private.open_write(path, "w", encoding="utf-8") as out:
            json.dump(figures, out, default=str)
