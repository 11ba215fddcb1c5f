"""Bulk API 2.0: ingest jobs (CSV in, per-row results out) and query jobs (CSV out, paged).

Jobs run on a worker thread, so clients really poll: an ingest job goes Open -> (PATCH
UploadComplete) -> UploadComplete -> InProgress -> JobComplete, or Failed when its CSV header is
unusable, or Aborted; a query job goes UploadComplete -> InProgress -> JobComplete. Ingest
results come back as CSV (``successfulResults`` with ``sf__Id,sf__Created``, ``failedResults``
with ``sf__Id,sf__Error``, ``unprocessedrecords`` with the original columns); query results are
paged by ``maxRecords`` with an opaque ``Sforce-Locator`` and ``"null"`` after the last page.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from connectors.salesforce.standin.errors import ApiError, RecordError, not_found
from connectors.salesforce.standin.ids import make_id
from connectors.salesforce.standin.metering import BULK_V2_ROWS_PER_BATCH, Meter
from connectors.salesforce.standin.org import Org
from connectors.salesforce.standin.query import Compiled, compile_soql, csv_rows, run
from connectors.salesforce.standin.schema import sobject
from connectors.salesforce.standin.values import now_stamp
from connectors.salesforce.standin.writes import AmbiguousExternalId, Writer, external_id_field

log = logging.getLogger(__name__)

JOB_PREFIX = "750"
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
QUERY_OPERATIONS = ("query", "queryAll")
DEFAULT_MAX_RECORDS = 250_000


def _bad_request(message: str, code: str = "INVALIDJOB") -> ApiError:
    return ApiError(400, code, message)


@dataclass
class _Job:
    id: str
    operation: str
    object: str
    api_version: str
    created_by: str
    line_ending: str = "LF"
    column_delimiter: str = "COMMA"
    state: str = "Open"
    created: str = field(default_factory=now_stamp)
    modstamp: str = field(default_factory=now_stamp)
    error_message: str | None = None
    processed: int = 0
    started: float | None = None
    finished: float | None = None
    abort: threading.Event = field(default_factory=threading.Event)

    def set_state(self, state: str) -> None:
        self.state = state
        self.modstamp = now_stamp()

    def millis(self) -> int:
        if self.started is None:
            return 0
        return int(((self.finished or time.monotonic()) - self.started) * 1000)

    def dialect(self) -> dict[str, Any]:
        return {"delimiter": DELIMITERS[self.column_delimiter], "lineterminator": LINE_ENDINGS[self.line_ending]}


@dataclass
class IngestJob(_Job):
    external_id_field: str | None = None
    uploads: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.object, "createdById": self.created_by,
            "createdDate": self.created[:-1] + "+0000", "systemModstamp": self.modstamp[:-1] + "+0000",
            "state": self.state, "externalIdFieldName": self.external_id_field, "concurrencyMode": "Parallel",
            "contentType": "CSV", "apiVersion": float(self.api_version), "jobType": "V2Ingest",
            "lineEnding": self.line_ending, "columnDelimiter": self.column_delimiter,
            "numberRecordsProcessed": self.processed, "numberRecordsFailed": len(self.failed), "retries": 0,
            "totalProcessingTime": self.millis(), "apiActiveProcessingTime": self.millis(),
            "apexProcessingTime": 0,
        }
        if self.state == "Open":
            body["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body


@dataclass
class QueryJob(_Job):
    query: str = ""
    compiled: Compiled | None = None
    rows: list[list[str]] = field(default_factory=list)
    """CSV cells, header row first."""

    def info(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.object, "createdById": self.created_by,
            "createdDate": self.created[:-1] + "+0000", "systemModstamp": self.modstamp[:-1] + "+0000",
            "state": self.state, "concurrencyMode": "Parallel", "contentType": "CSV",
            "apiVersion": float(self.api_version), "jobType": "V2Query", "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter, "numberRecordsProcessed": self.processed, "retries": 0,
            "totalProcessingTime": self.millis(),
        }
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body


class BulkService:
    """Bulk 2.0 jobs of one org and the worker thread that runs them."""

    def __init__(self, org: Org, writer: Writer, meter: Meter | None = None) -> None:
        self.org = org
        self.writer = writer
        self.meter = meter or Meter(daily_limit=100_000)
        self._jobs: dict[str, IngestJob | QueryJob] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        self._worker = threading.Thread(target=self._work, name="sf-standin-bulk", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            with self._lock:
                for job in self._jobs.values():
                    job.abort.set()
            self._queue.put(None)
            self._worker.join(timeout=10)
            self._worker = None

    def _new_id(self) -> str:
        return make_id(JOB_PREFIX, self.org.next_number("id:750"))

    def _get(self, job_id: str, kind: type[IngestJob] | type[QueryJob]) -> Any:
        with self._lock:
            job = self._jobs.get(job_id)
        if not isinstance(job, kind):
            raise not_found()
        return job

    @staticmethod
    def _format(body: dict[str, Any], job: _Job) -> None:
        line_ending = body.get("lineEnding", "LF")
        delimiter = body.get("columnDelimiter", "COMMA")
        if line_ending not in LINE_ENDINGS:
            raise _bad_request(f"Invalid lineEnding: {line_ending}")
        if delimiter not in DELIMITERS:
            raise _bad_request(f"Invalid columnDelimiter: {delimiter}")
        if body.get("contentType", "CSV") != "CSV":
            raise _bad_request("Only contentType CSV is supported")
        job.line_ending, job.column_delimiter = line_ending, delimiter

    # -- ingest -------------------------------------------------------------------------------

    def create_ingest(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        operation = body.get("operation")
        if operation not in INGEST_OPERATIONS:
            raise _bad_request(f"Invalid operation: {operation}")
        obj = sobject(str(body.get("object", "")))
        if obj is None:
            raise _bad_request(f"InvalidJob : Invalid object: {body.get('object')}")
        ext = body.get("externalIdFieldName")
        if operation == "upsert":
            if not ext:
                raise _bad_request("InvalidJob : externalIdFieldName is required for upsert")
            f = external_id_field(obj, str(ext))
            if f is None:
                raise _bad_request(f"InvalidJob : Field {ext} is not an External ID or Id field of {obj.name}")
            ext = f.name
        job = IngestJob(self._new_id(), operation, obj.name, version, self.org.user_id, external_id_field=ext)
        self._format(body, job)
        with self._lock:
            self._jobs[job.id] = job
        return job.info()

    def upload(self, job_id: str, data: bytes) -> None:
        job = self._get(job_id, IngestJob)
        if job.state != "Open":
            raise ApiError(409, "INVALIDJOBSTATE", f"Job {job_id} is not open for uploads (state {job.state})")
        if not data.strip():
            raise _bad_request("InvalidBatch : Empty CSV data", "INVALIDBATCH")
        job.uploads.append(data)

    def patch_ingest(self, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
        job = self._get(job_id, IngestJob)
        state = body.get("state")
        if state == "UploadComplete":
            if job.state != "Open":
                raise ApiError(409, "INVALIDJOBSTATE", f"Job {job_id} cannot move from {job.state} to {state}")
            job.set_state("UploadComplete")
            self._queue.put(job.id)
        elif state == "Aborted":
            self._abort(job)
        else:
            raise _bad_request(f"Invalid state: {state}", "INVALIDJOBSTATE")
        return job.info()

    def _abort(self, job: _Job) -> None:
        if job.state in ("JobComplete", "Failed", "Aborted"):
            raise ApiError(409, "INVALIDJOBSTATE", f"Job {job.id} is already {job.state}")
        job.abort.set()
        job.set_state("Aborted")

    def ingest_info(self, job_id: str) -> dict[str, Any]:
        return self._get(job_id, IngestJob).info()

    def ingest_results(self, job_id: str, kind: str) -> str:
        job: IngestJob = self._get(job_id, IngestJob)
        kind = kind.lower()
        if kind == "successfulresults":
            header, rows = ["sf__Id", "sf__Created", *job.header], job.successful
        elif kind == "failedresults":
            header, rows = ["sf__Id", "sf__Error", *job.header], job.failed
        elif kind == "unprocessedrecords":
            header, rows = list(job.header), job.unprocessed
        else:
            raise not_found()
        if job.state not in ("JobComplete", "Failed", "Aborted") and kind != "unprocessedrecords":
            raise ApiError(409, "INVALIDJOBSTATE", f"Job {job_id} is not finished (state {job.state})")
        return _write_csv([header, *rows] if header else [], job.dialect())

    def delete_job(self, job_id: str, kind: type[IngestJob] | type[QueryJob]) -> None:
        job = self._get(job_id, kind)
        if job.state in ("Open", "UploadComplete", "InProgress"):
            raise ApiError(409, "INVALIDJOBSTATE", f"Job {job_id} must be finished or aborted before deletion")
        with self._lock:
            self._jobs.pop(job_id, None)

    def list_jobs(self, kind: type[IngestJob] | type[QueryJob]) -> dict[str, Any]:
        with self._lock:
            jobs = [j.info() for j in self._jobs.values() if isinstance(j, kind)]
        return {"done": True, "records": jobs, "nextRecordsUrl": None}

    def _run_ingest(self, job: IngestJob) -> None:
        text = b"".join(job.uploads).decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.column_delimiter])
        rows = [r for r in reader if r]
        if not rows:
            self._fail(job, "InvalidBatch : No data rows")
            return
        job.header, data = rows[0], rows[1:]
        self.meter.consume("DailyBulkApiBatches", max(1, -(-len(data) // BULK_V2_ROWS_PER_BATCH)))
        obj = sobject(job.object)
        assert obj is not None
        problem = self._check_header(job, obj)
        if problem:
            job.unprocessed = data
            self._fail(job, problem)
            return
        key = job.external_id_field if job.operation == "upsert" else "Id"
        id_column = next((h for h in job.header if h.lower() == "id"), "Id")
        for n, cells in enumerate(data):
            if job.abort.is_set():
                job.unprocessed = data[n:]
                return
            record = dict(zip(job.header, cells, strict=False))
            row_id = record.get(id_column, "")
            try:
                created = False
                if len(cells) != len(job.header):
                    raise RecordError("INVALID_FIELD", "row has a different number of columns than the header")
                if job.operation == "insert":
                    record_id, created = self.writer.create(obj, record, source="csv"), True
                elif job.operation == "update":
                    record_id = self.writer.update(obj, record.pop(id_column, ""), record, source="csv")
                elif job.operation == "upsert":
                    f = obj.field(str(key))
                    assert f is not None
                    record_id, created = self.writer.upsert(obj, f, record.get(f.name, ""), record, source="csv")
                elif job.operation == "hardDelete":
                    record_id = self.writer.delete(obj, record.get(id_column, ""), hard=True)
                else:
                    record_id = self.writer.delete(obj, record.get(id_column, ""))
                job.successful.append([record_id, "true" if created else "false", *cells])
            except AmbiguousExternalId as exc:
                job.failed.append(["", exc.bulk_error(), *cells])
            except RecordError as exc:
                job.failed.append([row_id, Writer.per_record(exc).bulk_error(), *cells])
            job.processed += 1

    @staticmethod
    def _check_header(job: IngestJob, obj: Any) -> str | None:
        seen = set()
        for name in job.header:
            if obj.field(name) is None:
                return f"InvalidBatch : Field name not found : {name}"
            if name.lower() in seen:
                return f"InvalidBatch : Duplicate field name : {name}"
            seen.add(name.lower())
        lowered = {h.lower() for h in job.header}
        if job.operation in ("update", "delete", "hardDelete") and "id" not in lowered:
            return "InvalidBatch : Field name not found : Id"
        if job.operation in ("delete", "hardDelete") and len(job.header) != 1:
            return "InvalidBatch : The 'delete' batch must contain only ids"
        if job.operation == "upsert" and str(job.external_id_field).lower() not in lowered:
            return f"InvalidBatch : Field name not found : {job.external_id_field}"
        return None

    def _fail(self, job: _Job, message: str) -> None:
        job.error_message = message
        job.set_state("Failed")

    # -- query --------------------------------------------------------------------------------

    def create_query(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        operation = body.get("operation", "query")
        if operation not in QUERY_OPERATIONS:
            raise _bad_request(f"Invalid operation: {operation}")
        soql = body.get("query")
        if not isinstance(soql, str) or not soql.strip():
            raise _bad_request("InvalidJob : query is required")
        compiled = compile_soql(soql, include_deleted=operation == "queryAll", for_bulk=True)
        self.meter.consume("DailyBulkV2QueryJobs")
        job = QueryJob(self._new_id(), operation, compiled.obj.name, version, self.org.user_id, query=soql,
                       compiled=compiled, state="UploadComplete")
        self._format(body, job)
        with self._lock:
            self._jobs[job.id] = job
        self._queue.put(job.id)
        return job.info()

    def query_info(self, job_id: str) -> dict[str, Any]:
        return self._get(job_id, QueryJob).info()

    def patch_query(self, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
        job = self._get(job_id, QueryJob)
        if body.get("state") != "Aborted":
            raise _bad_request(f"Invalid state: {body.get('state')}", "INVALIDJOBSTATE")
        self._abort(job)
        return job.info()

    def query_results(self, job_id: str, locator: str | None, max_records: str | None) -> tuple[str, str, int]:
        """(CSV page, next locator or ``"null"``, rows in the page)."""
        job: QueryJob = self._get(job_id, QueryJob)
        if job.state != "JobComplete":
            raise ApiError(400, "INVALIDJOBSTATE", f"Job {job_id} is not complete (state {job.state})")
        start = _decode_locator(locator) if locator else 0
        try:
            size = int(max_records) if max_records else DEFAULT_MAX_RECORDS
        except ValueError:
            raise _bad_request(f"Invalid maxRecords: {max_records}", "INVALIDREQUEST") from None
        if size < 1:
            raise _bad_request("maxRecords must be positive", "INVALIDREQUEST")
        data = job.rows[1:]
        page = data[start:start + size]
        end = start + len(page)
        next_locator = _encode_locator(end) if end < len(data) else "null"
        return _write_csv([job.rows[0], *page], job.dialect(), quote_all=True), next_locator, len(page)

    def _run_query(self, job: QueryJob) -> None:
        assert job.compiled is not None
        rows = run(self.org, job.compiled)
        job.rows = csv_rows(job.compiled, rows)
        job.processed = len(rows)
        # Result storage is charged by size: every cell quoted, plus its delimiter.
        size = sum(len(cell) + 3 for row in job.rows for cell in row)
        self.meter.consume("DailyBulkV2QueryFileStorageMB", -(-size // 1_000_000))

    # -- worker -------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            with self._lock:
                job = self._jobs.get(job_id)
            if job is None or job.state == "Aborted":
                continue
            job.set_state("InProgress")
            job.started = time.monotonic()
            try:
                if isinstance(job, IngestJob):
                    self._run_ingest(job)
                else:
                    self._run_query(job)
            except Exception as exc:  # a bug must fail the job, not kill the worker
                log.exception("Bulk job %s failed", job.id)
                self._fail(job, f"InternalServerError : {type(exc).__name__}")
            job.finished = time.monotonic()
            if job.state == "InProgress":
                job.set_state("JobComplete")


def _write_csv(rows: list[list[str]], dialect: dict[str, Any], *, quote_all: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL, **dialect)
    writer.writerows(rows)
    return out.getvalue()


def _encode_locator(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(locator: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_request(f"Invalid locator: {locator}", "INVALIDLOCATOR") from None
