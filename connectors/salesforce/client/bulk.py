"""Bulk API 2.0 query: create a job, wait for it, page through CSV results by ``Sforce-Locator``.

For large extracts Bulk 2.0 costs a handful of API calls where REST paging costs one per 2,000
rows. Results arrive as CSV strings; typing them is the caller's job (it knows the schema).
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connectors.salesforce.client.errors import SalesforceError, TransientError
from connectors.salesforce.client.rest import SalesforceClient

log = logging.getLogger(__name__)

TERMINAL_FAILED = frozenset({"Failed", "Aborted"})


@dataclass(frozen=True)
class BulkQueryOptions:
    poll_initial: float = 0.2
    poll_max: float = 5.0
    timeout: float = 3600.0
    max_records_per_page: int = 50_000


class BulkJobTimeout(TransientError):
    """The job did not finish in time; it was aborted and the caller may try again later."""


class BulkQuery:
    """One Bulk 2.0 query job's lifecycle; iterate :meth:`records` to run it."""

    def __init__(self, client: SalesforceClient, soql: str, *, include_deleted: bool = False,
                 options: BulkQueryOptions | None = None) -> None:
        self.client = client
        self.soql = soql
        self.operation = "queryAll" if include_deleted else "query"
        self.options = options or BulkQueryOptions()
        self.job_id: str | None = None
        self.state: str | None = None
        self.number_records: int | None = None

    def create(self) -> str:
        body = {"operation": self.operation, "query": self.soql, "contentType": "CSV",
                "columnDelimiter": "COMMA", "lineEnding": "LF"}
        job = self.client._json(self.client.request("POST", "jobs/query", json=body))
        self.job_id = str(job["id"])
        self.state = job.get("state")
        return self.job_id

    def poll(self) -> dict[str, Any]:
        info = self.client.get_json(f"jobs/query/{self.job_id}")
        self.state = info.get("state")
        if info.get("numberRecordsProcessed") is not None:
            self.number_records = int(info["numberRecordsProcessed"])
        return info

    def wait(self) -> None:
        deadline = time.monotonic() + self.options.timeout
        delay = self.options.poll_initial
        while True:
            info = self.poll()
            if self.state == "JobComplete":
                return
            if self.state in TERMINAL_FAILED:
                raise SalesforceError(f"Bulk query job {self.job_id} {self.state}: "
                                      f"{info.get('errorMessage') or 'no reason given'}", error_code="BULK_JOB_FAILED")
            if time.monotonic() + delay > deadline:
                self.abort()
                raise BulkJobTimeout(f"Bulk query job {self.job_id} not complete after {self.options.timeout:g}s",
                                     error_code="BULK_JOB_TIMEOUT")
            time.sleep(delay)
            delay = min(delay * 2, self.options.poll_max)

    def abort(self) -> None:
        try:
            self.client.request("PATCH", f"jobs/query/{self.job_id}", json={"state": "Aborted"})
        except SalesforceError as exc:  # best effort: the job expires on its own anyway
            log.warning("could not abort Bulk job %s: %s", self.job_id, exc)

    def result_pages(self) -> Iterator[list[dict[str, str]]]:
        """CSV result pages as lists of string dicts; retrying a page re-requests the same locator."""
        locator: str | None = None
        while True:
            params: dict[str, Any] = {"maxRecords": self.options.max_records_per_page}
            if locator:
                params["locator"] = locator
            response = self.client.request("GET", f"jobs/query/{self.job_id}/results", params=params,
                                           headers={"Accept": "text/csv"})
            yield list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
            locator = response.headers.get("Sforce-Locator")
            if not locator or locator == "null":
                return

    def records(self) -> Iterator[dict[str, str]]:
        self.create()
        self.wait()
        for page in self.result_pages():
            yield from page
