"""Singer BATCH messages into target-crm2: the same rows, quarantine, bookmarks and fingerprints as
RECORD lines, with real taps and a real target as processes joined by an OS pipe."""

from __future__ import annotations

import gzip
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from target_crm2_support import BIN, ROOT, TARGET, StoreView, messages, pipe, run_target, schema, state, write_config

sys.path.insert(0, str(ROOT / "tests" / "connectors" / "finance"))

from finance_ledger_data import ledger_records
from shop_mapping import CLIENT_PROPERTIES, client, write_shop_mapping

from connectors.finance.standin import write_ledger

MAPPINGS = ROOT / "mappings"


def batch_config(folder: Path, *, size: int = 2, gzip_files: bool = False) -> dict:
    encoding = {"format": "jsonl", "compression": "gzip"} if gzip_files else {"format": "jsonl"}
    return {"encoding": encoding, "storage": {"root": folder.as_uri()}, "batch_size": size}


def batch(stream: str, *files: Path, gz: bool = False) -> dict:
    encoding = {"format": "jsonl", "compression": "gzip"} if gz else {"format": "jsonl"}
    return {"type": "BATCH", "stream": stream, "encoding": encoding, "manifest": [f.as_uri() for f in files]}


def store_contents(view: StoreView) -> dict:
    staged = {(r.source_object, r.source_id): (json.loads(r.data) if isinstance(r.data, str) else r.data, r.deleted)
              for r in view.rows("select source_object, source_id, data, deleted from staging")}
    walk = {(r.source_object, r.source_id): (r.status, r.content_hash)
            for r in view.rows("select source_object, source_id, status, content_hash from crosswalk")}
    return {"staged": staged, "crosswalk": walk}


def test_a_tap_sending_batches_loads_the_same_rows_as_with_record_lines(tmp_path):
    ledger = tmp_path / "finance.sqlite"
    write_ledger(ledger, ledger_records())
    tap_config = {"url": f"sqlite:///{ledger}"}
    results = {}
    for mode in ("records", "batches", "gzip"):
        work = tmp_path / mode
        work.mkdir()
        folder = work / "batches"
        config = write_config(work, store_url=work / "store.sqlite", mapping=MAPPINGS / "finance.yml",
                              run_id="run-1", batch_folder=folder)
        extra = {} if mode == "records" else {"batch_config": batch_config(folder, gzip_files=mode == "gzip")}
        tap_exit, run = pipe("tap-crm2-finance", {**tap_config, **extra}, config, work)
        assert (tap_exit, run.exit_code) == (0, 0), run.stderr[-2000:]
        view = StoreView(work / "store.sqlite")
        results[mode] = (store_contents(view), view.bookmark("finance"))
        view.close()
        if mode != "records":
            assert list(folder.iterdir()) == []  # every file deleted once its rows were committed
    assert results["records"][0]["staged"], "nothing was staged"
    # same rows, same crosswalk fingerprints (so a later run in either mode skips what is unchanged)
    assert results["batches"] == results["records"] == results["gzip"]


def test_batch_files_are_private_and_follow_the_stream_and_state_order(tmp_path):
    ledger = tmp_path / "finance.sqlite"
    write_ledger(ledger, ledger_records())
    folder = tmp_path / "batches"
    tap_json = tmp_path / "tap.json"
    tap_json.write_text(json.dumps({"url": f"sqlite:///{ledger}", "batch_config": batch_config(folder)}))
    env = {**os.environ}
    out = subprocess.run([str(BIN / "tap-crm2-finance"), "--config", str(tap_json)], capture_output=True,
                         text=True, env=env, timeout=120, check=True).stdout
    kinds = [json.loads(line) for line in out.splitlines()]
    assert not [m for m in kinds if m["type"] == "RECORD"]
    batches = [m for m in kinds if m["type"] == "BATCH"]
    assert {m["stream"] for m in batches} == {"invoices", "payments", "credit_notes", "customers"}
    for i, message in enumerate(kinds):  # each BATCH is followed by the STATE that covers it
        if message["type"] == "BATCH":
            assert kinds[i + 1]["type"] == "STATE"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.iterdir())
    assert len(files) == sum(len(m["manifest"]) for m in batches) >= 5  # 4 invoices in files of 2
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    invoices = [json.loads(line) for m in batches if m["stream"] == "invoices"
                for url in m["manifest"] for line in Path(url.removeprefix("file://")).read_text().splitlines()]
    assert '"total_amount":12345678901234.56' in "".join(
        Path(u.removeprefix("file://")).read_text() for m in batches for u in m["manifest"])  # exact money
    assert [r["invoice_no"] for r in invoices] == ["INV-0001", "INV-0002", "INV-0003", "INV-0004"]


