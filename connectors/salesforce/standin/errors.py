"""Errors the stand-in answers with, in Salesforce's shapes.

REST errors are a JSON array of ``{"message", "errorCode", "fields"}`` with an HTTP status;
per-record results (sObject Collections, Bulk) carry ``{"statusCode", "message", "fields"}``.
Messages follow Salesforce's wording but never echo record values: they name fields and codes
only, so nothing personal can reach a log line through an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiError(Exception):
    """One REST error answer: raised anywhere in request handling, rendered by the server."""

    status: int
    error_code: str
    message: str
    fields: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.error_code}: {self.message}"

    def body(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.error_code, "fields": list(self.fields)}]


@dataclass
class RecordError(Exception):
    """A per-record failure (validation, locking): a whole-request 400 for single-record calls."""

    code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def result_error(self) -> dict[str, Any]:
        """The entry in a SaveResult's ``errors`` list."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}

    def bulk_error(self) -> str:
        """The ``sf__Error`` cell of a Bulk failed-results row."""
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"

    def as_api_error(self, status: int = 400) -> ApiError:
        return ApiError(status, self.code, self.message, list(self.fields))


def not_found(message: str = "The requested resource does not exist") -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def invalid_session() -> ApiError:
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid", headers={"WWW-Authenticate": "Token"})


def json_parser_error(detail: str) -> ApiError:
    return ApiError(400, "JSON_PARSER_ERROR", detail)


def lock_error() -> RecordError:
    return RecordError("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records")
