"""Bulk API 1.0 (``/services/async/{version}/job...``): query and queryAll jobs.

The classic Bulk API that singer-io's tap-salesforce, simple-salesforce's ``sf.bulk`` and Data
Loader still use: create a job, add a batch whose body is the SOQL, poll the batch, list its
result ids, fetch each result, close the job. Requests and answers follow the Bulk API 1.0
guide: a job created with an XML body is answered in XML, with a JSON body in JSON; batch
answers are XML for CSV and XML jobs and JSON for JSON jobs; results are CSV (every cell quoted,
null an empty cell) or, for a JSON job, a JSON array whose dateTime and date values are epoch
milliseconds, as Salesforce returns them. Errors are Bulk 1.0's own shape,
``<error><exceptionCode>…</exceptionCode><exceptionMessage>…</exceptionMessage></error>`` (or
its JSON twin), not REST's array.

A query batch runs when it is added (its rows are the snapshot at that moment) and is
``Completed`` from the first poll on; the answer to the add itself says ``Queued``, as
Salesforce's does. Each batch charges one ``DailyBulkApiBatches``. Ingest operations (insert,
update, upsert, delete, hardDelete) are answered ``FeatureNotEnabled``: the stand-in takes
ingest through Bulk API 2.0 only.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from connectors.salesforce.standin.errors import ApiError
from connectors.salesforce.standin.ids import make_id
from connectors.salesforce.standin.metering import Meter
from connectors.salesforce.standin.org import Org
from connectors.salesforce.standin.query import Compiled, compile_soql, csv_rows, run
from connectors.salesforce.standin.schema import sobject
from connectors.salesforce.standin.values import now_stamp

NS = "http://www.force.com/2009/06/asyncapi/dataload"
XML_TYPE = "application/xml; charset=UTF-8"
JSON_TYPE = "application/json"
CSV_TYPE = "text/csv; charset=UTF-8"  # without a charset, HTTP clients decode text/* as ISO-8859-1
QUERY_OPERATIONS = ("query", "queryAll")
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
CONTENT_TYPES = ("CSV", "JSON", "XML")
RESULT_ROWS = 100_000
"""Rows per result file (Salesforce splits results into files of up to 1 GB)."""

# REST error codes raised by shared code (sessions, limits, faults) as Bulk 1.0 exception codes.
_EXCEPTION_CODES = {"INVALID_SESSION_ID": "InvalidSessionId", "REQUEST_LIMIT_EXCEEDED": "ExceededQuota",
                    "NOT_FOUND": "InvalidUrl", "METHOD_NOT_ALLOWED": "InvalidUrl"}


class AsyncError(Exception):
    """One Bulk 1.0 error answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def from_api_error(cls, exc: ApiError) -> AsyncError:
        return cls(400 if exc.status == 401 else exc.status, _EXCEPTION_CODES.get(exc.error_code, exc.error_code),
                   exc.message)


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str


@dataclass
class _Batch:
    id: str
    job_id: str
    state: str = "Queued"
    state_message: str | None = None
    created: str = field(default_factory=now_stamp)
    modstamp: str = field(default_factory=now_stamp)
    processed: int = 0
    millis: int = 0
    results: list[str] = field(default_factory=list)
    """Result ids, each a slice of ``rows``."""
    compiled: Compiled | None = None
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "jobId": self.job_id, "state": self.state}
        if self.state_message:
            body["stateMessage"] = self.state_message
        body.update({"createdDate": self.created, "systemModstamp": self.modstamp,
                     "numberRecordsProcessed": self.processed, "numberRecordsFailed": 0,
                     "totalProcessingTime": self.millis, "apiActiveProcessingTime": self.millis,
                     "apexProcessingTime": 0})
        return body


@dataclass
class _Job:
    id: str
    operation: str
    object: str
    content_type: str
    api_version: str
    created_by: str
    wire: str
    """How the job was created (xml or json): its answers use the same format."""
    state: str = "Open"
    created: str = field(default_factory=now_stamp)
    modstamp: str = field(default_factory=now_stamp)
    batches: dict[str, _Batch] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        states = [b.state for b in self.batches.values()]
        return {
            "id": self.id, "operation": self.operation, "object": self.object, "createdById": self.created_by,
            "createdDate": self.created, "systemModstamp": self.modstamp, "state": self.state,
            "concurrencyMode": "Parallel", "contentType": self.content_type,
            "numberBatchesQueued": states.count("Queued"), "numberBatchesInProgress": states.count("InProgress"),
            "numberBatchesCompleted": states.count("Completed"), "numberBatchesFailed": states.count("Failed"),
            "numberBatchesTotal": len(states),
            "numberRecordsProcessed": sum(b.processed for b in self.batches.values()), "numberRetries": 0,
            "apiVersion": float(self.api_version), "numberRecordsFailed": 0,
            "totalProcessingTime": sum(b.millis for b in self.batches.values()), "apiActiveProcessingTime": 0,
            "apexProcessingTime": 0,
        }