def test_bad_records_and_unreadable_lines_in_a_batch_file_are_quarantined_with_their_reason(tmp_path):
    folder = tmp_path / "batches"
    folder.mkdir()
    good, nameless = client(1), client(2, name=None)
    body = (json.dumps(good) + "\n" + json.dumps(nameless) + "\n" + '{"id": 3, "name": "Cut off' + "\n"
            + "[1, 2]\n" + json.dumps(client(4)) + "\n").encode()
    first = folder / "clients-1.jsonl.gz"
    first.write_bytes(gzip.compress(body))
    store = tmp_path / "store.sqlite"
    config = write_config(tmp_path, store_url=store, mapping=write_shop_mapping(tmp_path), run_id="run-1",
                          batch_folder=folder)
    run = run_target(config, messages(schema("clients", CLIENT_PROPERTIES), batch("clients", first, gz=True),
                                      state({"bookmarks": {"clients": {"at": 1}}})))
    assert run.exit_code == 3, run.stderr[-2000:]  # finished; unreadable lines kept in quarantine
    view = StoreView(store)
    assert set(view.staged("clients")) == {"1", "4"}
    held = {(r.source_id, r.field, r.reason) for r in view.quarantine()}
    assert ("2", "name", "required field is missing") in held
    assert (None, None, "line is not a JSON Singer message") in held or any(
        "not JSON" in r or "JSON" in r for _, _, r in held)
    assert (None, None, "record is not a JSON object") in held
    kept = [json.loads(r.record) if isinstance(r.record, str) else r.record for r in view.quarantine()
            if r.source_id is None]
    assert {k["line_number"] for k in kept} == {3, 4} and {k["batch_file"] for k in kept} == {"file 1 of the batch"}
    counts = run.counts()["clients"]
    assert counts["received"] == 5 and counts["quarantined"] == 2
    assert counts["plans"]["clients"]["inserted"] == 2 and counts["plans"]["clients"]["quarantined"] == 1
    assert view.bookmark("shop") == {"bookmarks": {"clients": {"at": 1}}}
    assert not first.exists()  # committed, so deleted
    assert "buyer2@client2.example" not in run.stderr
    view.close()


