"""Request routing: the REST, Bulk 2.0, Bulk 1.0 query and OAuth surface, independent of the HTTP transport.

Every request is counted and passed through the fault injector first; then sessions and the
daily limit are checked, the call is answered, and REST/Bulk answers get ``Sforce-Limit-Info``.
Paths, status codes, bodies and headers follow Salesforce's REST API and Bulk API 2.0 guides
for the resources listed in docs/salesforce-standin.md; anything else is 404 NOT_FOUND.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote

from singer_sdk.singerlib.json import serialize_json

from connectors.salesforce.standin.bulk import BulkService, IngestJob, QueryJob
from connectors.salesforce.standin.bulk_v1 import Answer, AsyncError, BulkV1, error_answer
from connectors.salesforce.standin.errors import (
    ApiError,
    RecordError,
    invalid_session,
    json_parser_error,
    not_found,
)
from connectors.salesforce.standin.faults import FaultInjector, limit_exceeded
from connectors.salesforce.standin.ids import to_18
from connectors.salesforce.standin.metering import CallKind, Meter
from connectors.salesforce.standin.oauth import OAuth
from connectors.salesforce.standin.org import Org
from connectors.salesforce.standin.query import Cursor, CursorStore, batch_size, compile_soql, count, json_renderer, run
from connectors.salesforce.standin.schema import SOBJECTS, SObjectDef, sobject
from connectors.salesforce.standin.values import to_json
from connectors.salesforce.standin.writes import AmbiguousExternalId, Writer, external_id_field

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv; charset=UTF-8"  # without a charset, HTTP clients decode text/* as ISO-8859-1
MIN_VERSION, MAX_VERSION = 31, 64
COLLECTION_LIMIT = 200
ROLLED_BACK = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all "
               "records were valid and the request was using AllOrNone header", "fields": []}
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    """Close the connection without answering (an injected fault)."""


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, serialize_json(body).encode(), JSON_TYPE, dict(headers or {}))


def version_label(version: int) -> str:
    offset = version - 62  # v62.0 is Winter '25; three releases a year
    return f"{('Winter', 'Spring', 'Summer')[offset % 3]} '{25 + offset // 3:02d}"


class _Aborted(Exception):
    """Rolls an allOrNone request's savepoint back."""


