"""Salesforce HTTP client shared by the tap and the writeback target: auth, REST, Bulk 2.0, budget."""

from connectors.salesforce.client.auth import AuthFlow, Credentials, Token, fetch_token
from connectors.salesforce.client.budget import ApiBudget, parse_limit_info
from connectors.salesforce.client.bulk import BulkJobTimeout, BulkQuery, BulkQueryOptions
from connectors.salesforce.client.bulk_ingest import (
    BulkIngestJob,
    BulkIngestOptions,
    BulkIngestSummary,
    BulkIngestTimeout,
)
from connectors.salesforce.client.collections import RecordError, RecordResult, SObjectCollections
from connectors.salesforce.client.errors import (
    ApiLimitReached,
    AuthenticationError,
    BudgetReached,
    InvalidSessionError,
    MalformedQueryError,
    RequestLimitExceeded,
    SalesforceError,
    TransientError,
    error_from_response,
)
from connectors.salesforce.client.rest import RetryPolicy, SalesforceClient, loads_exact

__all__ = [
    "ApiBudget",
    "ApiLimitReached",
    "AuthFlow",
    "AuthenticationError",
    "BudgetReached",
    "BulkIngestJob",
    "BulkIngestOptions",
    "BulkIngestSummary",
    "BulkIngestTimeout",
    "BulkJobTimeout",
    "BulkQuery",
    "BulkQueryOptions",
    "Credentials",
    "InvalidSessionError",
    "MalformedQueryError",
    "RecordError",
    "RecordResult",
    "RequestLimitExceeded",
    "RetryPolicy",
    "SObjectCollections",
    "SalesforceClient",
    "SalesforceError",
    "Token",
    "TransientError",
    "error_from_response",
    "fetch_token",
    "loads_exact",
    "parse_limit_info",
]
