"""Customer data protected at rest, private files, and a tamper-evident audit trail (SQLite).

Real parts only: `crm2 demo` and `crm2 migrate run` as processes under a permissive umask,
SQLCipher stores read byte by byte, SQLite's own triggers refusing audit edits.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_migrate_support import crm2 as crm2_in_org
from test_migrate_support import start_org

from sync import private
from sync.access import acting_as
from sync.store import AuditEntry, Store, keys
from sync.store import audit as chain
from sync.store.schema import audit_log, staging


def crm2(*args: str | Path, env: dict[str, str] | None = None, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    """`crm2 ...` as a real process started with a permissive umask (as a user's shell has)."""
    return subprocess.run([sys.executable, "-m", "sync", "--no-json-logs", *map(str, args)], capture_output=True,
                          text=True, timeout=900, env={**os.environ, **(env or {})},
                          preexec_fn=lambda: os.umask(umask))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("secure") / "demo"
    result = crm2("demo", "--customers", "120", "--seed", "5", "--workdir", workdir)
    assert result.returncode in (0, 3), result.stderr[-3000:]
    assert "Store encrypted (SQLCipher); its key is kept in" in result.stdout
    return workdir


def _personal_values(store_path: Path) -> set[str]:
    """E-mail addresses, phone numbers and names the store holds (read through its key)."""
    found: set[str] = set()
    with Store.open(store_path) as st, st.engine.connect() as conn:
        for entity, data in conn.execute(sa.select(staging.c.entity, staging.c.data)):
            if entity not in ("customer", "contact"):
                continue
            for name in ("email", "phone", "name", "legal_name", "first_name", "last_name"):
                value = (data or {}).get(name)
                if isinstance(value, str) and len(value) >= 5:
                    found.add(value)
    return found


def test_demo_store_holds_no_personal_data_in_any_byte(demo: Path):
    values = _personal_values(demo / "crm2.sqlite")
    assert sum("@" in v for v in values) > 50 and sum(v.startswith("+") for v in values) > 50
    files = sorted(demo.glob("crm2.sqlite*"))
    assert demo / "crm2.sqlite" in files
    for path in files:
        raw = path.read_bytes()
        leaked = [v for v in values if v.encode() in raw]
        assert not leaked, f"{path.name} holds {len(leaked)} personal values in plain text"
    # and the check would see them if they were there: the stand-in's own (plain) ledger has some
    ledger = (demo / "finance.sqlite").read_bytes()
    assert any(v.encode() in ledger for v in values)


def test_key_is_kept_away_from_the_data_and_private(demo: Path):
    kept = keys.kept_key_path(demo / "crm2.sqlite")
    assert kept.is_file() and not kept.resolve().is_relative_to(demo.resolve())
    assert kept.stat().st_mode & 0o777 == 0o600 and kept.parent.stat().st_mode & 0o777 == 0o700


def test_missing_or_wrong_key_is_exit_2_with_a_clear_message(demo: Path, tmp_path: Path):
    store = demo / "crm2.sqlite"
    missing = crm2("runs", "--store", store, env={"CRM2_KEY_DIR": str(tmp_path / "elsewhere")})
    assert missing.returncode == 2
    assert "is encrypted" in missing.stderr and "CRM2_STORE_KEY" in missing.stderr
    assert "Traceback" not in missing.stderr and "file is not a database" not in missing.stderr
    wrong = crm2("runs", "--store", store, env={"CRM2_STORE_KEY": "ab" * 32})
    assert wrong.returncode == 2 and "key from $CRM2_STORE_KEY is wrong" in wrong.stderr
    assert "ab" * 32 not in wrong.stderr and "ERROR CORE" not in wrong.stderr
    assert crm2("runs", "--store", store).returncode == 0  # the key folder has it


def test_every_file_crm2_wrote_is_private_after_a_demo_and_a_migrate_run(demo: Path, tmp_path: Path):
    org = start_org(tmp_path / "org")
    try:
        result = subprocess.run([sys.executable, "-m", "sync", "--no-json-logs", "migrate", "run",
                                 "--config", str(org.config)], capture_output=True, text=True, timeout=900,
                                env={**os.environ, **org.env}, preexec_fn=lambda: os.umask(0o022))
        assert result.returncode in (0, 3), result.stderr[-3000:]
        archived = crm2_in_org(org, "migrate", "archive", "--config", org.config, "--out", tmp_path / "org" / "arch")
        assert archived.returncode == 0, archived.stderr[-2000:]
    finally:
        org.stop()
    written_by_test = {org.config}
    wide = [f"{mode} {path}" for root in (demo, tmp_path / "org") for path, mode in private.wider_than_private(root)
            if path not in written_by_test]
    assert not wide, "\n".join(wide)


def test_private_helpers_hold_whatever_the_umask(tmp_path: Path):
    previous = os.umask(0o000)
    try:
        folder = private.mkdir(tmp_path / "a" / "b")
        private.write_text(folder / "x.txt", "x")
        existing = tmp_path / "wide.csv"
        existing.write_text("old")
        existing.chmod(0o666)
        with private.open_write(existing, "w") as out:
            out.write("new")
    finally:
        os.umask(previous)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / "x.txt").stat().st_mode & 0o777 == 0o600
    assert existing.stat().st_mode & 0o777 == 0o600


