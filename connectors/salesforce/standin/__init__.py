"""A local Salesforce org for the demo, the tests, fault injection and benchmarks.

HTTPS with a throwaway CA, OAuth 2.0 (client credentials, JWT bearer, username-password), the
REST API (describe, SOQL query/queryAll with paging, sObject CRUD and upsert by external id,
sObject Collections, limits) and Bulk API 2.0 (ingest and query), backed by SQLite. See
docs/salesforce-standin.md.
"""

from connectors.salesforce.standin.faults import Faults
from connectors.salesforce.standin.launcher import SalesforceStandInHandle, start
from connectors.salesforce.standin.service import SalesforceStandIn

__all__ = ["Faults", "SalesforceStandIn", "SalesforceStandInHandle", "start"]
