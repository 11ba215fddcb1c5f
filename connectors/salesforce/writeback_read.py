"""Read what Salesforce holds now for a set of records: one SOQL query per 200 keys.

Used only where a read pays for itself: the dry run's "before" values, finding Ids by external
id for update-only writes, and settling a batch a crashed run may or may not have applied.
An unchanged record is never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from connectors.salesforce.client import SalesforceClient

KEYS_PER_QUERY = 200


def soql_literal(value: str) -> str:
    """A SOQL string literal: backslashes and quotes escaped, as SOQL requires."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def read_current(client: SalesforceClient, sobject: str, key_field: str, keys: Sequence[str],
                 fields: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{key: {field: value, "Id": ...}}`` for the records that exist; absent keys were not found."""
    wanted = list(dict.fromkeys(k for k in keys if k))
    columns = list(dict.fromkeys(["Id", key_field, *fields]))
    found: dict[str, dict[str, Any]] = {}
    for part in _chunks(wanted, KEYS_PER_QUERY):
        soql = (f"SELECT {', '.join(columns)} FROM {sobject} "
                f"WHERE {key_field} IN ({', '.join(soql_literal(k) for k in part)})")
        for record in client.query(soql):
            key = record.get(key_field)
            if key is not None:
                found[str(key)] = record
    return found
