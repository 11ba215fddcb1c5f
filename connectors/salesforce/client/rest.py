"""The Salesforce REST client crm2's tap and writeback target share.

It owns the parts every caller must get right the same way: TLS against a configurable CA bundle
(verification is never switched off), bounded retries with exponential backoff and jitter on
transient failures, one re-authentication on an expired session, API-call counting and the
budget stop, and JSON parsing that keeps decimals exact.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from connectors.salesforce.client.auth import Credentials, Token, fetch_token
from connectors.salesforce.client.budget import ApiBudget
from connectors.salesforce.client.errors import (
    InvalidSessionError,
    SalesforceError,
    TransientError,
    error_from_response,
)

log = logging.getLogger(__name__)

EXPIRY_MARGIN = 30.0
"""Seconds before a known session end at which the client re-authenticates."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``max_attempts`` tries in all, waits growing from ``initial_wait``."""

    max_attempts: int = 6
    initial_wait: float = 0.5
    max_wait: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 120.0


def loads_exact(payload: bytes | str) -> Any:
    """JSON with every non-integer number as Decimal, so currency never passes through float."""
    return json.loads(payload, parse_float=Decimal)


class SalesforceClient:
    """Authenticated access to one org's REST API (``/services/data/vXX.X``)."""

    def __init__(self, credentials: Credentials, *, api_version: str = "62.0", ca_bundle: str | None = None,
                 budget: ApiBudget | None = None, retry: RetryPolicy | None = None,
                 session: requests.Session | None = None) -> None:
        self.credentials = credentials
        self.api_version = api_version.removeprefix("v")
        self.budget = budget or ApiBudget()
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        # A CA bundle path narrows trust to that CA; without one, the system store is used.
        # Passed on every request: requests lets REQUESTS_CA_BUNDLE override session.verify.
        self.verify: str | bool = ca_bundle if ca_bundle else True
        self.session.verify = self.verify
        self.session.headers["Accept-Encoding"] = "gzip"
        self._token: Token | None = None

    # -- auth -------------------------------------------------------------------------------

    def authenticate(self) -> None:
        self.budget.record_auth()
        self._token = self._retrying(lambda: fetch_token(self.session, self.credentials,
                                                         timeout=self.retry.read_timeout, verify=self.verify))

    @property
    def instance_url(self) -> str:
        if self._token is None:
            self.authenticate()
        assert self._token is not None
        return self._token.instance_url

    @property
    def data_url(self) -> str:
        return f"{self.instance_url}/services/data/v{self.api_version}"

    def url(self, path: str) -> str:
        """Absolute URL for an absolute URL, an instance path (``/services/...``) or a data path."""
        if path.startswith(("https://", "http://")):
            return path
        if path.startswith("/"):
            return self.instance_url + path
        return f"{self.data_url}/{path}"

    # -- transport --------------------------------------------------------------------------

    def _retrying(self, fn: Any) -> Any:
        retryer = Retrying(
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=wait_exponential_jitter(multiplier=self.retry.initial_wait, max=self.retry.max_wait,
                                         jitter=self.retry.initial_wait),
            retry=retry_if_exception_type(TransientError),
            reraise=True,
            before_sleep=lambda state: log.warning(
                "Salesforce call failed (%s); retry %d of %d", state.outcome.exception() if state.outcome else "?",
                state.attempt_number, self.retry.max_attempts - 1),
        )
        return retryer(fn)

    def _send_once(self, method: str, path: str, headers: Mapping[str, str] | None, **kwargs: Any,
                   ) -> requests.Response:
        reauthenticated = False
        while True:
            self.budget.check()
            assert self._token is not None
            if self._token.expires_at is not None and time.monotonic() >= self._token.expires_at - EXPIRY_MARGIN:
                # The token answer said when the session ends: ask again before it does, not after a 401.
                log.info("Salesforce session about to expire; re-authenticating")
                self.authenticate()
            url = self.url(path)
            assert self._token is not None
            all_headers = {"Authorization": f"Bearer {self._token.access_token}", **(headers or {})}
            try:
                response = self.session.request(method, url, headers=all_headers, verify=self.verify,
                                                timeout=(self.retry.connect_timeout, self.retry.read_timeout),
                                                **kwargs)
            except requests.exceptions.SSLError as exc:
                if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                    # A certificate we do not trust is a configuration problem; retrying cannot fix it.
                    raise SalesforceError(f"TLS verification failed for {_path_only(url)}; check ca_bundle",
                                          error_code="TLS_VERIFY_FAILED") from None
                self.budget.record_call(None)
                raise TransientError(f"{method} {_path_only(url)}: {type(exc).__name__}") from None
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                # Counted: Salesforce may have received (and charged for) the call before the drop.
                self.budget.record_call(None)
                raise TransientError(f"{method} {_path_only(url)}: {type(exc).__name__}") from None
            self.budget.record_call(response.headers.get("Sforce-Limit-Info"))
            if response.status_code < 300:
                return response
            error = error_from_response(response)
            if isinstance(error, InvalidSessionError) and not reauthenticated:
                # Session timeout, a revoked token, an admin's "expire all": every flow crm2 uses can
                # get a new session without a person (client credentials, JWT, refresh token, password).
                log.info("Salesforce session expired; re-authenticating once")
                reauthenticated = True
                self.authenticate()
                continue
            raise error

    def request(self, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                **kwargs: Any) -> requests.Response:
        """Send with retries; returns a 2xx response or raises a typed SalesforceError."""
        if self._token is None:
            self.authenticate()
        return self._retrying(lambda: self._send_once(method, path, headers, **kwargs))

    def get_json(self, path: str, *, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> Any:
        return self._json(self.request("GET", path, params=params, headers=headers))

    def _json(self, response: requests.Response) -> Any:
        try:
            return loads_exact(response.content)
        except ValueError:
            # A truncated body is what a dropped connection mid-transfer looks like.
            raise TransientError("response body was not valid JSON", status=response.status_code) from None

    # -- API surface ------------------------------------------------------------------------

    def describe(self, sobject: str) -> dict[str, Any]:
        return self.get_json(f"sobjects/{sobject}/describe")

    def limits(self) -> dict[str, Any]:
        return self.get_json("limits")

    def query_pages(self, soql: str, *, include_deleted: bool = False,
                    batch_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Each page of a query as Salesforce returns it (``records``, ``done``, ``nextRecordsUrl``).

        Pages are fetched lazily, so a caller that stops early spends no further API calls.
        Retrying a page re-requests the same ``nextRecordsUrl``, which Salesforce allows.
        """
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else None
        page = self.get_json("queryAll" if include_deleted else "query", params={"q": soql}, headers=headers)
        while True:
            yield page
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self.get_json(next_url, headers=headers)

    def query(self, soql: str, *, include_deleted: bool = False,
              batch_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every record of a query, without the ``attributes`` envelope."""
        for page in self.query_pages(soql, include_deleted=include_deleted, batch_size=batch_size):
            for record in page.get("records", []):
                record.pop("attributes", None)
                yield record

    def count(self, soql_where: str, sobject: str, *, include_deleted: bool = False) -> int:
        """``SELECT COUNT() FROM sobject [WHERE ...]`` -> totalSize."""
        soql = f"SELECT COUNT() FROM {sobject}" + (f" WHERE {soql_where}" if soql_where else "")
        page = self.get_json("queryAll" if include_deleted else "query", params={"q": soql})
        return int(page.get("totalSize", 0))

    def close(self) -> None:
        self.session.close()


def _path_only(url: str) -> str:
    """URL without query string: SOQL in a query string can hold literal values from records."""
    return url.split("?", 1)[0]


__all__ = ["RetryPolicy", "SalesforceClient", "SalesforceError", "loads_exact"]