class Api:
    def __init__(self, *, org: Org, oauth: OAuth, meter: Meter, faults: FaultInjector, writer: Writer,
                 bulk: BulkService, base_url: Callable[[], str], bulk_v1: BulkV1 | None = None) -> None:
        self.org = org
        self.oauth = oauth
        self.meter = meter
        self.faults = faults
        self.writer = writer
        self.bulk = bulk
        self.bulk_v1 = bulk_v1 or BulkV1(org, meter)
        self.base_url = base_url
        self.cursors = CursorStore()

    # -- entry point --------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        kind: CallKind | None
        if path.startswith("/services/oauth2/"):
            kind = "auth"
        elif path.startswith("/services/data/v"):
            kind = "bulk" if path.split("/")[4:5] == ["jobs"] else "rest"
        elif path.startswith("/services/async/"):
            kind = "bulk"
        elif path == "/services/data":
            return json_response(200, self.versions())
        else:
            return json_response(404, not_found().body())
        is_async = kind == "bulk" and path.startswith("/services/async/")
        # Query jobs (Bulk 2.0 /jobs/query, every Bulk 1.0 job the stand-in takes) change no data.
        write = kind != "auth" and req.method in WRITE_METHODS and "/jobs/query" not in path and not is_async
        calls_before = self.meter.record(kind, write=write)
        decision = self.faults.decide(data_call=kind != "auth", calls_before=calls_before)
        if decision.delay:
            time.sleep(decision.delay)
        if decision.drop:
            return Response(0, drop=True)
        if decision.expire_sessions:
            self.oauth.revoke_all()
        try:
            if decision.error is not None:
                raise decision.error
            if kind == "auth":
                return self.auth(req, path)
            authorization = req.headers.get("Authorization")
            session = req.headers.get("X-SFDC-Session")  # how Bulk API 1.0 clients send the token
            if not self.oauth.valid(authorization or (f"Bearer {session}" if session else None)):
                raise invalid_session()
            if self.meter.exhausted():
                raise limit_exceeded()
            response = self.async_call(req, path) if is_async else self.data(req, path)
        except ApiError as exc:
            response = (self._async_answer(error_answer(AsyncError.from_api_error(exc), _wire(req)))
                        if is_async else json_response(exc.status, exc.body(), exc.headers))
        except RecordError as exc:
            response = json_response(400, exc.as_api_error().body())
        if kind != "auth" and not is_async:  # Bulk API 1.0 answers carry no Sforce-Limit-Info
            response.headers["Sforce-Limit-Info"] = self.meter.limit_info()
        return response

    def versions(self) -> list[dict[str, str]]:
        return [{"label": version_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
                for v in range(MIN_VERSION, MAX_VERSION + 1)]

    # -- oauth --------------------------------------------------------------------------------

    def auth(self, req: Request, path: str) -> Response:
        if req.method != "POST":
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed. Allowed are POST")
        form = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        form.update({k: v for k, v in ((k, req.param(k)) for k in req.query) if v is not None and k not in form})
        if path == "/services/oauth2/revoke":
            self.oauth.revoke(form.get("token", ""))
            return Response(200)
        if path != "/services/oauth2/token":
            raise not_found()
        answer = self.oauth.token(form, req.headers, self.base_url())
        return json_response(answer.status, answer.body, {"Cache-Control": "no-cache,must-revalidate,max-age=0,"
                                                          "no-store,private", "Pragma": "no-cache"})

    # -- Bulk API 1.0 -------------------------------------------------------------------------

    def async_call(self, req: Request, path: str) -> Response:
        parts = [unquote(p) for p in path.split("/")[3:]]
        try:
            major, minor = parts[0].split(".")
            if not (MIN_VERSION <= int(major) <= MAX_VERSION and minor == "0"):
                raise ValueError
        except ValueError:
            return self._async_answer(error_answer(AsyncError(404, "InvalidVersion", f"Invalid version: {parts[0]}"),
                                                   _wire(req)))
        try:
            answer = self.bulk_v1.handle(req.method, parts[0], parts[1:], req.headers.get("Content-Type") or "",
                                         req.body)
        except AsyncError as exc:
            answer = error_answer(exc, _wire(req))
        return self._async_answer(answer)

    @staticmethod
    def _async_answer(answer: Answer) -> Response:
        return Response(answer.status, answer.body, answer.content_type)

    # -- data API -----------------------------------------------------------------------------

    def data(self, req: Request, path: str) -> Response:
        parts = [unquote(p) for p in path.split("/")[3:]]
        version_text = parts[0][1:]
        try:
            major, minor = version_text.split(".")
            supported = MIN_VERSION <= int(major) <= MAX_VERSION and minor == "0"
        except ValueError:
            supported = False
        if not supported:
            raise not_found()
        rest = parts[1:]
        head = rest[0] if rest else ""
        if not rest:
            self._allow(req, "GET")
            return json_response(200, self.resources(version_text))
        if head == "limits" and len(rest) == 1:
            self._allow(req, "GET")
            return json_response(200, self.limits())
        if head == "sobjects":
            return self.sobjects(req, version_text, rest[1:])
        if head in ("query", "queryAll") and len(rest) <= 2:
            self._allow(req, "GET")
            return self.query(req, version_text, head, rest[1] if len(rest) == 2 else None)
        if rest[:2] == ["composite", "sobjects"]:
            return self.collections(req, version_text, rest[2:])
        if head == "jobs" and len(rest) >= 2 and rest[1] in ("ingest", "query"):
            return self.jobs(req, version_text, rest[1], rest[2:])
        raise not_found()

    @staticmethod
    def _allow(req: Request, *methods: str) -> None:
        if req.method not in methods and not (req.method == "HEAD" and "GET" in methods):
            raise ApiError(405, "METHOD_NOT_ALLOWED",
                           f"HTTP Method '{req.method}' not allowed. Allowed are {','.join(methods)}")

    @staticmethod
    def _json_body(req: Request) -> Any:
        if not req.body.strip():
            raise json_parser_error("No content to map due to end-of-input")
        try:
            return json.loads(req.body, parse_float=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            line, col = (exc.lineno, exc.colno) if isinstance(exc, json.JSONDecodeError) else (1, 1)
            raise json_parser_error(f"Unexpected character: malformed JSON at [line:{line}, column:{col}]") from None

    def resources(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}"
        return {name: f"{base}/{name}" for name in ("sobjects", "query", "queryAll", "limits", "composite", "jobs")}

    def limits(self) -> dict[str, Any]:
        return self.meter.limits()

    # -- sObject resources --------------------------------------------------------------------

    def _object(self, name: str) -> SObjectDef:
        obj = sobject(name)
        if obj is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return obj

    def _record_url(self, version: str, obj: SObjectDef, record_id: str) -> str:
        return f"/services/data/v{version}/sobjects/{obj.name}/{record_id}"

    def _record(self, version: str, obj: SObjectDef, row: Mapping[str, Any],
                fields: list[str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {"type": obj.name, "url": self._record_url(version, obj, row["Id"])}}
        wanted = obj.fields if fields is None else [obj.by_lower[f.lower()] for f in fields]
        for f in wanted:
            if f.compound:
                prefix = f.name.removesuffix("Address")
                parts = {c.removeprefix(prefix): row.get(c) for c in f.components}
                out[f.name] = None if all(v is None for v in parts.values()) else {
                    "city": parts.get("City"), "country": parts.get("Country"), "geocodeAccuracy": None,
                    "latitude": None, "longitude": None, "postalCode": parts.get("PostalCode"),
                    "state": parts.get("State"), "street": parts.get("Street")}
            else:
                out[f.name] = to_json(f, row.get(f.name))
        return out

    def _fields_param(self, req: Request, obj: SObjectDef) -> list[str] | None:
        raw = req.param("fields")
        if not raw:
            return None
        names = [n.strip() for n in raw.split(",") if n.strip()]
        bad = [n for n in names if obj.field(n) is None]
        if bad:
            raise ApiError(400, "INVALID_FIELD", f"No such column '{bad[0]}' on entity '{obj.name}'", [bad[0]])
        return names

    def sobjects(self, req: Request, version: str, rest: list[str]) -> Response:
        if not rest:
            self._allow(req, "GET")
            return json_response(200, {"encoding": "UTF-8", "maxBatchSize": 200,
                                       "sobjects": [o.summary(version) for o in SOBJECTS.values()]})
        obj = self._object(rest[0])
        if len(rest) == 1:
            self._allow(req, "GET", "POST")
            if req.method == "POST":
                return self._create(req, version, obj)
            return json_response(200, {"objectDescribe": obj.summary(version), "recentItems": []})
        if len(rest) == 2 and rest[1] == "describe":
            self._allow(req, "GET")
            return json_response(200, obj.describe(version))
        if len(rest) == 2:
            if rest[1] == "Id" and req.method == "POST":  # POST .../sobjects/Account/Id creates (API 37.0+)
                return self._create(req, version, obj)
            return self._one_record(req, version, obj, rest[1])
        if len(rest) == 3:
            return self._by_external_id(req, version, obj, rest[1], rest[2])
        raise not_found()

    def _create(self, req: Request, version: str, obj: SObjectDef) -> Response:
        body = self._json_body(req)
        if not isinstance(body, dict):
            raise json_parser_error("Cannot deserialize instance of sObject out of START_ARRAY token")
        record_id = self.writer.create(obj, body)
        return json_response(201, {"id": record_id, "success": True, "errors": []})

    def _one_record(self, req: Request, version: str, obj: SObjectDef, record_id: str) -> Response:
        self._allow(req, "GET", "PATCH", "DELETE")
        row = self.org.row(obj, record_id)
        if row is None or row["Id"][:3] != obj.key_prefix:
            # Only a value that is not id-shaped is read as an external id field name; a well-formed
            # id of no record is plainly not found, as Salesforce answers.
            if req.method == "GET" and to_18(record_id) is None and obj.field(record_id) is None:
                raise not_found(f"Provided external ID field does not exist or is not accessible: {record_id}")
            raise not_found()
        if req.method == "GET":
            if row["IsDeleted"]:
                raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
            return json_response(200, self._record(version, obj, row, self._fields_param(req, obj)))
        if req.method == "DELETE":
            self.writer.delete(obj, row["Id"])
            return Response(204)
        body = self._json_body(req)
        if not isinstance(body, dict):
            raise json_parser_error("Cannot deserialize instance of sObject out of START_ARRAY token")
        given_id = body.pop("Id", None)
        if given_id is not None and given_id not in (row["Id"], row["Id"][:15]):
            raise ApiError(400, "INVALID_ID_FIELD", "The Id field should not be specified in the sobject data.")
        self.writer.update(obj, row["Id"], body)
        return Response(204)

    def _by_external_id(self, req: Request, version: str, obj: SObjectDef, field_name: str, value: str) -> Response:
        self._allow(req, "GET", "PATCH", "DELETE", "POST")
        f = external_id_field(obj, field_name)
        if f is None:
            raise not_found(f"Provided external ID field does not exist or is not accessible: {field_name}")
        matches = self.org.ids_by_external(obj, f, value)
        if len(matches) > 1:
            urls = [self._record_url(version, obj, m) for m in matches]
            return json_response(300, urls)
        if req.method == "GET":
            if not matches:
                raise not_found()
            row = self.org.row(obj, matches[0])
            assert row is not None
            return json_response(200, self._record(version, obj, row, self._fields_param(req, obj)))
        if req.method == "DELETE":
            if not matches:
                raise not_found()
            self.writer.delete(obj, matches[0])
            return Response(204)
        body = self._json_body(req)
        if not isinstance(body, dict):
            raise json_parser_error("Cannot deserialize instance of sObject out of START_ARRAY token")
        if req.method == "POST" and matches:
            raise ApiError(400, "DUPLICATE_EXTERNAL_ID", f"{f.name} already used by {matches[0]}", [f.name])
        try:
            record_id, created = self.writer.upsert(obj, f, value, body)
        except AmbiguousExternalId as exc:  # created concurrently between the look-up and the write
            return json_response(300, [self._record_url(version, obj, m) for m in exc.ids])
        result = {"id": record_id, "success": True, "errors": []}
        if float(version) >= 46:
            result["created"] = created
            return json_response(201 if created else 200, result)
        return json_response(201, result) if created else Response(204)

    # -- query --------------------------------------------------------------------------------

    def query(self, req: Request, version: str, resource: str, locator: str | None) -> Response:
        size = batch_size(req.headers.get("Sforce-Query-Options"))
        if locator is not None:
            cursor_id, _, offset = locator.rpartition("-")
            cursor = self.cursors.get(cursor_id)
            if cursor is None or not offset.isdigit():
                raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            if size:
                cursor.batch_size = size
            return json_response(200, self.cursors.page(cursor, cursor_id, int(offset)))
        soql = req.param("q")
        if not soql:
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        compiled = compile_soql(soql, include_deleted=resource == "queryAll")
        if compiled.count:
            return json_response(200, {"totalSize": count(self.org, compiled), "done": True, "records": []})
        cursor = Cursor(run(self.org, compiled), json_renderer(compiled, version), size or 2000, resource, version)
        return json_response(200, self.cursors.page(cursor, None, 0))

    # -- sObject Collections ------------------------------------------------------------------

    def collections(self, req: Request, version: str, rest: list[str]) -> Response:
        if not rest:
            self._allow(req, "POST", "PATCH", "DELETE")
            if req.method == "DELETE":
                ids = [i for i in (req.param("ids") or "").split(",") if i]
                all_or_none = (req.param("allOrNone") or "false").lower() == "true"
                self._check_size(len(ids))
                return json_response(200, self._apply(ids, all_or_none, self._delete_one))
            records, all_or_none = self._collection_body(req)
            one = self._create_one if req.method == "POST" else self._update_one
            return json_response(200, self._apply(records, all_or_none, one))
        obj = self._object(rest[0])
        if len(rest) == 1:
            self._allow(req, "GET")
            return json_response(200, self._retrieve(req, version, obj))
        if len(rest) == 2:
            self._allow(req, "PATCH")
            f = external_id_field(obj, rest[1])
            if f is None:
                raise not_found(f"Provided external ID field does not exist or is not accessible: {rest[1]}")
            records, all_or_none = self._collection_body(req)

            def key(record: Any) -> Any:
                return next((v for k, v in record.items() if k.lower() == f.name.lower()), None) \
                    if isinstance(record, dict) else None

            # An external id twice in one request fails both records: Salesforce cannot order them.
            seen = Counter(k.lower() for k in map(key, records) if isinstance(k, str))

            def upsert_one(record: Any) -> dict[str, Any]:
                if self._record_type(record, default=obj) is not obj:
                    raise RecordError("INVALID_TYPE", f"records must all be {obj.name}")
                value = key(record)
                if isinstance(value, str) and seen[value.lower()] > 1:
                    raise RecordError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [f.name])
                record_id, created = self.writer.upsert(obj, f, value, _without_attributes(record))
                return {"id": record_id, "success": True, "errors": [], "created": created}

            return json_response(200, self._apply(records, all_or_none, upsert_one))
        raise not_found()

    @staticmethod
    def _check_size(n: int) -> None:
        if n > COLLECTION_LIMIT:
            raise ApiError(400, "EXCEEDED_ID_LIMIT",
                           f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call")

    def _collection_body(self, req: Request) -> tuple[list[Any], bool]:
        body = self._json_body(req)
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise json_parser_error("Expected an object with a 'records' array")
        records = body["records"]
        self._check_size(len(records))
        all_or_none = body.get("allOrNone", False)
        if not isinstance(all_or_none, bool):
            raise json_parser_error("allOrNone must be true or false")
        return records, all_or_none

    @staticmethod
    def _record_type(record: Any, *, default: SObjectDef | None = None) -> SObjectDef:
        if not isinstance(record, dict):
            raise json_parser_error("Cannot deserialize instance of sObject")
        attributes = record.get("attributes")
        name = attributes.get("type") if isinstance(attributes, dict) else None
        if not name:
            if default is not None:
                return default
            raise RecordError("INVALID_TYPE", "Must send a concrete entity type.")
        obj = sobject(str(name))
        if obj is None:
            raise RecordError("INVALID_TYPE", f"sObject type '{name}' is not supported.")
        return obj

    def _create_one(self, record: Any) -> dict[str, Any]:
        obj = self._record_type(record)
        if any(k.lower() == "id" for k in record):
            raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        return {"id": self.writer.create(obj, _without_attributes(record)), "success": True, "errors": []}

    def _update_one(self, record: Any) -> dict[str, Any]:
        obj = self._record_type(record)
        body = _without_attributes(record)
        record_id = next((body.pop(k) for k in list(body) if k.lower() == "id"), None)
        if not record_id:
            raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        return {"id": self.writer.update(obj, str(record_id), body), "success": True, "errors": []}

    def _delete_one(self, record_id: Any) -> dict[str, Any]:
        obj = next((o for o in SOBJECTS.values() if str(record_id).startswith(o.key_prefix)), None)
        if obj is None:
            raise RecordError("MALFORMED_ID", f"malformed id {record_id}")
        return {"id": self.writer.delete(obj, str(record_id)), "success": True, "errors": []}

    def _apply(self, items: list[Any], all_or_none: bool,
               one: Callable[[Any], dict[str, Any]]) -> list[dict[str, Any]]:
        """One result per item in input order; with allOrNone, any failure rolls every write back."""
        results: list[dict[str, Any]] = []
        failed = False

        def attempt(item: Any) -> None:
            nonlocal failed
            try:
                results.append(one(item))
            except RecordError as exc:
                failed = True
                results.append({"success": False, "errors": [Writer.per_record(exc).result_error()]})

        if not all_or_none:
            for item in items:
                attempt(item)
            return results
        try:
            with self.org.transaction():
                for item in items:
                    attempt(item)
                if failed:
                    raise _Aborted
        except _Aborted:
            results = [r if not r["success"] else {"success": False, "errors": [ROLLED_BACK]} for r in results]
        return results

    def _retrieve(self, req: Request, version: str, obj: SObjectDef) -> list[dict[str, Any] | None]:
        ids = [i for i in (req.param("ids") or "").split(",") if i]
        self._check_size(len(ids))
        fields = self._fields_param(req, obj)
        if fields is None:
            raise ApiError(400, "MISSING_ARGUMENT", "fields is required")
        out: list[dict[str, Any] | None] = []
        for record_id in ids:
            row = self.org.row(obj, record_id)
            out.append(None if row is None or row["IsDeleted"] else self._record(version, obj, row, fields))
        return out

    # -- Bulk API 2.0 -------------------------------------------------------------------------

    def jobs(self, req: Request, version: str, kind: str, rest: list[str]) -> Response:
        bulk = self.bulk
        job_type = IngestJob if kind == "ingest" else QueryJob
        if not rest:
            self._allow(req, "GET", "POST")
            if req.method == "GET":
                return json_response(200, bulk.list_jobs(job_type))
            body = self._json_body(req)
            if not isinstance(body, dict):
                raise json_parser_error("Expected a job object")
            info = bulk.create_ingest(body, version) if kind == "ingest" else bulk.create_query(body, version)
            return json_response(200, info)
        job_id = rest[0]
        if len(rest) == 1:
            self._allow(req, "GET", "PATCH", "DELETE")
            if req.method == "GET":
                return json_response(200, bulk.ingest_info(job_id) if kind == "ingest" else bulk.query_info(job_id))
            if req.method == "DELETE":
                bulk.delete_job(job_id, job_type)
                return Response(204)
            body = self._json_body(req)
            if not isinstance(body, dict):
                raise json_parser_error("Expected a job state object")
            info = bulk.patch_ingest(job_id, body) if kind == "ingest" else bulk.patch_query(job_id, body)
            return json_response(200, info)
        if len(rest) == 2 and kind == "ingest" and rest[1] == "batches":
            self._allow(req, "PUT")
            bulk.upload(job_id, req.body)
            return Response(201)
        if len(rest) == 2 and kind == "ingest":
            self._allow(req, "GET")
            return Response(200, bulk.ingest_results(job_id, rest[1]).encode(), CSV_TYPE)
        if len(rest) == 2 and rest[1] == "results":
            self._allow(req, "GET")
            text, locator, n = bulk.query_results(job_id, req.param("locator"), req.param("maxRecords"))
            return Response(200, text.encode(), CSV_TYPE,
                            {"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(n)})
        raise not_found()


def _wire(req: Request) -> str:
    """The format a Bulk API 1.0 error is answered in: the request's, else XML."""
    return "json" if "json" in (req.headers.get("Content-Type") or "").lower() else "xml"


def _without_attributes(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "attributes"}
