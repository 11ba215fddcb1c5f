"""One Singer stream per declared endpoint: incremental on (updated_at, key) where it can be.

The API is asked for records changed at or after the bookmark time (the replication parameter
must be inclusive, ``>=``: with ``>`` the rest of a tie cut by the end of the last run would be
lost forever). The tie rows already emitted last time come back and are dropped here by the
(updated_at, key) of the last record emitted — saved next to singer-sdk's
``replication_key_value`` as ``replication_key_last_key`` — so a run emits only new and changed
records. That needs the endpoint's records in (updated_at, key) order (``is_sorted``, the
default); for an unsorted endpoint the bookmark is the highest time seen and the tie rows are
sent again, which an upserting target absorbs.

Retries are tenacity's: 429 waits what ``Retry-After`` asks (bounded by ``max_retry_after``),
5xx and network errors back off exponentially with jitter, up to ``max_attempts`` tries.
Messages name the status and the path, never the query, headers or body (they can hold tokens
or personal data).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlparse

import requests
import tenacity
from singer_sdk import RESTStream
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.pagination import BaseAPIPaginator

from connectors.bookmarks import parse_dt, resume_point
from connectors.sales.auth import ClientCredentialsAuth, credential_setting
from connectors.sales.pagination import paginator_for, records
from connectors.sales.schemas import DEFAULT_SCHEMAS
from connectors.sales.tap_config import EndpointSpec
from connectors.sdk import TieSafeStream
from sync.errors import ConfigError

if TYPE_CHECKING:
    from requests.auth import AuthBase
    from singer_sdk.helpers.types import Context

    from connectors.sales.tap import TapSales

RETRYABLE = (RetriableAPIError, requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class RetryLater(RetriableAPIError):
    """A 429 or 5xx; ``retry_after`` is the server's requested wait in seconds, if it gave one."""

    def __init__(self, message: str, response: requests.Response | None, retry_after: float | None) -> None:
        super().__init__(message, response)
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class EndpointStream(TieSafeStream, RESTStream[Any]):
    """Records of one endpoint."""

    def __init__(self, tap: TapSales, spec: EndpointSpec) -> None:
        self.spec = spec
        self.sales_tap = tap
        schema = spec.json_schema or DEFAULT_SCHEMAS[spec.name]
        super().__init__(tap=tap, name=spec.name, schema=schema, path=spec.path)
        self.primary_keys = list(spec.primary_key)
        # After super().__init__, which resets it; a catalog entry may still override it later.
        self.replication_key = spec.replication_key

    # -- request shape ------------------------------------------------------------------------

    @property
    def url_base(self) -> str:
        return self.sales_tap.settings.base_url

    @property
    def records_jsonpath(self) -> str:
        return self.spec.records_path

    @property
    def is_sorted(self) -> bool:  # type: ignore[override]
        return self.spec.is_sorted and self.replication_key is not None

    @property
    def authenticator(self) -> AuthBase:  # type: ignore[override]
        return self.sales_tap.auth

    @property
    def requests_session(self) -> requests.Session:
        return self.sales_tap.session

    @property
    def timeout(self) -> int:
        return int(self.sales_tap.settings.request_timeout)

    def get_new_paginator(self) -> BaseAPIPaginator[Any]:
        return paginator_for(self.spec.pagination, self.spec.records_path)

    def get_url_params(self, context: Context | None, next_page_token: Any) -> dict[str, Any]:
        page = self.spec.pagination
        if page.type == "link" and next_page_token is not None:
            # The next link carries every parameter the server wants, filter included.
            return dict(parse_qsl(next_page_token.query))
        params: dict[str, Any] = dict(self.spec.params)
        if page.size_param and page.type != "none":
            params[page.size_param] = page.size
        if self.replication_key and self.spec.replication_param:
            start = self.get_starting_replication_key_value(context)
            if start is not None:
                params[self.spec.replication_param] = start if isinstance(start, str) else start.isoformat()
        if page.type == "cursor" and next_page_token:
            params[page.cursor_param] = next_page_token
        elif page.type == "page":
            params[page.page_param] = next_page_token if next_page_token is not None else page.first_page
        elif page.type == "offset":
            params[page.offset_param] = next_page_token or 0
        return params

    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        return records(response, self.spec.records_path)

    # -- responses and retries ----------------------------------------------------------------

    def response_error_message(self, response: requests.Response) -> str:
        return f"HTTP {response.status_code} {response.reason} for {urlparse(response.url).path or self.path}"

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status == 429 or status >= 500:
            raise RetryLater(self.response_error_message(response), response,
                             parse_retry_after(response.headers.get("Retry-After")))
        auth = self.sales_tap.auth
        if status == 401 and isinstance(auth, ClientCredentialsAuth) and not self.sales_tap.reauthorized:
            # The token may have expired mid-run: fetch a new one, once per run.
            self.sales_tap.reauthorized = True
            auth.invalidate()
            raise RetryLater(self.response_error_message(response), response, 0.0)
        if status in (401, 403):
            raise ConfigError.setting(credential_setting(self.sales_tap.settings.auth),
                                   f"the API refused the credentials (HTTP {status} for {self.path})")
        if status == 404 and not self.sales_tap.reached:
            raise ConfigError.setting(f"endpoints.{self.name}.path", f"HTTP 404: no such endpoint {self.path}")
        if status >= 400:
            raise FatalAPIError(self.response_error_message(response))
        self.sales_tap.reached = True

    def request_decorator(self, func: Callable[..., Any]) -> Callable[..., Any]:
        cfg = self.sales_tap.settings
        backoff = tenacity.wait_exponential_jitter(multiplier=cfg.retry_initial_wait, max=cfg.retry_max_wait,
                                                  jitter=cfg.retry_initial_wait)

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            asked = getattr(exc, "retry_after", None)
            if asked is not None:
                return float(min(asked, cfg.max_retry_after))
            return float(backoff(state))

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            why = str(exc) if isinstance(exc, RetriableAPIError) else type(exc).__name__
            self.sales_tap.retries += 1
            self.logger.warning("%s: %s; retrying in %.2f s (attempt %d of %d)", self.name, why,
                                state.upcoming_sleep, state.attempt_number + 1, cfg.max_attempts)

        retrying = tenacity.Retrying(retry=tenacity.retry_if_exception_type(RETRYABLE),
                                     stop=tenacity.stop_after_attempt(cfg.max_attempts), wait=wait,
                                     before_sleep=before_sleep, sleep=time.sleep, reraise=True)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return retrying.copy()(func, *args, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if self.sales_tap.reached:
                    raise
                reason = _network_reason(exc)
                raise ConfigError.setting("base_url", f"cannot connect to {cfg.base_url}: {reason}") from None

        return call

    # -- records and bookmark -----------------------------------------------------------------

    def bookmark(self, context: Context | None) -> tuple[datetime | None, list[Any] | None]:
        """(change time, last key) emitted last run; the key only counts if it belongs to that time."""
        if not self.is_sorted:
            return None, None
        since, last = resume_point(self, context)
        return (since, list(last)) if last is not None else (None, None)

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        tap = self.sales_tap
        if tap.config_error is not None:
            return
        try:
            yield from self._new_records(context)
        except ConfigError as exc:
            # Returning (not raising) keeps singer-sdk from logging a traceback; the tap raises it
            # once all streams are done, and the CLI prints it as one line.
            tap.config_error = exc

    def _new_records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        since, last = self.bookmark(context)
        rk, keys = self.replication_key, self.primary_keys
        for record in self.request_records(context):
            if last is not None and rk and record.get(rk) is not None:
                changed = parse_dt(record[rk])
                if changed < since or (changed == since and [record.get(k) for k in keys] <= last):  # type: ignore[operator]
                    continue  # already emitted by the run that saved this bookmark
            yield record



def _network_reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if isinstance(exc, requests.Timeout) or "timed out" in text:
        return "timed out"
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename" in text or "resolve" in text:
        return "host name not found"
    if "certificate" in text or "ssl" in text:
        return "TLS certificate not trusted (set ca_bundle)"
    return "network error"