# -- rekey -------------------------------------------------------------------------------------------
def _plain_store(path: Path) -> None:
    with Store.open(path) as st, st.begin() as conn:
        st.audit(conn, [AuditEntry("write", "crm", "Account", "A1", "Email", "old@example.com", "jo@example.com")],
                 None)


def test_rekey_encrypts_a_plain_store_then_rotates_its_key(tmp_path: Path):
    store = tmp_path / "data" / "crm2.sqlite"
    env = {"CRM2_KEY_DIR": str(tmp_path / "keys")}
    _plain_store(store)
    assert b"jo@example.com" in store.read_bytes() + (store.with_name("crm2.sqlite-wal").read_bytes()
                                                      if store.with_name("crm2.sqlite-wal").exists() else b"")
    first = crm2("store", "rekey", "--store", store, env=env)
    assert first.returncode == 0, first.stderr
    assert "encrypted with a new key, kept in " + str(tmp_path / "keys") in first.stdout
    assert b"jo@example.com" not in store.read_bytes()
    key1 = (tmp_path / "keys").glob("*.key").__next__().read_text().strip()
    second = crm2("store", "rekey", "--store", store, env=env)
    assert second.returncode == 0 and "re-encrypted" in second.stdout
    assert crm2("runs", "--store", store, env={**env, "CRM2_STORE_KEY": key1}).returncode == 2
    listed = crm2("audit", "list", "--store", store, "--json", env=env)
    assert listed.returncode == 0 and listed.stdout.count('"action": "rekey"') == 2
    assert crm2("audit", "verify", "--store", store, env=env).returncode == 0


# -- the audit chain -----------------------------------------------------------------------------------
def _audited_store(path: Path, entries: int = 5) -> None:
    with Store.open(path) as st:
        for i in range(1, entries + 1):
            with acting_as("alice" if i % 2 else "bob", "crm2 unmerge"), st.begin() as conn:
                st.audit(conn, [AuditEntry("unmerge", "crm2", "golden_customer", f"G{i}", None,
                                           {"email": f"p{i}@example.com"}, None)], "run-1")


def _verify(path: Path) -> chain.Verdict:
    with Store.open(path) as st, st.engine.connect() as conn:
        return chain.verify(conn)


