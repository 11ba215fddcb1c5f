"""API budget: count our calls and stop before the org's daily limit is exhausted.

Every Salesforce REST response carries ``Sforce-Limit-Info: api-usage=USED/TOTAL``. The org's
quota is shared with every other integration, so crm2 stops at a configured share of it
(default 80 %) instead of running the org dry and breaking other people's tools.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from connectors.salesforce.client.errors import BudgetReached

_API_USAGE = re.compile(r"(?<![\w-])api-usage=(\d+)/(\d+)")


def parse_limit_info(header: str | None) -> tuple[int, int] | None:
    """``"api-usage=25/15000"`` -> ``(25, 15000)``; None when absent or unparseable."""
    if not header:
        return None
    match = _API_USAGE.search(header)
    return (int(match.group(1)), int(match.group(2))) if match else None


@dataclass
class ApiBudget:
    """Tracks calls made by this process and the org-wide usage Salesforce reports."""

    max_pct: float = 80.0
    calls: int = 0
    auth_calls: int = 0
    used: int | None = None
    total: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_call(self, limit_info: str | None) -> None:
        with self._lock:
            self.calls += 1
            usage = parse_limit_info(limit_info)
            if usage is not None:
                self.used, self.total = usage

    def record_auth(self) -> None:
        with self._lock:
            self.auth_calls += 1

    @property
    def used_pct(self) -> float | None:
        if self.used is None or not self.total:
            return None
        return 100.0 * self.used / self.total

    def check(self) -> None:
        """Raise BudgetReached if the last reported usage is at or over the cap."""
        pct = self.used_pct
        if pct is not None and pct >= self.max_pct:
            raise BudgetReached(
                f"API budget reached: org usage {self.used}/{self.total} ({pct:.1f}%) "
                f">= cap {self.max_pct:g}%", error_code="CRM2_API_BUDGET")

    def summary(self) -> str:
        usage = f"{self.used}/{self.total}" if self.used is not None else "unknown"
        return f"api_calls={self.calls} auth_calls={self.auth_calls} org_api_usage={usage}"
