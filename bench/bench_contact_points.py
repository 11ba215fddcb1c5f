"""CPU seconds of the customer contact-point transforms over the customers of bench_target.py's ledger.

    .venv/bin/python bench/bench_contact_points.py                     # bench_target's 100k ledger
    .venv/bin/python bench/bench_target.py --records 100000 --save-input /tmp/ledger.singer
    .venv/bin/python bench/bench_contact_points.py /tmp/ledger.singer  # the same customers, as the tap sent them

Each transform runs once over every customer record (the applier's per-value memo left out: the
customers' phones and addresses are all distinct). "whole address" is what ``email`` did before
its fast path — email-validator on each address — and "tldextract per value" what
``company_domain`` did before it remembered hosts; both are timed here beside the transforms as
they are now. Printed figures, not a test: the machine is shared, so CPU time, best of three.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from email_validator import validate_email

from sync.mapping import contact_points
from sync.mapping.mailboxes import is_free_mail


def customers(path: Path) -> list[dict[str, Any]]:
    found = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if '"customers"' in line:
                message = json.loads(line)
                if message.get("type") == "RECORD" and message.get("stream") == "customers":
                    found.append(message["record"])
    return found


def cpu(fn: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]], clear: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(3):
        clear()  # each repeat starts with nothing remembered, as a fresh target-crm2 process does
        start = time.process_time()
        for record in records:
            with contextlib.suppress(Exception):  # refusals cost time too; only the time is wanted
                fn(record)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, nargs="?",
                        help="a Singer input saved by bench_target.py --save-input (default: generate "
                             "bench_target.py's ledger in memory)")
    parser.add_argument("--records", type=int, default=100_000,
                        help="without an input: ledger size, one customer per five records (default 100000)")
    args = parser.parse_args()
    if args.input is not None:
        records = customers(args.input)
    else:
        from bench_target import ledger_rows

        records = [row for stream, row in ledger_rows(args.records, 7) if stream == "customers"]  # its default seed

    def clear() -> None:
        contact_points._email_domain.cache_clear()
        contact_points._company_of_host.cache_clear()

    def whole_address(record: dict[str, Any]) -> Any:
        return validate_email(record["email"], check_deliverability=False, allow_smtputf8=True)

    def tldextract_per_value(record: dict[str, Any]) -> Any:
        host = contact_points.domain(record["email"])
        return is_free_mail(host) or contact_points._public_suffixes()(host).top_domain_under_public_suffix

    rows = [
        ("phone_e164 (default_region from country)",
         lambda r: contact_points.phone_e164(r["phone"], default_region=r["country"])),
        ("email", lambda r: contact_points.email(r["email"])),
        ("  before: email-validator on the whole address", whole_address),
        ("company_domain", lambda r: contact_points.company_domain(r["email"])),
        ("  before: tldextract per value", tldextract_per_value),
    ]
    print(f"{len(records):,} customers; CPU seconds, best of 3")
    for label, fn in rows:
        print(f"  {label:<50} {cpu(fn, records, clear):6.3f}")


if __name__ == "__main__":
    main()
