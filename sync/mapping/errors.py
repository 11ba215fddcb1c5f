"""The one exception a transform raises for bad input, with a reason safe to log.

A reason names what is wrong ("not a valid email address"), never the value itself: values are
often personal data and reasons end up in quarantine rows, logs and test output.
"""

from __future__ import annotations


class TransformError(ValueError):
    """A value a transform cannot turn into what the field needs; the message holds no data."""


class MappingFailed(Exception):
    """Raised only for a field with ``on_error: fail``: the run should stop on this record."""

    def __init__(self, stream: str, source_id: str | None, field: str | None, reason: str) -> None:
        self.stream, self.source_id, self.field, self.reason = stream, source_id, field, reason
        super().__init__(f"{stream} record {source_id or '?'}: field '{field}': {reason}")
