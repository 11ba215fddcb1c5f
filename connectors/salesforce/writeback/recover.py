"""Settle the batches a crashed run left in the write-ahead log, without sending anything again.

* A Bulk batch whose job id was recorded: the job is followed to its end and its results read —
  the rows it saved are recorded as written, rejected rows queued as rejected, rows it never
  processed queued for sending. A job still Open (its upload never completed) is aborted: it
  cannot have applied anything.
* A Bulk batch without a job id died before uploading: nothing was applied.
* A Collections batch: the records are read back (one SOQL query per 200) and each one whose
  sent fields already hold the sent values has landed; the others are queued for sending.

Landed rows get their last-written values and audit rows exactly as if the crashed run had
recorded them itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from connectors.salesforce.client import (
    BulkIngestJob,
    BulkIngestOptions,
    BulkIngestSummary,
    SalesforceClient,
    SalesforceError,
)
from connectors.salesforce.client.bulk import TERMINAL_FAILED
from connectors.salesforce.writeback.read import reconcile
from connectors.salesforce.writeback.send import bulk_outcomes
from connectors.salesforce.writeback.store import Change, Outcome, PendingBatch, WritebackStore
from sync.writeback.mapping import LoadedMapping

log = logging.getLogger(__name__)


@dataclass
class RecoveryStats:
    batches: int = 0
    landed: int = 0
    requeued: int = 0
    rejected: int = 0


def recover(client: SalesforceClient, wstore: WritebackStore, mapping: LoadedMapping,
            bulk_options: BulkIngestOptions) -> RecoveryStats:
    stats = RecoveryStats()
    for batch in wstore.pending_batches():
        stats.batches += 1
        if batch.method == "bulk" and batch.job_id:
            outcomes, requeue = _settle_bulk(client, batch, bulk_options)
        elif batch.method == "bulk":
            outcomes, requeue = [], list(batch.changes)
        else:
            outcomes, requeue = reconcile(client, batch.object, batch.key_field, batch.changes, mapping.known_kind)
        wstore.settle(batch.batch_id, outcomes, requeue=[(c.intent, "unconfirmed") for c in requeue])
        stats.landed += sum(1 for o in outcomes if o.success)
        stats.rejected += sum(1 for o in outcomes if not o.success)
        stats.requeued += len(requeue)
    if stats.batches:
        log.info("Settled %d batches of an interrupted run: %d records had landed, %d rejected, %d to send again",
                 stats.batches, stats.landed, stats.rejected, stats.requeued)
    return stats


def _settle_bulk(client: SalesforceClient, batch: PendingBatch,
                 options: BulkIngestOptions) -> tuple[list[Outcome], list[Change]]:
    job = BulkIngestJob.attach(client, batch.job_id or "", batch.object, batch.operation,
                               external_id_field=batch.key_field if batch.operation == "upsert" else None,
                               options=options)
    try:
        info = job.info()
    except SalesforceError as exc:
        if exc.status == 404:  # the job is gone (Salesforce keeps them 7 days): read the records instead
            return reconcile(client, batch.object, batch.key_field, batch.changes, lambda _obj, _field: None)
        raise
    if job.state == "Open":
        job.abort()  # its upload never completed, so it never ran: nothing was applied
        return [], list(batch.changes)
    if job.state == "JobComplete" or job.state in TERMINAL_FAILED:
        summary = BulkIngestSummary(state=str(job.state), processed=int(info.get("numberRecordsProcessed") or 0),
                                    failed=int(info.get("numberRecordsFailed") or 0))
    else:
        summary = job.wait(expected_rows=len(batch.changes))
    return bulk_outcomes(job, summary, batch.changes, batch.operation, batch.key_field)
