"""Send changes to Salesforce — sObject Collections (200 a call) or one Bulk API 2.0 job — with the
write-ahead protocol around every batch.

Each batch is recorded before it is sent and settled in one transaction after. What happens when
something goes wrong depends on what Salesforce can have done:

* refused before anything was applied (API limit or budget, a whole-request error): the batch is
  settled at once — rows requeued for the next run, or recorded as rejected;
* unknown (the connection dropped after sending, a Bulk job still running when the API limit
  hit): the batch stays in the write-ahead log and the next run settles it by reading the
  records (Collections) or the job's results (Bulk) — never by sending it again blind.

Per-record errors (UNABLE_TO_LOCK_ROW, validation rules...) never stop a batch: the other rows
are saved, the rejected ones queued for the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from connectors.salesforce.client import (
    ApiLimitReached,
    AuthenticationError,
    BulkIngestJob,
    BulkIngestOptions,
    BulkIngestSummary,
    InvalidSessionError,
    SalesforceClient,
    SalesforceError,
    SObjectCollections,
    TransientError,
)
from connectors.salesforce.client.bulk_ingest import csv_payload, split_error
from connectors.salesforce.client.collections import MAX_RECORDS
from connectors.salesforce.writeback.crash import crash_point
from connectors.salesforce.writeback.read import KindOf, reconcile
from connectors.salesforce.writeback.store import Change, Outcome, WritebackStore
from sync.writeback.mapping import Operation
from sync.writeback.values import csv_cell

log = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 3
"""Sends of one batch whose answer was lost (each followed by reading what landed)."""


class WritebackStopped(Exception):
    """The run cannot go on (API limit or budget, Salesforce unreachable); the store is consistent.

    ``settled``: outcomes of batches finished before the stop; ``handled``: keys of changes the
    sender already took care of (queued for the next run, or left in the write-ahead log for
    recovery). Every other change of the call that raised is still the caller's to queue.
    """

    def __init__(self, reason: str, *, limit: bool, fatal: bool = False) -> None:
        super().__init__(reason)
        self.limit = limit
        self.fatal = fatal  # credentials refused: retrying later will not help
        self.settled: list[Outcome] = []
        self.handled: set[tuple[str, str, str]] = set()
        self.queued = 0


def wire_key(operation: Operation, key_field: str) -> str:
    """The column a write names records by: updates always go by Id, upserts by their key field."""
    return "Id" if operation == "update" else key_field


def wire_value(change: Change, operation: Operation) -> str:
    return (change.record_id if operation == "update" else change.intent.key_value) or ""


def _body(change: Change, operation: Operation, key_field: str) -> dict[str, Any]:
    return {wire_key(operation, key_field): wire_value(change, operation), **change.sent}


class Sender:
    def __init__(self, client: SalesforceClient, wstore: WritebackStore, kind_of: KindOf, *,
                 bulk_options: BulkIngestOptions | None = None, collection_size: int = MAX_RECORDS) -> None:
        self.client = client
        self.wstore = wstore
        self.kind_of = kind_of
        self.collections = SObjectCollections(client)
        self.bulk_options = bulk_options or BulkIngestOptions()
        self.collection_size = min(collection_size, MAX_RECORDS)
        self.write_calls = 0

    # -- Collections --------------------------------------------------------------------------

    def send_collections(self, obj: str, operation: Operation, key_field: str,
                         changes: Sequence[Change]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        size = self.collection_size
        for start in range(0, len(changes), size):
            try:
                outcomes.extend(self._collections_batch(obj, operation, key_field, changes[start:start + size]))
            except WritebackStopped as exc:
                exc.settled = outcomes + exc.settled
                raise
        return outcomes

    def _collections_batch(self, obj: str, operation: Operation, key_field: str, changes: Sequence[Change],
                           attempt: int = 1) -> list[Outcome]:
        batch_id = self.wstore.begin_batch(obj, "collections", operation, key_field, changes)
        crash_point("before_send")
        records = [_body(c, operation, key_field) for c in changes]
        try:
            self.write_calls += 1
            if operation == "update":
                results = self.collections.update(obj, records)
            else:
                results = self.collections.upsert(obj, key_field, records)
        except (ApiLimitReached, InvalidSessionError, AuthenticationError) as exc:
            # refused before it ran (our budget check, Salesforce's 403, credentials or a session
            # that cannot be renewed): nothing was applied
            self.wstore.settle(batch_id, [], requeue=[(c.intent, "deferred") for c in changes])
            raise _stopped(str(exc), isinstance(exc, ApiLimitReached), changes, queued=True,
                           fatal=isinstance(exc, AuthenticationError)) from None
        except TransientError as exc:
            return self._in_doubt(batch_id, obj, operation, key_field, changes, attempt, exc)
        except SalesforceError as exc:
            # a whole-request error (400...): nothing applied, every row rejected with its code
            outcomes = [Outcome(c, False, error_code=exc.error_code or "REQUEST_FAILED", error_message=str(exc))
                        for c in changes]
            self.wstore.settle(batch_id, outcomes)
            return outcomes
        crash_point("after_send")
        outcomes = [Outcome(c, r.success, r.id or c.record_id, r.created, r.error_code, r.error_message)
                    for c, r in zip(changes, results, strict=True)]
        self.wstore.settle(batch_id, outcomes)
        crash_point("after_commit")
        return outcomes

    def _in_doubt(self, batch_id: str, obj: str, operation: Operation, key_field: str, changes: Sequence[Change],
                  attempt: int, cause: Exception) -> list[Outcome]:
        """The write may or may not have been applied: read what landed, send the rest again."""
        log.warning("No answer to a write of %d %s records (%s); reading them back", len(changes), obj, cause)
        try:
            landed, missing = reconcile(self.client, obj, key_field, changes, self.kind_of)
        except SalesforceError as exc:
            # still unknown: the batch stays in the write-ahead log for the next run to settle
            raise _stopped(f"Salesforce did not answer a write, nor the read after it: {exc}",
                           isinstance(exc, ApiLimitReached), changes) from None
        retry = bool(missing) and attempt < MAX_SEND_ATTEMPTS
        self.wstore.settle(batch_id, landed, requeue=[] if retry else [(c.intent, "unconfirmed") for c in missing])
        if not retry:
            return landed
        try:
            return landed + self._collections_batch(obj, operation, key_field, missing, attempt + 1)
        except WritebackStopped as exc:
            exc.settled = landed + exc.settled
            raise

    # -- Bulk API 2.0 -------------------------------------------------------------------------

    def send_bulk(self, obj: str, operation: Operation, key_field: str, changes: Sequence[Change]) -> list[Outcome]:
        batch_id = self.wstore.begin_batch(obj, "bulk", operation, key_field, changes)
        crash_point("before_send")
        job = BulkIngestJob(self.client, obj, operation, external_id_field=key_field if operation == "upsert" else None,
                            options=self.bulk_options)
        try:
            self.write_calls += 1
            job_id = job.create()
            # recorded before any row is uploaded: a rerun finds this job instead of sending again
            self.wstore.set_job_id(batch_id, job_id)
            self.write_calls += 1
            job.upload(bulk_csv(changes, operation, key_field))
        except (ApiLimitReached, TransientError, InvalidSessionError, AuthenticationError) as exc:
            # a job that never reached UploadComplete is never processed: nothing was applied
            if job.job_id is not None:
                _abort_quietly(job)
            self.wstore.settle(batch_id, [], requeue=[(c.intent, "deferred") for c in changes])
            raise _stopped(f"Bulk job not started: {exc}", isinstance(exc, ApiLimitReached), changes,
                           queued=True, fatal=isinstance(exc, AuthenticationError)) from None
        except SalesforceError as exc:
            outcomes = [Outcome(c, False, error_code=exc.error_code or "BULK_JOB_FAILED", error_message=str(exc))
                        for c in changes]
            self.wstore.settle(batch_id, outcomes)
            return outcomes
        try:
            self.write_calls += 1
            job.close()
            crash_point("bulk_closed")
            summary = job.wait(expected_rows=len(changes))
            crash_point("after_send")
            outcomes, unprocessed = bulk_outcomes(job, summary, changes, operation, key_field)
        except ApiLimitReached as exc:
            # the job may be running: the next run reads its results instead of sending again
            raise _stopped(f"{exc} (Bulk job {job.job_id} is settled on the next run)", True, changes) from None
        except (TransientError, InvalidSessionError) as exc:
            raise _stopped(f"Bulk job {job.job_id} could not be followed: {exc}", False, changes) from None
        self.wstore.settle(batch_id, outcomes, requeue=[(c.intent, "deferred") for c in unprocessed])
        crash_point("after_commit")
        return outcomes


def _abort_quietly(job: BulkIngestJob) -> None:
    try:
        job.abort()
    except SalesforceError as exc:  # an Open job expires unprocessed anyway
        log.info("could not abort Bulk job %s: %s", job.job_id, exc.error_code or exc)


def _stopped(reason: str, limit: bool, changes: Sequence[Change], *, queued: bool = False,
             fatal: bool = False) -> WritebackStopped:
    exc = WritebackStopped(reason, limit=limit, fatal=fatal)
    exc.handled = {c.intent.key for c in changes}
    exc.queued = len(changes) if queued else 0
    return exc


def bulk_csv(changes: Sequence[Change], operation: Operation, key_field: str) -> bytes:
    """One CSV for the job: the key, then every field any row sends; a row leaves the fields it
    does not send empty, which Bulk 2.0 reads as "leave unchanged" (null is #N/A)."""
    columns = list(dict.fromkeys(name for c in changes for name in c.sent))
    key = wire_key(operation, key_field)
    rows = []
    for c in changes:
        row = {key: wire_value(c, operation)}
        row.update({name: csv_cell(c.sent[name]) if name in c.sent else "" for name in columns})
        rows.append(row)
    return csv_payload([key, *columns], rows)


def bulk_outcomes(job: BulkIngestJob, summary: BulkIngestSummary, changes: Sequence[Change],
                  operation: Operation, key_field: str) -> tuple[list[Outcome], list[Change]]:
    """(outcome per processed row, rows never processed) of a finished job.

    A clean job (every row processed, none failed) costs no further call; otherwise the failed
    rows are read, and the successful ones too when some rows were never processed.
    """
    column = wire_key(operation, key_field)

    def key_of(change: Change) -> str:
        return wire_value(change, operation)

    by_key = {key_of(c): c for c in changes}
    if summary.state == "JobComplete" and summary.failed == 0 and summary.processed >= len(changes):
        return [Outcome(c, True, c.record_id) for c in changes], []
    failed: dict[str, Outcome] = {}
    for row in job.failed_results() if summary.failed else []:
        change = by_key.get(row.get(column) or row.get("sf__Id") or "")
        if change is not None:
            code, message = split_error(row.get("sf__Error") or "")
            failed[key_of(change)] = Outcome(change, False, row.get("sf__Id") or change.record_id,
                                             error_code=code, error_message=message)
    if summary.state == "JobComplete" and summary.processed >= len(changes):
        return [failed.get(key_of(c)) or Outcome(c, True, c.record_id) for c in changes], []
    succeeded: dict[str, Outcome] = {}
    for row in job.successful_results():
        change = by_key.get(row.get(column) or row.get("sf__Id") or "")
        if change is not None:
            succeeded[key_of(change)] = Outcome(change, True, row.get("sf__Id") or change.record_id,
                                                created=(row.get("sf__Created") or "").lower() == "true")
    outcomes = [*failed.values(), *succeeded.values()]
    unprocessed = [c for c in changes if key_of(c) not in failed and key_of(c) not in succeeded]
    log.warning("Bulk job %s ended %s: %d saved, %d rejected, %d not processed (queued for the next run)",
                job.job_id, summary.state, len(succeeded), len(failed), len(unprocessed))
    return outcomes, unprocessed
