"""`crm2 store …` (rekey, grant, role) and `crm2 audit …` (verify, list): keys, roles, the audit trail."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from sync.access import Role
from sync.cli.common import EXIT_CODES_HELP, STORE_OPTION, Abort, console, handled
from sync.exitcodes import ExitCode


@click.group()
def store() -> None:
    """Keys, roles and grants of the crm2 store."""


@store.command("rekey", epilog=EXIT_CODES_HELP)
@STORE_OPTION
@click.option("--new-key-env", metavar="NAME", default=None,
              help="Take the new key from this environment variable (else crm2 makes one).")
@click.option("--key-file", type=click.Path(path_type=Path), default=None,
              help="Write the new key to this file (0600) instead of crm2's key folder.")
@handled
def rekey(store: str | None, new_key_env: str | None, key_file: Path | None) -> None:
    """Encrypt the SQLite store with a new key (SQLCipher); a plain store becomes encrypted.

    The current key is found as when opening the store. The new key is kept in crm2's key
    folder (or --key-file); nothing is written beside the data. Needs role crm2_admin.
    """
    from sync.orchestrate.lock import run_lock
    from sync.redaction import register_secret
    from sync.store import Store, keys, store_url
    from sync.store.store import sqlite_path

    url = store_url(store)
    path = sqlite_path(url)
    if path is None:
        raise Abort(ExitCode.CONFIG, "crm2 store rekey is for SQLite stores; a PostgreSQL store is protected by "
                                     "the database's storage encryption and TLS (docs/security.md)")
    if new_key_env:
        new_key = os.environ.get(new_key_env, "")
        if not new_key:
            raise Abort(ExitCode.CONFIG, f"environment variable {new_key_env} is not set")
    else:
        new_key = keys.new_key()
    register_secret(new_key)
    home = None if new_key_env and key_file is None else keys.key_home(path, key_file)  # refuse before changing
    with run_lock(url):
        with Store.open(url) as st:  # migrates, checks the role, proves the current key
            was_encrypted = st.encrypted
            old_key, source = keys.find(path)
            with st.begin() as conn:
                from sync.store import AuditEntry

                st.audit(conn, [AuditEntry("rekey", "crm2", "store", path.name, None, None,
                                           {"encrypted_before": was_encrypted})], None)
        if home is not None:
            # the new key is on disk before the store needs it: a crash in between loses nothing
            pending = keys.keep(path, new_key, home.with_name(home.name + ".new"))
            keys.rekey(path, old_key if was_encrypted else None, new_key)
            pending.replace(home)
            kept = str(home)
        else:
            keys.rekey(path, old_key if was_encrypted else None, new_key)
            kept = f"${new_key_env} (crm2 did not store it)"
    click.echo(f"{path}: {'re-encrypted' if was_encrypted else 'encrypted'} with a new key, kept in {kept}")
    if source and source.startswith("$") and source != f"${new_key_env}":
        click.echo(f"crm2: {source} still holds the old key: update it", err=True)
    if key_file is not None or new_key_env:
        click.echo(f"set {keys.KEY_FILE_ENV}={key_file} (or store.key_file) so crm2 finds it" if key_file
                   else f"set store.key_env: {new_key_env} (or {keys.KEY_ENV}) so crm2 finds it", err=True)


@store.command("grant", epilog=EXIT_CODES_HELP)
@click.argument("user")
@click.argument("role", type=click.Choice([r.value for r in Role] + [r.name.lower() for r in Role]))
@STORE_OPTION
@handled
def grant(user: str, role: str, store: str | None) -> None:
    """Give database user USER the crm2 role ROLE (PostgreSQL); also re-applies every role's GRANTs.

    Roles: crm2_viewer (read), crm2_steward (+ review, unmerge), crm2_operator (+ sync, migrate,
    writeback), crm2_admin (+ erase, rekey, grant). Needs role crm2_admin.
    """
    from sync.store import AuditEntry, Store, roles

    chosen = Role(role) if role.startswith("crm2_") else Role[role.upper()]
    with Store.open(store) as st:
        if st.engine.dialect.name != "postgresql":
            raise Abort(ExitCode.CONFIG, "roles are PostgreSQL's: a SQLite store belongs to the OS account "
                                         "that owns its file (docs/security.md)")
        with st.begin() as conn:
            roles.apply(conn)
            roles.grant(conn, user, chosen)
            st.audit(conn, [AuditEntry("grant", "crm2", "role", user, None, None, {"role": chosen.value})], None)
    click.echo(f"{user} now has role {chosen.value}")


@store.command("role", epilog=EXIT_CODES_HELP)
@STORE_OPTION
@click.option("--all", "show_all", is_flag=True, help="Also list every command and the role it needs.")
@handled
def role_command(store: str | None, show_all: bool) -> None:
    """Show the crm2 role you have in this store, whether it is encrypted, and (--all) the role
    each command needs."""
    from sync.access import ACTIONS, may
    from sync.store import Store

    with Store.open(store) as st:
        have = st.role()
        where = "PostgreSQL" if st.engine.dialect.name == "postgresql" else (
            "SQLite, encrypted (SQLCipher)" if st.encrypted else "SQLite, NOT encrypted")
    click.echo(f"role: {have.value if have else 'none'}; store: {where}")
    if show_all:
        table = Table(title="the role each command needs (roles include the ones above them)")
        for column in ("command", "needs", "you may"):
            table.add_column(column)
        for action, need in ACTIONS.items():
            table.add_row("crm2 " + action.replace(".", " "), need.value,
                          "yes" if have is not None and may(have, need) else "no")
        console().print(table)


@click.group()
def audit() -> None:
    """The audit trail: who did what, tamper-evident."""


def _anchor(text: str | None) -> tuple[int, str] | None:
    if not text:
        return None
    try:
        ident, digest = text.split(":", 1)
        return int(ident), digest.strip()
    except ValueError:
        raise click.BadParameter("give ID:HASH as printed by an earlier `crm2 audit verify`",
                                 param_hint="--anchor") from None


@audit.command("verify", epilog="""
\b
Exit codes:
  0  the chain is intact
  1  an entry was changed, removed or inserted (the first one is named)
  2  bad usage or no access: nothing was checked
