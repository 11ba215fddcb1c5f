"""Call counting: what tests assert on and what ``Sforce-Limit-Info`` reports.

Calls are counted by kind (REST, Bulk, auth) and writes separately, whether or not the call
succeeds (Salesforce charges a call that reached it). Org API usage, as in the
``api-usage=USED/TOTAL`` header and ``/limits``, counts REST and Bulk calls: token requests do
not count against Salesforce's daily API limit. Counts live in memory: a restarted stand-in
starts a new day.
"""

from __future__ import annotations

import threading
from typing import Literal

CallKind = Literal["rest", "bulk", "auth"]


class Meter:
    def __init__(self, daily_limit: int) -> None:
        self.daily_limit = daily_limit
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {"rest": 0, "bulk": 0, "auth": 0, "writes": 0}

    def record(self, kind: CallKind, *, write: bool = False) -> int:
        """Count one call; returns the total count *before* it."""
        with self._lock:
            before = self._counts["rest"] + self._counts["bulk"] + self._counts["auth"]
            self._counts[kind] += 1
            if write:
                self._counts["writes"] += 1
            return before

    @property
    def used(self) -> int:
        with self._lock:
            return self._counts["rest"] + self._counts["bulk"]

    def exhausted(self) -> bool:
        return self.used > self.daily_limit

    def limit_info(self) -> str:
        return f"api-usage={self.used}/{self.daily_limit}"

    def total(self) -> int:
        with self._lock:
            return self._counts["rest"] + self._counts["bulk"] + self._counts["auth"]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