def _tamper(path: Path, *sql: str) -> None:
    """What someone with the file and the sqlite3 shell could do: drop the guards, then edit."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("DROP TRIGGER audit_log_no_delete")
        for statement in sql:
            conn.execute(statement)
    conn.close()


def test_entries_record_actor_and_command_and_chain(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    _audited_store(path)
    with Store.open(path) as st, st.engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all()
    assert [r.actor for r in rows] == ["alice", "bob", "alice", "bob", "alice"]
    assert {r.command for r in rows} == {"crm2 unmerge"}
    assert rows[0].prev_hash == chain.GENESIS and all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert _verify(path).ok and _verify(path).checked == 5


def test_the_store_refuses_to_change_or_delete_audit_entries(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    _audited_store(path)
    with Store.open(path) as st:
        for statement in (audit_log.update().values(action="nothing"), audit_log.update().values(actor="eve"),
                          audit_log.delete()):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"), st.begin() as conn:
                conn.execute(statement.where(audit_log.c.id == 2))
        # erasure may blank the values: they are outside the hash, so the chain still holds
        with st.begin() as conn:
            conn.execute(audit_log.update().where(audit_log.c.id == 2).values(old={"email": "erased:1"}))
    assert _verify(path).ok


@pytest.mark.parametrize(("sql", "kind", "entry"), [
    (["UPDATE audit_log SET actor = 'mallory' WHERE id = 3"], "changed", 3),
    (["DELETE FROM audit_log WHERE id = 2"], "removed", 2),
])
def test_verify_names_the_first_changed_removed_or_inserted_entry(tmp_path: Path, sql: list[str], kind: str,
                                                                   entry: int):
    path = tmp_path / "s.sqlite"
    _audited_store(path)
    _tamper(path, *sql)
    verdict = _verify(path)
    assert verdict.problem is not None and (verdict.problem.kind, verdict.problem.entry_id) == (kind, entry)
    result = crm2("audit", "verify", "--store", path)
    assert result.returncode == 1 and f"audit entry {entry} was {kind}" in result.stderr


def test_verify_names_an_entry_forged_into_the_middle_of_the_chain(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    _audited_store(path)
    conn = sqlite3.connect(path)
    at, prev = conn.execute("SELECT at, hash FROM audit_log WHERE id = 2").fetchone()
    conn.close()
    forged = {"id": 3, "run_id": "run-1", "at": at, "action": "unmerge", "system": "crm2",
              "object": "golden_customer", "record_id": "G99", "field": None, "actor": "alice",
              "command": "crm2 unmerge"}
    digest = chain.entry_hash({**forged, "at": datetime.fromisoformat(at)}, prev)  # a forger who knows the rule
    _tamper(path, "UPDATE audit_log SET id = id + 100 WHERE id >= 3",
            "UPDATE audit_log SET id = id - 99 WHERE id >= 100",
            "INSERT INTO audit_log (id, run_id, at, action, system, object, record_id, actor, command, "
            "prev_hash, hash) "
            f"VALUES (3, 'run-1', '{at}', 'unmerge', 'crm2', 'golden_customer', 'G99', 'alice', 'crm2 unmerge', "
            f"'{prev}', '{digest}')")
    verdict = _verify(path)
    assert verdict.problem is not None and (verdict.problem.kind, verdict.problem.entry_id) == ("inserted", 3)
    result = crm2("audit", "verify", "--store", path)
    assert result.returncode == 1 and "audit entry 3 was inserted" in result.stderr


def test_anchor_catches_entries_cut_off_the_end(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    _audited_store(path)
    head = crm2("audit", "verify", "--store", path)
    assert head.returncode == 0
    anchor = head.stdout.split("head ")[1].strip()
    _tamper(path, "DELETE FROM audit_log WHERE id >= 4")
    assert crm2("audit", "verify", "--store", path).returncode == 0  # a chain alone cannot tell
    cut = crm2("audit", "verify", "--store", path, "--anchor", anchor)
    assert cut.returncode == 1 and "cut off the end" in cut.stderr


def test_audit_list_filters_by_actor_record_and_time(tmp_path: Path):
    path = tmp_path / "s.sqlite"
    _audited_store(path)
    by_bob = crm2("audit", "list", "--store", path, "--actor", "bob", "--json")
    assert by_bob.returncode == 0 and by_bob.stdout.count('"actor": "bob"') == 2 and "alice" not in by_bob.stdout
    one = crm2("audit", "list", "--store", path, "--record", "crm2/golden_customer/G3", "--json")
    assert one.stdout.count("\n") == 1 and '"record_id": "G3"' in one.stdout
    assert crm2("audit", "list", "--store", path, "--since", "2999-01-01", "--json").stdout == ""
    assert "p1@example.com" not in crm2("audit", "list", "--store", path).stdout  # values never shown


def test_cli_actor_option_names_the_service_account(tmp_path: Path):
    path = tmp_path / "data" / "s.sqlite"
    with Store.open(path) as st, st.begin() as conn:  # a resolvable record to unmerge is not needed:
        st.audit(conn, [AuditEntry("write", "crm", "Account", "A1")], None)
    inside = crm2("store", "rekey", "--store", path, env={"CRM2_KEY_DIR": str(tmp_path / "data" / "keys")})
    assert inside.returncode == 2 and "inside the store's folder" in inside.stderr
    assert crm2("runs", "--store", path).returncode == 0  # refused before anything changed
    result = crm2("--actor", "svc-nightly", "store", "rekey", "--store", path,
                  env={"CRM2_KEY_DIR": str(tmp_path / "keys")})
    assert result.returncode == 0, result.stderr
    listed = crm2("audit", "list", "--store", path, "--actor", "svc-nightly", "--json",
                  env={"CRM2_KEY_DIR": str(tmp_path / "keys")})
    assert '"command": "crm2 store rekey"' in listed.stdout


def test_a_pipeline_config_names_the_store_key_by_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from sync.orchestrate.config import StoreConfig
    from sync.yamlconf import ConfigError

    for name in (keys.KEY_ENV, keys.KEY_FILE_ENV):  # restored to what they were after the test
        monkeypatch.setenv(name, "x")
        monkeypatch.delenv(name)
    monkeypatch.setenv(keys.KEY_DIR_ENV, str(tmp_path / "no-keys-here"))
    monkeypatch.setenv("SHOP_STORE_KEY", keys.new_key())
    url = StoreConfig(url="data/s.sqlite", key_env="SHOP_STORE_KEY").resolved_url(tmp_path)
    with Store.open(url) as st:
        assert st.encrypted
    monkeypatch.delenv(keys.KEY_ENV)  # a later process that was not given the key
    with pytest.raises(keys.StoreKeyError, match="is encrypted"):
        Store.open(url)
    key_file = tmp_path / "secrets" / "store.key"
    private.write_text(key_file, os.environ["SHOP_STORE_KEY"])
    with Store.open(StoreConfig(url="data/s.sqlite", key_file=str(key_file)).resolved_url(tmp_path)) as st:
        assert st.encrypted
    with pytest.raises(ConfigError):
        StoreConfig(url="data/s.sqlite", key_file="missing.key").resolved_url(tmp_path)
    with pytest.raises(ConfigError):
        StoreConfig(url="data/s.sqlite", key_env="NOT_SET_ANYWHERE").resolved_url(tmp_path)


def test_each_command_needs_its_role_and_the_refusal_names_both():
    from sync.access import Refused, Role, action_of, check

    assert action_of("crm2 review confirm") == action_of("review.confirm") == "review.confirm"
    check(Role.STEWARD, action_of("crm2 unmerge"), "crm2 unmerge")
    with pytest.raises(Refused, match=r"^crm2 unmerge needs role crm2_steward \(you are crm2_viewer\)$"):
        check(Role.VIEWER, action_of("crm2 unmerge"), "crm2 unmerge")
    with pytest.raises(Refused, match="crm2 store rekey needs role crm2_admin"):
        check(Role.OPERATOR, "store.rekey")
    with pytest.raises(Refused, match="needs role crm2_admin"):  # an action nobody listed: admins only
        check(Role.OPERATOR, "something.new")