class BulkV1:
    """Bulk API 1.0 query jobs of one org."""

    def __init__(self, org: Org, meter: Meter, result_rows: int = RESULT_ROWS) -> None:
        self.org = org
        self.meter = meter
        self.result_rows = result_rows
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()

    # -- routing ------------------------------------------------------------------------------

    def handle(self, method: str, version: str, rest: list[str], content_type: str, body: bytes) -> Answer:
        """``rest`` is the path after ``/services/async/{version}/``."""
        if rest[:1] != ["job"] or len(rest) > 6:
            raise AsyncError(404, "InvalidUrl", "Unknown URL for the Bulk API")
        if len(rest) == 1:
            _allow(method, "POST")
            return self.create_job(version, content_type, body)
        job = self._job(rest[1])
        if len(rest) == 2:
            _allow(method, "GET", "POST")
            if method == "POST":
                self.change_state(job, content_type, body)
            return _render(job.wire, "jobInfo", job.info())
        if rest[2] != "batch":
            raise AsyncError(404, "InvalidUrl", "Unknown URL for the Bulk API")
        batch_wire = "json" if job.content_type == "JSON" else "xml"
        if len(rest) == 3:
            _allow(method, "GET", "POST")
            if method == "GET":
                infos = [b.info() for b in job.batches.values()]
                if batch_wire == "json":
                    return _json(200, {"batchInfo": infos})
                return Answer(200, _xml_document("batchInfoList", "".join(_xml_element("batchInfo", i)
                                                                          for i in infos)), XML_TYPE)
            return _render(batch_wire, "batchInfo", self.add_batch(job, body).info())
        batch = job.batches.get(rest[3])
        if batch is None:
            raise AsyncError(400, "InvalidBatch", f"Invalid batch id: {rest[3]}")
        _allow(method, "GET")
        if len(rest) == 4:
            return _render(batch_wire, "batchInfo", batch.info())
        if rest[4] != "result":
            raise AsyncError(404, "InvalidUrl", "Unknown URL for the Bulk API")
        if batch.state != "Completed":
            raise AsyncError(400, "InvalidBatch", f"Batch not completed: {batch.state}")
        if len(rest) == 5:
            if batch_wire == "json":
                return _json(200, list(batch.results))
            return Answer(200, _xml_document("result-list", "".join(f"<result>{r}</result>" for r in batch.results)),
                          XML_TYPE)
        return self.result(job, batch, rest[5])

    # -- jobs ---------------------------------------------------------------------------------

    def create_job(self, version: str, content_type: str, body: bytes) -> Answer:
        wire = _wire(content_type)
        fields = _read_body(wire, body, "jobInfo")
        operation = str(fields.get("operation") or "")
        if operation in INGEST_OPERATIONS:
            raise AsyncError(400, "FeatureNotEnabled", f"Bulk API 1.0 '{operation}' jobs are not available in "
                             "this org; use Bulk API 2.0 ingest (/services/data/vXX.X/jobs/ingest)")
        if operation not in QUERY_OPERATIONS:
            raise AsyncError(400, "InvalidJob", f"Invalid operation: {operation or '(none)'}")
        obj = sobject(str(fields.get("object") or ""))
        if obj is None:
            raise AsyncError(400, "InvalidJob", f"Unable to find object: {fields.get('object')}")
        content = str(fields.get("contentType") or "XML")
        if content not in CONTENT_TYPES:
            raise AsyncError(400, "InvalidJob", f"Invalid content type: {content}")
        job = _Job(make_id("750", self.org.next_number("id:750")), operation, obj.name, content, version,
                   self.org.user_id, wire)
        with self._lock:
            self._jobs[job.id] = job
        return _render(wire, "jobInfo", job.info(), status=201)

    def _job(self, job_id: str) -> _Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise AsyncError(400, "InvalidJob", f"Invalid job id: {job_id}")
        return job

    def change_state(self, job: _Job, content_type: str, body: bytes) -> None:
        state = _read_body(_wire(content_type), body, "jobInfo").get("state")
        if state not in ("Closed", "Aborted"):
            raise AsyncError(400, "InvalidJob", f"Invalid state: {state}")
        if job.state != "Open" and not (job.state == state):
            raise AsyncError(400, "InvalidJobState", f"Job {job.id} is {job.state}; it cannot become {state}")
        job.state = str(state)
        job.modstamp = now_stamp()

    # -- batches ------------------------------------------------------------------------------

    def add_batch(self, job: _Job, body: bytes) -> _Batch:
        if job.state != "Open":
            raise AsyncError(400, "InvalidJobState", f"Job {job.id} is not open (state {job.state})")
        soql = body.decode("utf-8", "replace").strip()
        if not soql:
            raise AsyncError(400, "InvalidBatch", "Empty batch: the batch must hold the SOQL query")
        batch = _Batch(make_id("751", self.org.next_number("id:751")), job.id)
        self.meter.consume("DailyBulkApiBatches")
        queued = dataclasses.replace(batch)  # the answer to the add: Queued, as Salesforce's
        started = time.monotonic()
        try:
            compiled = compile_soql(soql, include_deleted=job.operation == "queryAll", for_bulk=True)
            if compiled.obj.name != job.object:
                raise ApiError(400, "INVALID_TYPE", f"the query must be on the job's object {job.object}")
            batch.compiled = compiled
            batch.rows = run(self.org, compiled)
            batch.processed = len(batch.rows)
            count = max(1, -(-len(batch.rows) // self.result_rows))
            batch.results = [make_id("752", self.org.next_number("id:752")) for _ in range(count)]
            batch.state = "Completed"
        except ApiError as exc:
            batch.state = "Failed"
            batch.state_message = f"InvalidBatch : Failed to process query: {exc.error_code}: {exc.message.strip()}"
        batch.millis = int((time.monotonic() - started) * 1000)
        batch.modstamp = now_stamp()
        job.batches[batch.id] = batch
        return queued

    def result(self, job: _Job, batch: _Batch, result_id: str) -> Answer:
        if result_id not in batch.results:
            raise AsyncError(400, "InvalidBatch", f"Invalid result id: {result_id}")
        n = batch.results.index(result_id)
        rows = batch.rows[n * self.result_rows:(n + 1) * self.result_rows]
        assert batch.compiled is not None
        if job.content_type == "JSON":
            return _json(200, _json_records(batch.compiled, rows, job.api_version))
        if job.content_type == "XML":
            raise AsyncError(400, "FeatureNotEnabled", "XML query results are not available in this org; "
                             "create the job with contentType CSV or JSON")
        out = io.StringIO()
        csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(csv_rows(batch.compiled, rows))
        return Answer(200, out.getvalue().encode(), CSV_TYPE)


# -- rendering ------------------------------------------------------------------------------------

def _allow(method: str, *methods: str) -> None:
    if method not in methods:
        raise AsyncError(405, "InvalidUrl", f"HTTP Method '{method}' not allowed. Allowed are {','.join(methods)}")


def _wire(content_type: str) -> str:
    return "json" if "json" in content_type.lower() else "xml"


def _read_body(wire: str, body: bytes, root: str) -> dict[str, Any]:
    if wire == "json":
        try:
            data = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise AsyncError(400, "InvalidJob", "Unable to parse the JSON request") from None
        if not isinstance(data, dict):
            raise AsyncError(400, "InvalidJob", "Expected a JSON object")
        return data
    try:
        element = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise AsyncError(400, "XMLParserError", "Unable to parse the XML request") from None
    if element.tag not in (root, f"{{{NS}}}{root}"):
        raise AsyncError(400, "InvalidJob", f"Expected a {root} element")
    return {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in element}


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _xml_fields(fields: dict[str, Any]) -> str:
    return "".join(f"<{k}>{_xml_value(v)}</{k}>" for k, v in fields.items() if v is not None)


def _xml_element(name: str, fields: dict[str, Any]) -> str:
    return f"<{name}>{_xml_fields(fields)}</{name}>"


def _xml_document(root: str, inner: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{NS}">{inner}</{root}>'.encode()


def _render(wire: str, root: str, fields: dict[str, Any], status: int = 200) -> Answer:
    if wire == "json":
        return _json(status, {k: (_json_stamp(v) if k in ("createdDate", "systemModstamp") else v)
                              for k, v in fields.items()})
    return Answer(status, _xml_document(root, _xml_fields(fields)), XML_TYPE)


def _json_stamp(stored: str) -> str:
    return stored[:-1] + "+0000"


def _json(status: int, body: Any) -> Answer:
    return Answer(status, json.dumps(body).encode(), JSON_TYPE)


def error_answer(exc: AsyncError, wire: str) -> Answer:
    if wire == "json":
        return _json(exc.status, {"exceptionCode": exc.code, "exceptionMessage": exc.message})
    inner = f"<exceptionCode>{escape(exc.code)}</exceptionCode><exceptionMessage>{escape(exc.message)}" \
            "</exceptionMessage>"
    return Answer(exc.status, _xml_document("error", inner), XML_TYPE)


def _epoch_millis(storage: str, value: Any) -> Any:
    if value is None:
        return None
    if storage == "datetime":
        return int(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp() * 1000)
    moment = date.fromisoformat(value)
    return int(datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp() * 1000)


def _json_records(compiled: Compiled, rows: list[tuple[Any, ...]], version: str) -> list[dict[str, Any]]:
    index = {name: i for i, name in enumerate(compiled.fetched)}
    out = []
    for row in rows:
        record: dict[str, Any] = {"attributes": {"type": compiled.obj.name,
                                                 "url": f"/services/data/v{version}/sobjects/{compiled.obj.name}/"
                                                        f"{row[0]}"}}
        for f in compiled.fields:
            value = row[index[f.name]]
            if f.storage in ("datetime", "date"):
                value = _epoch_millis(f.storage, value)
            elif f.storage == "bool":
                value = bool(value)
            elif f.storage == "currency" and value is not None:
                value = float(value)
            record[f.name] = value
        out.append(record)
    return out
