"""Injected faults: what a bad day at Salesforce looks like on the wire, decided per request.

A :class:`Faults` value says what to break; :class:`FaultInjector` applies it request by request.
Counts ("next N", "every N") start when the faults are set, "after N" compares with the
stand-in's total call count (auth included, as ``api_calls_total()`` reports it), and a seeded
RNG picks the rows that fail to lock, so a fault test gives the same answer every run.

Which requests a fault hits:

* REST and Bulk calls (not the token endpoint): the daily limit (403 REQUEST_LIMIT_EXCEEDED),
  session expiry (every Nth call revokes every session and answers 401 INVALID_SESSION_ID);
* every request, the token endpoint included: 500/503 answers, dropped connections, delays;
* written rows only (REST, sObject Collections, Bulk ingest): UNABLE_TO_LOCK_ROW.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.salesforce.standin.errors import ApiError, invalid_session


@dataclass(frozen=True)
class Faults:
    """What to break. Every field defaults to 'nothing'."""

    limit_exhausted_after: int | None = None
    """Once the stand-in has served this many calls in total, REST and Bulk calls get 403."""
    session_expiry_every: int | None = None
    """Every Nth REST/Bulk call revokes all sessions and is answered 401 INVALID_SESSION_ID."""
    lock_row_fraction: float = 0.0
    """Share of written rows that fail with UNABLE_TO_LOCK_ROW."""
    status_500_next: int = 0
    status_500_after: int | None = None
    status_503_next: int = 0
    status_503_after: int | None = None
    """Every request once the total call count reaches N is answered 503."""
    drop_connection_next: int = 0
    """The next N requests are read, then the socket is closed without an answer."""
    drop_connection_every: int | None = None
    delay_seconds: float = 0.0
    """Answer late by this long ..."""
    delay_next: int | None = None
    """... for the next N requests only (None: every request)."""
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.lock_row_fraction <= 1.0:
            raise ValueError("lock_row_fraction must be between 0 and 1")
        for name in ("session_expiry_every", "drop_connection_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Faults:
        """From a JSON object or CLI options; an unknown key is an error naming the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**dict(data))

    @classmethod
    def from_file(cls, path: Path) -> Faults:
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object of fault settings")
        return cls.from_mapping(data)


@dataclass
class Decision:
    """What to do to one request before (or instead of) answering it."""

    delay: float = 0.0
    drop: bool = False
    error: ApiError | None = None
    expire_sessions: bool = False


def limit_exceeded() -> ApiError:
    return ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


class FaultInjector:
    """Applies the current :class:`Faults` to requests, one decision per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.faults: Faults | None = None
        self._reset(None)

    def _reset(self, faults: Faults | None) -> None:
        self.faults = faults
        self._data_calls = 0
        self._requests = 0
        self._left = {"500": 0, "503": 0, "drop": 0, "delay": 0}
        if faults is not None:
            self._left = {"500": faults.status_500_next, "503": faults.status_503_next,
                          "drop": faults.drop_connection_next,
                          "delay": -1 if faults.delay_next is None else faults.delay_next}
        self._rng = random.Random(faults.seed if faults else 0)

    def set(self, faults: Faults | None) -> None:
        with self._lock:
            self._reset(faults)

    def decide(self, *, data_call: bool, calls_before: int) -> Decision:
        """``calls_before``: the stand-in's total call count before this request."""
        decision = Decision()
        with self._lock:
            f = self.faults
            if f is None:
                return decision
            self._requests += 1
            if f.delay_seconds and self._left["delay"] != 0:
                decision.delay = f.delay_seconds
                self._left["delay"] -= 1 if self._left["delay"] > 0 else 0
            if self._left["drop"] > 0 or (f.drop_connection_every and self._requests % f.drop_connection_every == 0):
                self._left["drop"] = max(0, self._left["drop"] - 1)
                decision.drop = True
                return decision
            for code in ("500", "503"):
                after = getattr(f, f"status_{code}_after")
                if self._left[code] > 0 or (after is not None and calls_before >= after):
                    self._left[code] = max(0, self._left[code] - 1)
                    decision.error = _server_error(int(code))
                    return decision
            if not data_call:
                return decision
            self._data_calls += 1
            if f.limit_exhausted_after is not None and calls_before >= f.limit_exhausted_after:
                decision.error = limit_exceeded()
                return decision
            if f.session_expiry_every and self._data_calls % f.session_expiry_every == 0:
                decision.expire_sessions = True
                decision.error = invalid_session()
        return decision

    def lock_row(self) -> bool:
        """Whether the next written row fails to lock (deterministic for a given seed and order)."""
        with self._lock:
            f = self.faults
            return f is not None and f.lock_row_fraction > 0 and self._rng.random() < f.lock_row_fraction


def _server_error(status: int) -> ApiError:
    if status == 503:
        return ApiError(503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable; please retry later.")
    return ApiError(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you "
                    "contact support: 1234567890-12345 (-1234567890)")