def test_an_unreadable_batch_file_holds_the_bookmark_and_a_rerun_loads_it_once(tmp_path):
    folder = tmp_path / "batches"
    folder.mkdir()
    one, two = folder / "clients-1.jsonl", folder / "clients-2.jsonl"
    one.write_text(json.dumps(client(1)) + "\n" + json.dumps(client(2)) + "\n")
    store = tmp_path / "store.sqlite"
    config = write_config(tmp_path, store_url=store, mapping=write_shop_mapping(tmp_path), run_id="run-1",
                          batch_folder=folder)
    stdin = messages(schema("clients", CLIENT_PROPERTIES), state({"bookmarks": {"clients": {"at": 0}}}),
                     batch("clients", one), state({"bookmarks": {"clients": {"at": 2}}}),
                     batch("clients", two), state({"bookmarks": {"clients": {"at": 4}}}))
    run = run_target(config, stdin)  # the second file is missing
    assert run.exit_code == 1
    assert "file 1 of the batch cannot be read" in run.stderr and str(folder) not in run.stderr
    view = StoreView(store)
    assert set(view.staged("clients")) == {"1", "2"}
    # held at the previous run's value (none: the stream starts over), never past the lost file
    assert view.bookmark("shop") == {"bookmarks": {}}

    # The tap runs again from that bookmark and sends both files: nothing twice, nothing lost.
    one.write_text(json.dumps(client(1)) + "\n" + json.dumps(client(2)) + "\n")
    two.write_text(json.dumps(client(3)) + "\n" + json.dumps(client(4)) + "\n")
    config = write_config(tmp_path, store_url=store, mapping=write_shop_mapping(tmp_path), run_id="run-2",
                          batch_folder=folder)
    run = run_target(config, stdin)
    assert run.exit_code == 0, run.stderr[-2000:]
    plan = run.counts()["clients"]["plans"]["clients"]
    assert (plan["inserted"], plan["unchanged"]) == (2, 2)
    assert set(view.staged("clients")) == {"1", "2", "3", "4"}
    assert view.scalar("select count(*) from crosswalk") == 4
    assert view.bookmark("shop") == {"bookmarks": {"clients": {"at": 4}}}
    view.close()


def test_a_batch_pipe_killed_after_a_commit_resumes_without_losing_or_doubling(tmp_path):
    """tap | target killed (SIGKILL, the whole process group) right after the first batch's rows
    are committed and before its bookmark is saved; the rerun resumes from the saved bookmark."""
    ledger = tmp_path / "finance.sqlite"
    write_ledger(ledger, ledger_records())
    folder = tmp_path / "batches"
    store = tmp_path / "store.sqlite"
    tap_json = tmp_path / "tap.json"
    tap_json.write_text(json.dumps({"url": f"sqlite:///{ledger}", "batch_config": batch_config(folder, size=1)}))
    config = write_config(tmp_path, store_url=store, mapping=MAPPINGS / "finance.yml", run_id="run-1",
                          batch_folder=folder)
    shell = f"'{BIN / 'tap-crm2-finance'}' --config '{tap_json}' | '{TARGET}' --config '{config}' >/dev/null"
    killed = subprocess.run(["sh", "-c", shell], env={**os.environ, "CRM2_KILL_AT_STAGE": "extract:finance"},
                            start_new_session=True, capture_output=True, timeout=300)
    assert killed.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL, 1), killed.stderr[-2000:]
    view = StoreView(store)
    assert view.bookmark("finance") is None  # killed before any bookmark was saved
    before = view.scalar("select count(*) from staging")
    assert before >= 1

    tap_exit, run = pipe("tap-crm2-finance", json.loads(tap_json.read_text()), config, tmp_path)
    assert (tap_exit, run.exit_code) == (0, 0), run.stderr[-2000:]
    totals = {s: c["plans"][s] for s, c in run.counts().items()}
    assert sum(p["unchanged"] for p in totals.values()) == before  # committed rows skipped by fingerprint
    assert view.scalar("select count(*) from staging") == view.scalar("select count(*) from crosswalk") == 8
    assert view.bookmark("finance") == run.states[-1]
    view.close()


def test_a_record_only_target_still_reads_a_third_party_tap_and_batches_are_opt_in(tmp_path):
    """Without batch_config crm2's tap sends RECORD lines, which any Singer target reads."""
    ledger = tmp_path / "finance.sqlite"
    write_ledger(ledger, ledger_records())
    tap_json = tmp_path / "tap.json"
    tap_json.write_text(json.dumps({"url": f"sqlite:///{ledger}"}))
    out = subprocess.run([str(BIN / "tap-crm2-finance"), "--config", str(tap_json)], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    types = {json.loads(line)["type"] for line in out.splitlines()}
    assert "RECORD" in types and "BATCH" not in types
