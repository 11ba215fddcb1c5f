"""The generator's entry point: every record of every customer, in customer order, optionally filtered.

Each customer's records come from four independent random streams (core facts, customer-level
records, trade, CRM activity), so asking for some objects skips the parts that make none of them
and still yields exactly what an unfiltered run yields for those objects.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import Any

from synthetic.companies import Universe
from synthetic.engagement import crm_records
from synthetic.ids import stream
from synthetic.records import customer_records
from synthetic.trade import trade_records

Record = tuple[str, str, dict[str, Any]]

OBJECTS: dict[str, tuple[str, ...]] = {
    "salesforce": ("Account", "Contact", "Opportunity", "Case", "Task", "Event", "Survey_Response__c"),
    "finance": ("customers", "invoices", "payments", "credit_notes"),
    "sales": ("accounts", "orders", "order_lines", "opportunities"),
    "truth": ("links",),
}
"""Objects of each system, in the order files and records are written."""
ALL_OBJECTS = frozenset(o for objs in OBJECTS.values() for o in objs)
_RECORDS = frozenset({"Account", "Contact", "customers", "accounts", "links"})
_TRADE = frozenset({"invoices", "payments", "credit_notes", "orders", "order_lines", "opportunities"})
_CRM = frozenset({"Opportunity", "Case", "Task", "Event", "Survey_Response__c"})


def wanted_objects(objects: Iterable[str] | None) -> frozenset[str]:
    """The object filter, checked: an unknown name is an error that suggests the closest known one."""
    if objects is None:
        return ALL_OBJECTS
    chosen = frozenset(objects)
    unknown = sorted(chosen - ALL_OBJECTS)
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, sorted(ALL_OBJECTS), n=1)
            hints.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise ValueError(f"unknown object {', '.join(hints)}; known: {', '.join(sorted(ALL_OBJECTS))}")
    return chosen


def generate(customers: int, seed: int = 42, objects: set[str] | None = None) -> Iterator[Record]:
    """``(system, object, record)`` for ``customers`` real customers; ground truth as ``('truth', 'links', …)``.

    Deterministic for a given (customers, seed). ``objects`` keeps only those object names
    (e.g. ``{"Account", "customers", "accounts", "links"}``) and costs only what they need.
    """
    wanted = wanted_objects(objects)
    universe = Universe(customers, seed)
    return generate_range(universe, 0, customers, wanted)


def generate_range(universe: Universe, start: int, stop: int, wanted: frozenset[str]) -> Iterator[Record]:
    """Records of customers ``start`` .. ``stop - 1`` (0-based) of ``universe``."""
    seed = universe.seed
    records, trade, crm = bool(wanted & _RECORDS), bool(wanted & _TRADE), bool(wanted & _CRM)
    every = wanted == ALL_OBJECTS
    for i in range(start, stop):
        company = universe.company(i)
        parts: list[Iterator[Record]] = []
        if records:
            parts.append(customer_records(company, universe, stream(seed, i, "records")))
        if trade:
            parts.append(trade_records(company, universe, stream(seed, i, "trade")))
        if crm:
            parts.append(crm_records(company, stream(seed, i, "crm")))
        for part in parts:
            if every:
                yield from part
            else:
                for rec in part:
                    if rec[1] in wanted:
                        yield rec
