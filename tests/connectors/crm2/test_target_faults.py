"""target-crm2 under bad input: bad records, broken taps, failing plans, config mistakes, crashes.

The rule everywhere: nothing is lost (every record ends staged, deleted or quarantined with a
reason, or — after a plan failed — is read again next run), one stream's trouble does not stop
the others, and the bookmark never moves past rows that are not committed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from shop_mapping import CLIENT_PROPERTIES, PAYMENT_PROPERTIES, client, payment, write_shop_mapping
from target_crm2_support import TARGET, StoreView, messages, record, run_target, schema, state, write_config


@pytest.fixture
def shop(tmp_path):
    mapping = write_shop_mapping(tmp_path)
    store = tmp_path / "store.sqlite"
    return tmp_path, mapping, store


def test_bad_records_are_quarantined_with_reasons_and_the_run_succeeds(shop):
    folder, mapping, store = shop
    config = write_config(folder, store_url=store, mapping=mapping)
    run = run_target(config, messages(
        schema("clients", CLIENT_PROPERTIES, key=[]),  # the record without an id is bad data, not a tap fault
        record("clients", client(1)),
        record("clients", client(2, email="not-an-email")),          # the mapping rejects it
        record("clients", client(3, name=None)),                     # a required field is missing
        record("clients", client(4, country={"nested": "object"})),  # the tap's schema rejects it
        record("clients", {"name": "No Id Ltd", "email": "x@noid.example"}),  # no key
        record("clients", "not an object"),
        record("clients", client(5, removed=True)),                  # deleted at source
        state({"bookmarks": {"clients": {"position": 7}}}),
    ))
    assert run.exit_code == 0, run.stderr[-2000:]
    view = StoreView(store)
    assert set(view.staged("clients")) == {"1"}
    assert view.crosswalk("clients") == {("clients", "1"): "loaded", ("clients", "2"): "quarantined",
                                         ("clients", "3"): "quarantined", ("clients", "4"): "quarantined",
                                         ("clients", "5"): "deleted"}
    held = {(r.source_id, r.field): r.reason for r in view.quarantine()}
    assert held[("2", "email")].startswith("email:")
    assert held[("3", "name")] == "required field is missing"
    assert held[("4", "country")] == "does not match the tap's schema: field 'country': expected string or null, " \
                                     "got object"
    assert held[(None, "id")] == "key field 'id' is missing or not a scalar"
    assert held[(None, None)] == "record is not an object"
    plan = run.counts()["clients"]["plans"]["clients"]
    assert plan == {"inserted": 1, "updated": 0, "unchanged": 0, "deleted": 1, "quarantined": 5, "unprocessed": 0}
    assert view.bookmark("shop") == {"bookmarks": {"clients": {"position": 7}}}
    # personal data of the rejected records is in neither the log nor the quarantine copies
    dump = json.dumps([list(r) for r in view.quarantine()], default=str)
    for secret in ("buyer2@client2.example", "x@noid.example", "buyer3@client3"):
        assert secret not in run.stderr and secret not in dump
    view.close()

    # The same input again writes nothing: no new row anywhere, everything unchanged.
    again = run_target(config, run_stdin := messages(
        schema("clients", CLIENT_PROPERTIES, key=[]), *[record("clients", r) for r in (
            client(1), client(2, email="not-an-email"), client(3, name=None), client(4, country={"nested": "object"}),
            {"name": "No Id Ltd", "email": "x@noid.example"}, "not an object", client(5, removed=True))]))
    assert again.exit_code == 0 and run_stdin
    plan = again.counts()["clients"]["plans"]["clients"]
    assert plan["inserted"] == plan["updated"] == plan["deleted"] == 0
    view = StoreView(store)
    assert len(view.quarantine(open_only=False)) == 5
    view.close()


def test_a_fixed_record_leaves_quarantine_and_a_deleted_one_can_come_back(shop):
    folder, mapping, store = shop
    config = write_config(folder, store_url=store, mapping=mapping)
    assert run_target(config, messages(schema("clients", CLIENT_PROPERTIES), record("clients", client(1, name=None)),
                                       record("clients", client(2, removed=True)))).exit_code == 0
    run = run_target(config, messages(schema("clients", CLIENT_PROPERTIES), record("clients", client(1)),
                                      record("clients", client(2))))
    assert run.exit_code == 0
    view = StoreView(store)
    assert view.crosswalk("clients") == {("clients", "1"): "loaded", ("clients", "2"): "loaded"}
    assert view.staged("clients")["1"]["name"] == "Client 1 GmbH"
    assert view.quarantine() == [] and len(view.quarantine(open_only=False)) == 1
    view.close()


def test_a_plan_that_fails_stops_alone_and_holds_its_bookmark(shop):
    folder, mapping, store = shop
    prior = {"bookmarks": {"payments": {"position": 1}, "clients": {"position": 1}}}
    config = write_config(folder, store_url=store, mapping=mapping, batch_size_rows=2)
    view = StoreView(store)
    run = run_target(config, messages(schema("clients", CLIENT_PROPERTIES)))  # creates the store
    with view.engine.begin() as conn:
        conn.exec_driver_sql("insert into bookmarks (name, state, updated_at) values ('shop', ?, '2026-01-01')",
                             (json.dumps(prior),))
    run = run_target(config, messages(
        schema("payments", PAYMENT_PROPERTIES), schema("clients", CLIENT_PROPERTIES),
        record("payments", payment(1)),
        record("payments", payment(2, amount="ten euros")),  # on_error: fail
        record("payments", payment(3)),
        record("clients", client(1)), record("clients", client(2)), record("clients", client(3)),
        state({"bookmarks": {"payments": {"position": 3}, "clients": {"position": 3}}}),
    ))
    assert run.exit_code == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last == ("target-crm2: stream payments stopped: plan payments: field 'amount': "
                    "decimal: not an amount (on_error: fail)")
    assert set(view.staged("clients")) == {"1", "2", "3"}  # the other stream went on
    assert set(view.staged("payments")) == {"P1"}          # records before the failure are kept
    counts = run.counts()["payments"]["plans"]["payments"]
    assert counts["inserted"] == 1 and counts["unprocessed"] == 2
    # clients moved on; payments stays where the previous run left it, so they are read again
    assert view.bookmark("shop") == {"bookmarks": {"payments": {"position": 1}, "clients": {"position": 3}}}
    assert run.states[-1] == view.bookmark("shop")
    view.close()


def test_protocol_faults_are_kept_the_rest_loads_and_the_target_exits_1(shop):
    folder, mapping, store = shop
    config = write_config(folder, store_url=store, mapping=mapping)
    stdin = messages(
        record("clients", client(9)),                                   # before its schema
        schema("clients", CLIENT_PROPERTIES),
        {"type": "SCHEMA", "stream": "payments", "schema": {"type": "object"}},  # no properties
        record("payments", payment(1)),
    ) + "this is not json, call me at +49 30 1234567\n" + messages(
        record("clients", client(1)),
        {"type": "ACTIVATE_VERSION", "stream": "clients", "version": 1},
        {"type": "SOMETHING_NEW", "value": 1},
        state({"bookmarks": {"clients": {"position": 1}}}),
    )
    run = run_target(config, stdin)
    assert run.exit_code == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last == "target-crm2: record of stream clients arrived before its SCHEMA (and 3 more problems, see the log)"
    assert "+49 30 1234567" not in run.stderr and "buyer9" not in run.stderr
    view = StoreView(store)
    assert set(view.staged("clients")) == {"1"}
    reasons = sorted((r.stream, r.reason) for r in view.quarantine())
    assert reasons == [
        ("(unreadable input)", "line is not a JSON Singer message"),
        ("clients", "record of stream clients arrived before its SCHEMA"),
        ("payments", "no valid SCHEMA for stream payments: SCHEMA message for stream payments has no 'properties'"),
    ]
    unreadable = next(r for r in view.quarantine() if r.stream == "(unreadable input)")
    assert "1234567" not in json.dumps(unreadable.record)
    assert view.bookmark("shop") == {"bookmarks": {"clients": {"position": 1}}}
    view.close()


def test_a_schema_change_mid_stream_adds_and_drops_fields(shop):
    folder, mapping, store = shop
    config = write_config(folder, store_url=store, mapping=mapping)
    narrow = {k: v for k, v in CLIENT_PROPERTIES.items() if k != "country"}
    wide = {**CLIENT_PROPERTIES, "segment": {"type": "string"}}
    run = run_target(config, messages(
        schema("clients", narrow), record("clients", {"id": 1, "name": "A", "email": None}),
        schema("clients", wide), record("clients", {**client(2), "segment": "smb"}),
        schema("clients", narrow, key=["id", "name"]), record("clients", {"id": 3, "name": "C"}),
        record("clients", {"id": 1, "name": "A renamed"}),
    ))
    assert run.exit_code == 0, run.stderr[-2000:]
    view = StoreView(store)
    staged = view.staged("clients")
    assert set(staged) == {"1", "2", "3"} and staged["1"]["name"] == "A renamed"
    assert staged["2"]["country"] == "DE"
    view.close()


@pytest.mark.parametrize(("config", "setting"), [
    ({"mapping": "shop.yml"}, "store_url: Field required"),
    ({"store_url": "x.sqlite"}, "mapping: Field required"),
    ({"store_url": "x.sqlite", "mapping": "nope.yml"}, "mapping: nope.yml: file not found (check the path)"),
    ({"store_url": "x.sqlite", "mapping": "shop.yml", "unmapped_streams": "drop"},
     "unmapped_streams: Input should be 'skip' or 'quarantine'"),
    ({"store_url": "postgresql+psycopg://crm2:hunter22@127.0.0.1:1/crm2", "mapping": "shop.yml"},
     "store_url: cannot open the store at postgresql+psycopg://crm2:***@127.0.0.1:1/crm2 (OperationalError)"),
])
def test_config_errors_are_one_line_naming_the_setting(shop, config, setting):
    folder, _, _ = shop
    path = folder / "bad.json"
    path.write_text(json.dumps(config))
    proc = subprocess.run([TARGET, "--config", str(path)], input="", capture_output=True, text=True, cwd=folder)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"config error: {setting}"
    assert "hunter22" not in proc.stderr and "Traceback" not in proc.stderr


def test_a_bad_mapping_is_a_config_error_with_its_position(shop):
    folder, mapping, store = shop
    mapping.write_text(mapping.read_text().replace("transform: email", "transform: emial"))
    proc = subprocess.run([TARGET, "--config", str(write_config(folder, store_url=store, mapping=mapping))],
                          input="", capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"config error: {mapping}:9:39: unknown transform 'emial' (did you mean 'email'?)")


def test_killed_mid_stream_the_bookmark_never_passes_durable_rows(shop):
    folder, mapping, store = shop
    config = write_config(folder, store_url=store, mapping=mapping, batch_size_rows=20)
    total = 400

    def stream(upto: int) -> str:
        out = [schema("clients", CLIENT_PROPERTIES)]
        for i in range(1, upto + 1):
            out.append(record("clients", client(i)))
            if i % 10 == 0:
                out.append(state({"bookmarks": {"clients": {"position": i}}}))
        return messages(*out)

    proc = subprocess.Popen([TARGET, "--config", str(config)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True, env=os.environ.copy())
    assert proc.stdin is not None
    proc.stdin.write(stream(total)[: len(stream(total)) // 2])  # half the input, then silence: mid-stream
    proc.stdin.flush()
    view = StoreView(store)
    deadline = time.monotonic() + 60
    staged = 0
    while time.monotonic() < deadline:
        try:
            staged = view.scalar("select count(*) from staging")
        except Exception:  # the store is still being created
            staged = 0
        if staged >= 60:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert staged >= 60, "the target did not commit a batch in time"

    bookmark = view.bookmark("shop")
    assert bookmark is not None
    position = bookmark["bookmarks"]["clients"]["position"]
    durable = {int(i) for i in view.staged("clients")}
    assert position >= 10 and set(range(1, position + 1)) <= durable

    # The rerun (a tap resuming from anywhere up to the bookmark) loads the rest, with no duplicate.
    run = run_target(config, stream(total))
    assert run.exit_code == 0, run.stderr[-2000:]
    counts = run.counts()["clients"]["plans"]["clients"]
    assert counts["unchanged"] == len(durable) and counts["inserted"] == total - len(durable)
    assert {int(i) for i in view.staged("clients")} == set(range(1, total + 1))
    assert view.scalar("select count(*) from crosswalk") == total
    assert view.bookmark("shop")["bookmarks"]["clients"]["position"] == total
    view.close()


@pytest.mark.postgres
def test_records_postgres_cannot_hold_are_quarantined_and_the_batch_still_loads(tmp_path, fresh_postgres_db):
    mapping = write_shop_mapping(tmp_path)
    config = write_config(tmp_path, store_url=fresh_postgres_db, mapping=mapping)
    run = run_target(config, messages(
        schema("clients", CLIENT_PROPERTIES),
        record("clients", client(1)),
        record("clients", client(2, name="Nul\u0000Byte AG")),     # JSONB cannot store U+0000
        record("clients", client(3, name="Lone \ud800 surrogate")),  # nor a lone surrogate (nor does pydantic)
        record("clients", client(4, name="x" * 200_000)),            # huge, but storable
        record("clients", client(5)),
    ))
    assert run.exit_code == 0, run.stderr[-2000:]
    view = StoreView(fresh_postgres_db)
    assert set(view.staged("clients")) == {"1", "4", "5"}
    held = {r.source_id: r.reason for r in view.quarantine()}
    assert set(held) == {"2", "3"}, held
    assert held["2"] == "the store rejected the record (DataError)"
    assert "unicode" in held["3"]  # the entity model itself refuses a lone surrogate
    assert view.crosswalk("clients")[("clients", "2")] == "quarantined"
    plan = run.counts()["clients"]["plans"]["clients"]
    assert plan["inserted"] == 3 and plan["quarantined"] == 2
    view.close()
