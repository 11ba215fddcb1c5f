"""Decide what to send: each record's mapped values against the values crm2 last wrote to it.

* Nothing changed (or only fields with ``triggers_write: false``) -> nothing is sent, and
  Salesforce is not even read.
* An update sends only the changed fields: a field someone edited by hand in Salesforce since
  is not overwritten unless crm2's own value for it changed.
* An upsert sends every mapped field: upsert may create the record (or re-create one deleted
  since the last write), and a created record must get all of its values, not just the latest
  changes.
* A record never written before sends every mapped field.
* ``only_on_create`` fields (an Account's required Name) go only with an upsert of a record crm2
  never wrote: they exist to create records, not to overwrite what people maintain.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.salesforce.writeback.store import Change, LastWritten
from sync.writeback.mapping import Intent, LoadedMapping
from sync.writeback.values import same


def diff(intent: Intent, last: LastWritten | None, mapping: LoadedMapping) -> Change | None:
    """The change to send for ``intent``, or None when Salesforce already has crm2's values."""
    create_only = mapping.create_only(intent.object)
    if last is None:
        may_create = intent.operation == "upsert"
        return Change(intent, {k: v for k, v in intent.values.items() if may_create or k not in create_only}, None)
    changed = {name: value for name, value in intent.values.items()
               if name not in create_only and (
                   name not in last.values or not same(mapping.kind(intent.object, name), value, last.values[name]))}
    if not changed.keys() & mapping.triggers(intent.object):
        return None
    upsert = intent.operation == "upsert"
    sent = {k: v for k, v in intent.values.items() if k not in create_only} if upsert else changed
    return Change(intent, sent, dict(last.values), intent.record_id or last.record_id)


def diff_all(intents: Sequence[Intent], last: dict[str, LastWritten],
             mapping: LoadedMapping) -> tuple[list[Change], list[Intent]]:
    """(changes, unchanged intents) for intents of one object and key field; ``last`` by key value."""
    changes, unchanged = [], []
    for intent in intents:
        change = diff(intent, last.get(intent.key_value), mapping)
        if change is None:
            unchanged.append(intent)
        else:
            changes.append(change)
    return changes, unchanged
