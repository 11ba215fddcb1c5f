"""Salesforce API errors, parsed from the documented error shape into typed exceptions.

Salesforce answers errors with a JSON array of ``{"message", "errorCode", "fields"}`` (the OAuth
endpoint uses ``{"error", "error_description"}`` instead). Callers branch on the exception type,
never on message text, so the retry and stop decisions live in one place.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from sync.errors import Crm2Error, StoppedEarly
from sync.exitcodes import ExitCode

TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "QUERY_TIMEOUT"})


class SalesforceError(Crm2Error):
    """An error answer from Salesforce (or a failure to get one)."""

    retriable = False

    def __init__(self, message: str, *, status: int | None = None, error_code: str | None = None,
                 fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.fields = fields or []

    def __str__(self) -> str:
        parts = [p for p in (str(self.status) if self.status else None, self.error_code) if p]
        prefix = f"[{' '.join(parts)}] " if parts else ""
        return f"{prefix}{self.args[0]}"


class AuthenticationError(SalesforceError):
    """The token endpoint refused the credentials; retrying cannot help (a setting to fix)."""

    exit_code = ExitCode.CONFIG


class InvalidSessionError(SalesforceError):
    """401 INVALID_SESSION_ID: the access token expired or was revoked; re-authenticate."""


class TransientError(SalesforceError):
    """5xx, UNABLE_TO_LOCK_ROW, timeouts, dropped connections: worth retrying with backoff."""

    retriable = True


class ApiLimitReached(SalesforceError, StoppedEarly):
    """The org's daily API limit (or our budget share of it) is used up; stop, resume tomorrow."""

    exit_code = StoppedEarly.exit_code


class RequestLimitExceeded(ApiLimitReached):
    """403 REQUEST_LIMIT_EXCEEDED from Salesforce itself."""


class BudgetReached(ApiLimitReached):
    """Our own cap (``api_budget_pct`` of the daily limit) was reached before Salesforce's."""


class MalformedQueryError(SalesforceError):
    """400 MALFORMED_QUERY / INVALID_FIELD: a bug in the SOQL we built, never retried."""


def _error_items(response: requests.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return []
    if isinstance(body, dict):
        body = [body]
    return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []


def error_from_response(response: requests.Response) -> SalesforceError:
    """Build the typed exception for an error response (status >= 300)."""
    items = _error_items(response)
    first = items[0] if items else {}
    code = first.get("errorCode") or first.get("error")
    # Only Salesforce's own message is kept: it names fields and codes, never record values.
    message = str(first.get("message") or first.get("error_description") or response.reason or "error")
    fields = first.get("fields") if isinstance(first.get("fields"), list) else None
    status = response.status_code
    kwargs: dict[str, Any] = {"status": status, "error_code": code, "fields": fields}
    if status == 401 or code == "INVALID_SESSION_ID":
        return InvalidSessionError(message, **kwargs)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return RequestLimitExceeded(message, **kwargs)
    if status in TRANSIENT_STATUS or code in TRANSIENT_CODES:
        return TransientError(message, **kwargs)
    if code in {"MALFORMED_QUERY", "INVALID_FIELD", "INVALID_TYPE", "INVALID_QUERY_FILTER_OPERATOR"}:
        return MalformedQueryError(message, **kwargs)
    return SalesforceError(message, **kwargs)
