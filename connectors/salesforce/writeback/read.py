"""Read what Salesforce holds now for a set of records: one SOQL query per 200 keys.

Used only where a read pays for itself: the dry run's "before" values, finding Ids by external
id for update-only writes, and settling a batch a crashed run may or may not have applied.
An unchanged record is never read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.writeback.store import Change, Outcome
from sync.writeback.values import Kind, same, same_loose

KindOf = Callable[[str, str], "Kind | None"]
"""(object, field) -> the field's kind when known."""

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


def reconcile(client: SalesforceClient, sobject: str, key_field: str, changes: Sequence[Change],
              kind_of: KindOf) -> tuple[list[Outcome], list[Change]]:
    """(outcomes of the changes that landed, changes that did not) for a batch whose fate is
    unknown: a record has landed when every field the batch sent already holds the sent value."""
    fields = sorted({name for c in changes for name in c.sent})

    def key_of(change: Change) -> str:
        return (change.record_id if key_field == "Id" else change.intent.key_value) or ""

    def equal(name: str, ours: Any, theirs: Any) -> bool:
        kind = kind_of(sobject, name)
        return same(kind, ours, theirs) if kind else same_loose(ours, theirs)

    current = read_current(client, sobject, key_field, [key_of(c) for c in changes], fields)
    landed, missing = [], []
    for change in changes:
        now = current.get(key_of(change))
        if now is not None and all(equal(name, value, now.get(name)) for name, value in change.sent.items()):
            landed.append(Outcome(change, True, str(now.get("Id") or change.record_id)))
        else:
            missing.append(change)
    return landed, missing