""")
@STORE_OPTION
@click.option("--anchor", metavar="ID:HASH", default=None,
              help="A head printed earlier: also proves no entry up to it was cut off or rewritten.")
@handled
def verify(store: str | None, anchor: str | None) -> None:
    """Walk the audit log's hash chain and name the first entry that was changed, removed or inserted."""
    from sync.store import Store
    from sync.store import audit as chain

    expected = _anchor(anchor)
    with Store.open(store) as st, st.engine.connect() as conn:
        verdict = chain.verify(conn, expected)
    if verdict.problem is not None:
        raise Abort(ExitCode.FAILED, f"audit log broken after {verdict.checked} good entries: "
                                     f"{verdict.problem.message}")
    head = f"{verdict.head_id}:{verdict.head_hash}" if verdict.head_id else "(empty)"
    click.echo(f"audit log intact: {verdict.checked} entries; head {head}")
    click.echo("keep the head elsewhere and pass it as --anchor next time to catch entries cut off the end",
               err=True)


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("give an ISO date or time, e.g. 2026-12-01 or 2026-12-01T08:00",
                                 param_hint="--since") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@audit.command("list", epilog=EXIT_CODES_HELP)
@STORE_OPTION
@click.option("--actor", default=None, help="Only entries by this actor.")
@click.option("--since", default=None, metavar="WHEN", help="Only entries at or after this ISO date/time (UTC).")
@click.option("--record", default=None, metavar="REF", help="Only entries about this record (id or system/object/id).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@handled
def list_entries(store: str | None, actor: str | None, since: str | None, record: str | None, limit: int,
                 as_json: bool) -> None:
    """Who did what, newest first. Values are not shown (they may be personal data)."""
    from sync.store import Store
    from sync.store import audit as chain

    when = _since(since)
    with Store.open(store) as st, st.engine.connect() as conn:
        if when is not None and st.engine.dialect.name == "sqlite":
            when = when.replace(tzinfo=None)  # SQLite keeps UTC wall times
        rows = chain.entries(conn, actor=actor, since=when, record=record, limit=limit)
    if as_json:
        for r in rows:
            click.echo(json.dumps({"id": r.id, "at": str(r.at), "actor": r.actor, "command": r.command,
                                   "action": r.action, "system": r.system, "object": r.object,
                                   "record_id": r.record_id, "field": r.field, "run_id": r.run_id}))
        return
    table = Table(title=f"audit log ({len(rows)} entries, newest first)")
    for column in ("id", "at", "actor", "command", "action", "record", "field"):
        table.add_column(column)
    for r in rows:
        table.add_row(str(r.id), str(r.at)[:19], r.actor or "", r.command or "", r.action,
                      f"{r.system}/{r.object}/{r.record_id}", r.field or "")
    console().print(table)


COMMANDS = (store, audit)


