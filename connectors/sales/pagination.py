"""Paginators for the four pagination styles an endpoint can declare.

The response body is parsed once and kept on the response, so a cursor or a record count costs
no second JSON parse of a page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests
from singer_sdk.helpers.jsonpath import extract_jsonpath
from singer_sdk.pagination import (
    BaseAPIPaginator,
    HeaderLinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    SinglePagePaginator,
)

from connectors.sales.tap_config import PaginationConfig

_BODY = "_crm2_body"


def body(response: requests.Response) -> Any:
    """The response's JSON, numbers with a fraction as Decimal (money stays exact); parsed once."""
    cached = getattr(response, _BODY, None)
    if cached is None:
        cached = response.json(parse_float=Decimal)
        setattr(response, _BODY, cached)
    return cached


def records(response: requests.Response, records_path: str) -> list[dict[str, Any]]:
    return list(extract_jsonpath(records_path, body(response)))


class CursorPaginator(BaseAPIPaginator[str | None]):
    """The next cursor is in the body (e.g. ``$.next_cursor``); none or empty means the last page."""

    def __init__(self, cursor_path: str) -> None:
        super().__init__(None)
        self.cursor_path = cursor_path

    def get_next(self, response: requests.Response) -> str | None:
        found = next(iter(extract_jsonpath(self.cursor_path, body(response))), None)
        return str(found) if found not in (None, "") else None


class FullPagePaginator(PageNumberPaginator):
    """Page numbers; a short page is the last one."""

    def __init__(self, first_page: int, size: int, records_path: str) -> None:
        super().__init__(first_page)
        self.size, self.records_path = size, records_path

    def has_more(self, response: requests.Response) -> bool:
        return len(records(response, self.records_path)) >= self.size


class FullOffsetPaginator(OffsetPaginator):
    """Offsets; a short page is the last one."""

    def __init__(self, size: int, records_path: str) -> None:
        super().__init__(0, size)
        self.records_path = records_path

    def has_more(self, response: requests.Response) -> bool:
        return len(records(response, self.records_path)) >= self.page_size


def paginator_for(cfg: PaginationConfig, records_path: str) -> BaseAPIPaginator[Any]:
    if cfg.type == "cursor":
        return CursorPaginator(cfg.cursor_path)
    if cfg.type == "page":
        return FullPagePaginator(cfg.first_page, cfg.size, records_path)
    if cfg.type == "offset":
        return FullOffsetPaginator(cfg.size, records_path)
    if cfg.type == "link":
        return HeaderLinkPaginator()
    return SinglePagePaginator()
