"""Call counting: what tests assert on, what ``Sforce-Limit-Info`` and ``/limits`` report.

Calls are counted by kind (REST, Bulk, auth) and writes separately, whether or not the call
succeeds (Salesforce charges a call that reached it). Org API usage, as in the
``api-usage=USED/TOTAL`` header and ``/limits``, counts REST and Bulk calls: token requests do
not count against Salesforce's daily API limit. Counts live in memory: a restarted stand-in
starts a new day.

``/limits`` answers the documented set of org limits, each ``{"Max", "Remaining"}``. The ones
the stand-in's own work uses are consumed as it happens: ``DailyApiRequests`` by every REST and
Bulk call, ``DailyBulkApiBatches`` by every Bulk API 1.0 batch and every 10,000 rows of a Bulk
2.0 ingest job (the allocation both share), ``DailyBulkV2QueryJobs`` by every Bulk 2.0 query job
and ``DailyBulkV2QueryFileStorageMB`` by the size of its results; the rest stay at their Max.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Literal

CallKind = Literal["rest", "bulk", "auth"]

# The org limits Salesforce's REST API reference lists for ``GET /limits`` and the Max an
# Enterprise Edition org shows (DailyApiRequests comes from the stand-in's daily_limit).
DOCUMENTED_LIMITS: dict[str, int] = {
    "ActiveScratchOrgs": 3,
    "AnalyticsExternalDataSizeMB": 40960,
    "ConcurrentAsyncGetReportInstances": 200,
    "ConcurrentEinsteinDataInsightsStoryCreation": 5,
    "ConcurrentEinsteinDiscoveryStoryCreation": 2,
    "ConcurrentSyncReportRuns": 20,
    "DailyAnalyticsDataflowJobExecutions": 60,
    "DailyAnalyticsUploadedFilesSizeMB": 51200,
    "DailyApiRequests": 100_000,
    "DailyAsyncApexExecutions": 250_000,
    "DailyAsyncApexTests": 500,
    "DailyBulkApiBatches": 15_000,
    "DailyBulkV2QueryFileStorageMB": 976_562,
    "DailyBulkV2QueryJobs": 10_000,
    "DailyDeliveredPlatformEvents": 50_000,
    "DailyDurableGenericStreamingApiEvents": 10_000,
    "DailyDurableStreamingApiEvents": 10_000,
    "DailyEinsteinDataInsightsStoryCreation": 1000,
    "DailyEinsteinDiscoveryPredictAPICalls": 50_000,
    "DailyEinsteinDiscoveryPredictionsByCDC": 500_000,
    "DailyEinsteinDiscoveryStoryCreation": 100,
    "DailyFunctionsApiCallLimit": 235_000,
    "DailyGenericStreamingApiEvents": 10_000,
    "DailyScratchOrgs": 6,
    "DailyStandardVolumePlatformEvents": 10_000,
    "DailyStreamingApiEvents": 10_000,
    "DailyWorkflowEmails": 1_000_000,
    "DataStorageMB": 1024,
    "DurableStreamingApiConcurrentClients": 20,
    "FileStorageMB": 10240,
    "HourlyAsyncReportRuns": 1200,
    "HourlyDashboardRefreshes": 200,
    "HourlyDashboardResults": 5000,
    "HourlyDashboardStatuses": 999_999_999,
    "HourlyLongTermIdMapping": 100_000,
    "HourlyManagedContentPublicRequests": 50_000,
    "HourlyODataCallout": 10_000,
    "HourlyPublishedPlatformEvents": 50_000,
    "HourlyPublishedStandardVolumePlatformEvents": 100_000,
    "HourlyShortTermIdMapping": 100_000,
    "HourlySyncReportRuns": 500,
    "HourlyTimeBasedWorkflow": 1000,
    "MassEmail": 5000,
    "MonthlyEinsteinDiscoveryStoryCreation": 500,
    "MonthlyPlatformEventsUsageEntitlement": 300_000,
    "Package2VersionCreates": 6,
    "Package2VersionCreatesWithoutValidation": 500,
    "PermissionSets": 1500,
    "PrivateConnectOutboundCalloutHourlyLimitMB": 0,
    "PublishCallbackUsageInApex": 5_000_000,
    "SingleEmail": 5000,
    "StreamingApiConcurrentClients": 20,
}
BULK_V2_ROWS_PER_BATCH = 10_000
"""Bulk API 2.0 ingest charges one batch of the shared allocation per 10,000 rows."""


class Meter:
    def __init__(self, daily_limit: int, limits: Mapping[str, int] | None = None) -> None:
        self.daily_limit = daily_limit
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {"rest": 0, "bulk": 0, "auth": 0, "writes": 0}
        self._max = {**DOCUMENTED_LIMITS, **(limits or {}), "DailyApiRequests": daily_limit}
        self._used: dict[str, int] = dict.fromkeys(self._max, 0)

    def consume(self, limit: str, amount: int = 1) -> None:
        """Use ``amount`` of one org limit (a Bulk batch, a query job, megabytes of results)."""
        with self._lock:
            self._used[limit] += amount

    def remaining(self, limit: str) -> int:
        if limit == "DailyApiRequests":
            return max(0, self.daily_limit - self.used)
        with self._lock:
            return max(0, self._max[limit] - self._used[limit])

    def limits(self) -> dict[str, dict[str, int]]:
        """The ``GET /limits`` body: every documented limit with its Max and Remaining."""
        return {name: {"Max": self._max[name], "Remaining": self.remaining(name)} for name in sorted(self._max)}

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
