"""PostgreSQL: crm2's roles refuse in crm2 and in the database itself, the audit log is append-only
for every crm2 role, and the store connects over verified TLS (a throwaway server with ssl=on)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import trustme
from throwaway_postgres import ThrowawayPostgres, pg_bin

from sync.store import AuditEntry, Store
from sync.store import audit as chain


def crm2(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync", "--no-json-logs", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ))


def as_user(url: str, user: str) -> str:
    return sa.make_url(url).set(username=user).render_as_string(hide_password=False)


@pytest.fixture
def db(fresh_postgres_db: str) -> Iterator[str]:
    with Store.open(fresh_postgres_db) as st, st.begin() as conn:  # migrations create the roles
        st.audit(conn, [AuditEntry("write", "salesforce", "Account", "001A", "Tier__c", "B", "A")], "run-0")
    yield fresh_postgres_db


def login_user(url: str, role: str | None) -> str:
    """A new database user (trust auth on the throwaway server), given ``role`` with `crm2 store grant`."""
    name = f"u_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{name}" LOGIN'))
    engine.dispose()
    if role:
        granted = crm2("store", "grant", name, role, "--store", url)
        assert granted.returncode == 0, granted.stderr
        assert f"{name} now has role {role}" in granted.stdout
    return as_user(url, name)


def refused(url: str, sql: str) -> str:
    engine = sa.create_engine(url)
    try:
        with pytest.raises(sa.exc.DBAPIError) as caught, engine.begin() as conn:
            conn.execute(sa.text(sql))
        return str(caught.value.orig)
    finally:
        engine.dispose()


def test_migration_creates_the_four_roles_nested(db: str):
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        members = {tuple(r) for r in conn.execute(sa.text(
            "SELECT r.rolname, m.rolname FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid "
            "JOIN pg_roles m ON m.oid = a.member WHERE r.rolname LIKE 'crm2\\_%' AND m.rolname LIKE 'crm2\\_%'"))}
        logins = conn.execute(sa.text("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'crm2\\_%' "
                                      "AND rolcanlogin")).scalar()
    engine.dispose()
    # nested like the access rule, and an admin may hand out every lower role
    assert members == {("crm2_viewer", "crm2_steward"), ("crm2_steward", "crm2_operator"),
                       ("crm2_operator", "crm2_admin"), ("crm2_viewer", "crm2_admin"), ("crm2_steward", "crm2_admin")}
    assert logins == 0


def test_a_viewer_is_refused_by_crm2_and_by_the_database(db: str):
    viewer = login_user(db, "crm2_viewer")
    result = crm2("unmerge", "salesforce/Contact/003A", "--store", viewer)
    assert result.returncode == 2
    assert "crm2 unmerge needs role crm2_steward (you are crm2_viewer)" in result.stderr
    assert "Traceback" not in result.stderr
    erase = crm2("store", "grant", "someone", "crm2_admin", "--store", viewer)
    assert erase.returncode == 2 and "crm2 store grant needs role crm2_admin (you are crm2_viewer)" in erase.stderr
    assert crm2("runs", "--store", viewer).returncode == 0
    shown = crm2("store", "role", "--all", "--store", viewer)
    assert shown.returncode == 0 and "role: crm2_viewer; store: PostgreSQL" in shown.stdout
    cells = [[c.strip() for c in line.split("│")[1:4]] for line in shown.stdout.splitlines() if "│" in line]
    assert ["crm2 unmerge", "crm2_steward", "no"] in cells and ["crm2 audit verify", "crm2_viewer", "yes"] in cells
    assert crm2("audit", "verify", "--store", viewer).returncode == 0
    # bypassing crm2: the write in plain SQL
    for sql in ("INSERT INTO match_constraints (entity, left_ref, right_ref, kind, created_at) "
                "VALUES ('contact', 'a/b/1', 'a/b/2', 'must_not_link', now())",
                "UPDATE golden SET merged_into = 'x'",
                "DELETE FROM staging",
                "INSERT INTO audit_log (id, at, action, system, object, record_id) "
                "VALUES (99, now(), 'x', 'x', 'x', 'x')"):
        assert "permission denied" in refused(viewer, sql)


def test_a_user_without_a_crm2_role_is_told_so(db: str):
    nobody = login_user(db, None)
    result = crm2("runs", "--store", nobody)
    assert result.returncode == 2 and "crm2 runs needs role crm2_viewer" in result.stderr
    assert "without a crm2 role" in result.stderr


def test_steward_may_decide_matches_but_not_sync(db: str):
    steward = login_user(db, "crm2_steward")
    engine = sa.create_engine(steward)
    with engine.begin() as conn:  # what review confirm/reject and unmerge write
        conn.execute(sa.text("INSERT INTO match_constraints (entity, left_ref, right_ref, kind, created_at) "
                             "VALUES ('contact', 'a/b/1', 'a/b/2', 'must_not_link', now())"))
    engine.dispose()
    assert "permission denied" in refused(steward, "UPDATE staging SET deleted = true")
    assert "permission denied" in refused(steward, "DELETE FROM golden")


def test_no_crm2_role_may_delete_or_rewrite_audit_entries(db: str):
    operator = login_user(db, "crm2_operator")
    admin = login_user(db, "crm2_admin")
    assert "permission denied" in refused(operator, "DELETE FROM audit_log")
    assert "permission denied" in refused(operator, "UPDATE audit_log SET action = 'nothing'")
    assert "permission denied" in refused(admin, "DELETE FROM audit_log")
    assert "permission denied" in refused(admin, "UPDATE audit_log SET actor = 'eve'")
    engine = sa.create_engine(admin)
    with engine.begin() as conn:  # erasure: the values, outside the hash, may be blanked
        conn.execute(sa.text("UPDATE audit_log SET old = NULL, new = NULL"))
    engine.dispose()
    # even the owner (a superuser here) is stopped by the trigger
    assert "append-only" in refused(db, "UPDATE audit_log SET action = 'nothing'")
    assert "append-only" in refused(db, "DELETE FROM audit_log")
    with Store.open(db) as st, st.engine.connect() as conn:
        assert chain.verify(conn).ok


def test_audit_entries_name_the_database_role_that_wrote_them(db: str):
    steward = login_user(db, "crm2_steward")
    with Store.open(steward) as st, st.begin() as conn:
        st.audit(conn, [AuditEntry("review_match", "crm2", "match_contact", "a/b/1 ~ a/b/2")], None)
    with Store.open(db) as st, st.engine.connect() as conn:
        rows = chain.entries(conn, record="crm2/match_contact/a/b/1 ~ a/b/2")
        assert [r.actor for r in rows] == [sa.make_url(steward).username]
        assert chain.verify(conn).ok and chain.verify(conn).checked == 3  # the write, the grant, the review
    listed = crm2("audit", "list", "--store", db, "--actor", sa.make_url(steward).username, "--json")
    assert listed.returncode == 0 and '"action": "review_match"' in listed.stdout


# -- TLS ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThrowawayPostgres, Path]]:
    bindir = pg_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) not found")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(folder / "server.key"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "server.crt"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    server = ThrowawayPostgres(bindir, ssl_files=(folder / "server.crt", folder / "server.key"))
    try:
        yield server, folder
    finally:
        server.stop()


def test_store_connects_with_verify_full_and_refuses_an_unknown_server(tls_server: tuple[ThrowawayPostgres, Path],
                                                                       tmp_path: Path):
    server, folder = tls_server
    url = server.create_database()
    verified = f"{url}?sslmode=verify-full&sslrootcert={folder / 'ca.pem'}"
    with Store.open(verified) as st, st.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).scalar() is True
    assert crm2("runs", "--store", verified).returncode == 0
    other = trustme.CA()
    other.cert_pem.write_to_path(str(tmp_path / "other-ca.pem"))
    with pytest.raises(sa.exc.OperationalError, match="certificate verify failed"):
        Store.open(f"{url}?sslmode=verify-full&sslrootcert={tmp_path / 'other-ca.pem'}")
    result = crm2("runs", "--store", f"{url}?sslmode=verify-full&sslrootcert={tmp_path / 'other-ca.pem'}")
    assert result.returncode != 0 and "certificate verify failed" in result.stderr
