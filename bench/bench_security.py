"""What protection costs: staging records into a plain vs a SQLCipher store, appending hash-chained
audit entries, verifying the chain, and encrypting an archive stream.

    python bench/bench_security.py --records 20000

Prints records per second for each; figures depend on the machine (say whether it was shared).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync.access import acting_as
from sync.migrate import archive_crypto
from sync.store import AuditEntry, StagedRecord, Store, keys
from sync.store import audit as chain


def _records(n: int) -> list[StagedRecord]:
    return [StagedRecord("bench", "Contact", f"C{i:07d}", "contact",
                         {"first_name": f"Jane{i}", "last_name": "Doe", "email": f"jane{i}@example.com",
                          "phone": f"+4915112{i:06d}", "country": "DE"}) for i in range(n)]


def _stage(path: Path, key: str | None, records: list[StagedRecord]) -> float:
    with Store.open(path, key=key) as st:
        started = time.perf_counter()
        for start in range(0, len(records), 1000):
            with st.begin() as conn:
                st.stage(conn, records[start:start + 1000], None)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    n = args.records
    records = _records(n)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plain = _stage(folder / "plain.sqlite", None, records)
        encrypted = _stage(folder / "encrypted.sqlite", keys.new_key(), records)
        print(f"stage {n:,} records: plain SQLite {n / plain:,.0f}/s, SQLCipher {n / encrypted:,.0f}/s "
              f"({encrypted / plain:.2f}x the time)")
        with Store.open(folder / "plain.sqlite") as st, acting_as("bench", "bench"):
            started = time.perf_counter()
            for start in range(0, n, 500):
                with st.begin() as conn:
                    st.audit(conn, [AuditEntry("write", "bench", "Contact", f"C{i}", "email", "a", "b")
                                    for i in range(start, min(n, start + 500))], None)
            appended = time.perf_counter() - started
            started = time.perf_counter()
            with st.engine.connect() as conn:
                verdict = chain.verify(conn)
            verified = time.perf_counter() - started
        assert verdict.ok
        print(f"audit: append {n / appended:,.0f} entries/s (batches of 500), verify {n / verified:,.0f} entries/s")
    data = b"".join(r.source_id.encode() + b",jane@example.com,+4915112345678\n" for r in records) * 10
    out = io.BytesIO()
    out.close = lambda: None  # type: ignore[method-assign]
    key = bytes.fromhex(archive_crypto.new_key())
    started = time.perf_counter()
    with archive_crypto.open_encrypted_write(out, key) as w:
        w.write(data)
    sealed = time.perf_counter() - started
    started = time.perf_counter()
    plain_again = io.BufferedReader(archive_crypto.DecryptingReader(io.BytesIO(out.getvalue()), key, "bench")).read()
    opened = time.perf_counter() - started
    assert plain_again == data
    mb = len(data) / 1e6
    print(f"archive AES-256-GCM: encrypt {mb / sealed:,.0f} MB/s, decrypt {mb / opened:,.0f} MB/s ({mb:.0f} MB)")


if __name__ == "__main__":
    main()
