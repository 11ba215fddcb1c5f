"""Logging for crm2: readable on a terminal, JSON lines otherwise, always redacted."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from sync.redaction import RedactingFilter


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("run_id", "stage", "stream", "status", "counts", "seconds"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


_json_mode = False


def json_mode() -> bool:
    """Whether logs go out as JSON lines: then anything else meant for a person on stderr (stage
    marks, summaries) must go through the log too, so a collector sees only JSON."""
    return _json_mode


def configure(*, verbose: bool = False, json_logs: bool | None = None) -> None:
    """Install one redacting handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_crm2", False):
            root.removeHandler(existing)
    global _json_mode
    use_json = (not sys.stderr.isatty()) if json_logs is None else json_logs
    _json_mode = use_json
    handler: logging.Handler
    if use_json:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    else:
        from rich.console import Console
        from rich.logging import RichHandler

        # logs belong on stderr: stdout carries a command's output (--json, reports)
        handler = RichHandler(console=Console(stderr=True), show_path=False, markup=False, rich_tracebacks=False)
    handler.addFilter(RedactingFilter())
    handler._crm2 = True  # type: ignore[union-attr]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("alembic", "urllib3", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
