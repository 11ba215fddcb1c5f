"""sObject Collections writes: up to 200 records per call, one result per record, in input order.

``allOrNone`` is false, so one bad row (a lock, a validation rule) fails alone and the others are
saved; the caller gets every row's outcome and decides what to retry. A call is attempted once:
a TransientError means its outcome is unknown, and the caller reads the records to find out. Bodies are serialised with
Decimals written digit for digit, so money never passes through a float on its way out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from singer_sdk.singerlib.json import serialize_json

from connectors.salesforce.client.errors import SalesforceError
from connectors.salesforce.client.rest import SalesforceClient
from connectors.salesforce.client.write_once import request_once

MAX_RECORDS = 200
"""Salesforce's limit per sObject Collections request."""


@dataclass(frozen=True)
class RecordError:
    code: str
    message: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordResult:
    """One record's outcome, as Salesforce reports it."""

    id: str | None
    success: bool
    created: bool = False
    errors: tuple[RecordError, ...] = field(default_factory=tuple)

    @property
    def error_code(self) -> str | None:
        return self.errors[0].code if self.errors else None

    @property
    def error_message(self) -> str:
        return "; ".join(e.message for e in self.errors)


def _result(item: Mapping[str, Any]) -> RecordResult:
    errors = tuple(RecordError(str(e.get("statusCode") or e.get("errorCode") or "UNKNOWN"),
                               str(e.get("message") or ""), tuple(e.get("fields") or ()))
                   for e in item.get("errors") or [])
    return RecordResult(id=item.get("id"), success=bool(item.get("success")), created=bool(item.get("created")),
                        errors=errors)


class SObjectCollections:
    """Update by Id or upsert by external id, 200 records a call, per-record results."""

    def __init__(self, client: SalesforceClient) -> None:
        self.client = client

    def update(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> list[RecordResult]:
        """``PATCH /composite/sobjects``: each record needs its ``Id`` and only the fields to change."""
        body = [{"attributes": {"type": sobject}, **r} for r in records]
        return self._send("composite/sobjects", body)

    def upsert(self, sobject: str, external_id_field: str,
               records: Sequence[Mapping[str, Any]]) -> list[RecordResult]:
        """``PATCH /composite/sobjects/{sobject}/{field}``: creates records whose external id is new."""
        body = [{"attributes": {"type": sobject}, **r} for r in records]
        return self._send(f"composite/sobjects/{sobject}/{external_id_field}", body)

    def _send(self, path: str, records: list[dict[str, Any]]) -> list[RecordResult]:
        if not records:
            return []
        if len(records) > MAX_RECORDS:
            raise ValueError(f"sObject Collections take at most {MAX_RECORDS} records per call, got {len(records)}")
        payload = serialize_json({"allOrNone": False, "records": records})
        # one attempt: a write retried after a dropped answer could apply twice (see write_once)
        response = request_once(self.client, "PATCH", path, data=payload.encode("utf-8"),
                                headers={"Content-Type": "application/json"})
        items = self.client._json(response)
        if not isinstance(items, list) or len(items) != len(records):
            # Results pair with records by position only; a short answer cannot be trusted.
            raise SalesforceError(f"sObject Collections answered {len(items) if isinstance(items, list) else 'no'}"
                                  f" results for {len(records)} records", error_code="CRM2_BAD_RESPONSE")
        return [_result(item) for item in items]
