"""One attempt at a write whose repetition is not harmless.

:meth:`SalesforceClient.request` retries transient failures, which is right for reads. A write
whose connection drops after Salesforce applied it would then be applied twice, and a Bulk
upload sent twice would put every row in the job twice. These calls get exactly one attempt
(an expired session is still renewed and the call resent: a 401 means nothing was applied);
when the outcome is unknown the caller finds out what landed by reading, instead of guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from connectors.salesforce.client.rest import SalesforceClient


def request_once(client: SalesforceClient, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                 **kwargs: Any) -> requests.Response:
    """Like ``client.request`` without the retries: TransientError means "may or may not have applied"."""
    if client._token is None:  # the client's own lazy authentication, as request() does it
        client.authenticate()
    return client._send_once(method, path, headers, **kwargs)
