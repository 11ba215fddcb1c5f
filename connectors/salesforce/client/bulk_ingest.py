"""Bulk API 2.0 ingest: create a job, PUT the CSV, mark UploadComplete, poll, read the outcomes.

A whole change set costs a handful of calls however many rows it has. A job is named by its id,
which the caller can record before uploading: after a crash, :meth:`BulkIngestJob.attach` picks
the same job up again and reads its results instead of sending the rows a second time. Polls go
through the shared client, so an expired session is re-authenticated and the *same* job is
polled on.

CSV cells follow Bulk 2.0's rules: an empty cell leaves the field untouched on update, ``#N/A``
sets it to null.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from connectors.salesforce.client.bulk import TERMINAL_FAILED
from connectors.salesforce.client.errors import SalesforceError, TransientError
from connectors.salesforce.client.rest import SalesforceClient
from connectors.salesforce.client.write_once import request_once

log = logging.getLogger(__name__)

NULL = "#N/A"
PACE_MARGIN = 1.25
"""Wait this much longer than the job's own pace predicts, so one more poll usually finds it done."""
Operation = Literal["insert", "update", "upsert", "delete"]


@dataclass(frozen=True)
class BulkIngestOptions:
    poll_initial: float = 0.5
    poll_max: float = 5.0
    timeout: float = 3600.0


class BulkIngestTimeout(TransientError):
    """The job was still running when the wait ended; it keeps running and can be attached to later."""


@dataclass(frozen=True)
class BulkIngestSummary:
    state: str
    processed: int
    failed: int
    error_message: str | None = None


def csv_payload(columns: Sequence[str], rows: Sequence[Mapping[str, str]]) -> bytes:
    """CSV as Bulk 2.0 wants it: a header row, LF line endings, quoting only where needed."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


class BulkIngestJob:
    """One ingest job's lifecycle."""

    def __init__(self, client: SalesforceClient, sobject: str, operation: Operation, *,
                 external_id_field: str | None = None, options: BulkIngestOptions | None = None) -> None:
        if operation == "upsert" and not external_id_field:
            raise ValueError("an upsert job needs external_id_field")
        self.client = client
        self.sobject = sobject
        self.operation = operation
        self.external_id_field = external_id_field
        self.options = options or BulkIngestOptions()
        self.job_id: str | None = None
        self.state: str | None = None

    @classmethod
    def attach(cls, client: SalesforceClient, job_id: str, sobject: str, operation: Operation, *,
               external_id_field: str | None = None, options: BulkIngestOptions | None = None) -> BulkIngestJob:
        """An existing job, e.g. one a crashed run created, to poll and read results from."""
        job = cls(client, sobject, operation, external_id_field=external_id_field, options=options)
        job.job_id = job_id
        return job

    @property
    def _path(self) -> str:
        if self.job_id is None:
            raise SalesforceError("the Bulk job has not been created yet", error_code="CRM2_NO_JOB")
        return f"jobs/ingest/{self.job_id}"

    def create(self) -> str:
        body: dict[str, Any] = {"object": self.sobject, "operation": self.operation, "contentType": "CSV",
                                "columnDelimiter": "COMMA", "lineEnding": "LF"}
        if self.external_id_field:
            body["externalIdFieldName"] = self.external_id_field
        job = self.client._json(self.client.request("POST", "jobs/ingest", json=body))
        self.job_id = str(job["id"])
        self.state = job.get("state")
        return self.job_id

    def upload(self, payload: bytes) -> None:
        """PUT the CSV (one upload per job; Salesforce takes up to 100 MB of it).

        Attempted once: uploads to a job add up, so a resent CSV would put every row in twice."""
        request_once(self.client, "PUT", f"{self._path}/batches", data=payload, headers={"Content-Type": "text/csv"})

    def close(self) -> None:
        """Mark UploadComplete: Salesforce queues the job for processing.

        Attempted once: after a lost answer the job may already be running, which :meth:`info`
        tells; a resend would be refused as an invalid state change."""
        info = self.client._json(request_once(self.client, "PATCH", self._path, json={"state": "UploadComplete"}))
        self.state = info.get("state", "UploadComplete")

    def abort(self) -> None:
        info = self.client._json(self.client.request("PATCH", self._path, json={"state": "Aborted"}))
        self.state = info.get("state", "Aborted")

    def info(self) -> dict[str, Any]:
        info = self.client.get_json(self._path)
        self.state = info.get("state")
        return info

    def wait(self, expected_rows: int | None = None) -> BulkIngestSummary:
        """Poll until the job is JobComplete, Failed or Aborted.

        Each poll is an API call, so the waits are planned: the first after ``poll_initial``;
        then, once the job reports progress, when its own pace says it will be done (with a
        margin), else doubling; never longer than ``poll_max``.
        """
        started = time.monotonic()
        deadline = started + self.options.timeout
        delay = self.options.poll_initial
        while True:
            time.sleep(delay)  # a job just closed is never done yet
            info = self.info()
            if self.state == "JobComplete" or self.state in TERMINAL_FAILED:
                return BulkIngestSummary(state=str(self.state), processed=int(info.get("numberRecordsProcessed") or 0),
                                         failed=int(info.get("numberRecordsFailed") or 0),
                                         error_message=info.get("errorMessage"))
            processed = int(info.get("numberRecordsProcessed") or 0)
            if expected_rows and 0 < processed < expected_rows:
                elapsed = time.monotonic() - started
                delay = (expected_rows - processed) * elapsed / processed * PACE_MARGIN
            else:
                delay *= 2
            delay = min(max(delay, self.options.poll_initial / 4), self.options.poll_max)
            if time.monotonic() + delay > deadline:
                raise BulkIngestTimeout(f"Bulk ingest job {self.job_id} still {self.state} after "
                                        f"{self.options.timeout:g}s", error_code="BULK_JOB_TIMEOUT")

    def _results(self, kind: str) -> list[dict[str, str]]:
        response = self.client.request("GET", f"{self._path}/{kind}", headers={"Accept": "text/csv"})
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))

    def successful_results(self) -> list[dict[str, str]]:
        """Rows saved: ``sf__Id``, ``sf__Created`` and the columns sent."""
        return self._results("successfulResults")

    def failed_results(self) -> list[dict[str, str]]:
        """Rows rejected: ``sf__Id``, ``sf__Error`` (``CODE:message``) and the columns sent."""
        return self._results("failedResults")

    def unprocessed_records(self) -> list[dict[str, str]]:
        """Rows never processed (the job failed or was aborted): the columns sent."""
        return self._results("unprocessedrecords")


def split_error(text: str) -> tuple[str, str]:
    """``"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access:--"`` -> (code, message)."""
    code, _, message = text.partition(":")
    return (code.strip() or "UNKNOWN", message.strip().removesuffix(":--").strip())
