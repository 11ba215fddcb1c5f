"""The finance stand-in: the generator's finance records written to a SQLite ledger.

A ledger is a database, not a server, so "starting" it means writing ``workdir/finance.sqlite``
and handing back the tap config that points tap-crm2-finance at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.finance import ledger
from sync import private


@dataclass
class FinanceLedgerHandle:
    path: Path
    counts: dict[str, int]
    name: str = "finance"
    tap_config: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        rows = ", ".join(f"{n} {obj}" for obj, n in self.counts.items())
        return f"Finance ledger (SQLite) at {self.path}: {rows}"

    def stop(self) -> None:
        """Nothing runs; the file stays so the run can be inspected afterwards."""


def write_ledger(path: Path, records: Any) -> dict[str, int]:
    """A fresh SQLite ledger at ``path`` holding ``records`` (``(object, record)`` pairs)."""
    path.unlink(missing_ok=True)
    private.touch(path)
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        return ledger.load(engine, records)
    finally:
        engine.dispose()


def start(workdir: Path, *, customers: int, seed: int) -> FinanceLedgerHandle:
    from synthetic import generate  # the generator is only needed when a stand-in is started

    path = Path(workdir) / "finance.sqlite"
    counts = write_ledger(path, ((obj, rec) for system, obj, rec in generate(customers, seed) if system == "finance"))
    return FinanceLedgerHandle(path=path, counts=counts, tap_config={"url": f"sqlite:///{path}"})
