"""PostgreSQL roles for crm2: what each may touch, enforced by the database itself.

The four roles of :mod:`sync.access` exist in the database too, nested like the access rule
(``crm2_admin`` ⊃ ``crm2_operator`` ⊃ ``crm2_steward`` ⊃ ``crm2_viewer``), and hold exactly
these table privileges, so a user who bypasses crm2's own check still gets "permission denied":

* viewer: SELECT on every table (runs, checks, report, explain, review list, audit);
* steward: + record review decisions and unmerges (match_constraints, match_pairs) and append
  to the audit log;
* operator: + INSERT/UPDATE/DELETE on every table but the audit log (sync, migrate, writeback);
* admin: + UPDATE of the audit log's ``old``/``new`` values (erasure) and the right to grant the
  other roles. No role may DELETE audit entries or UPDATE any hashed column.

The roles are NOLOGIN groups; people and services log in as their own users, given a role
with ``crm2 store grant USER ROLE``.
"""

from __future__ import annotations

import itertools
import logging
import re

import sqlalchemy as sa
from sqlalchemy import Connection

from sync.access import Refused, Role

log = logging.getLogger(__name__)

AUDIT = "audit_log"
STEWARD_WRITES = {"match_constraints": "INSERT, DELETE", "match_pairs": "UPDATE"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.@-]{0,62}$")


def _quote(name: str) -> str:
    if not _IDENT.match(name):
        raise Refused(f"not a database user name: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def _tables(conn: Connection) -> list[str]:
    return sorted(sa.inspect(conn).get_table_names())


def statements(tables: list[str]) -> list[str]:
    """The GRANTs (after a clean REVOKE) that give each role exactly its privileges."""
    roles = ", ".join(r.value for r in Role)
    out = [f"GRANT USAGE ON SCHEMA public TO {roles}"]
    for table in tables:
        out.append(f"REVOKE ALL ON TABLE {table} FROM {roles}")
        out.append(f"GRANT SELECT ON TABLE {table} TO {Role.VIEWER}")
        if table == AUDIT:
            out.append(f"GRANT INSERT ON TABLE {table} TO {Role.STEWARD}")
            out.append(f"GRANT UPDATE (old, new) ON TABLE {table} TO {Role.ADMIN}")
            continue
        if table in STEWARD_WRITES:
            out.append(f"GRANT {STEWARD_WRITES[table]} ON TABLE {table} TO {Role.STEWARD}")
        if table != "alembic_version":  # schema changes are the owner's job, not a role's
            out.append(f"GRANT INSERT, UPDATE, DELETE ON TABLE {table} TO {Role.OPERATOR}")
    out.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {Role.OPERATOR}")
    # tables later migrations add: readable by viewers, writable by operators, until the next
    # `crm2 store grant` re-applies the exact list above
    out.append(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {Role.VIEWER}")
    out.append(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT INSERT, UPDATE, DELETE ON TABLES TO {Role.OPERATOR}")
    out.append(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {Role.OPERATOR}")
    return out


def create_roles(conn: Connection) -> None:
    """Create the four roles (if absent) nested like the access rule; needs CREATEROLE."""
    for role in Role:
        conn.execute(sa.text(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role.value}') "
            f"THEN CREATE ROLE {role.value} NOLOGIN; END IF; END $$"))
    ladder = list(Role)
    for lower, higher in itertools.pairwise(ladder):
        conn.execute(sa.text(f"GRANT {lower} TO {higher}"))
    for lower in ladder[:-1]:  # an admin may hand out every other role
        conn.execute(sa.text(f"GRANT {lower} TO {Role.ADMIN} WITH ADMIN OPTION"))


def apply(conn: Connection) -> bool:
    """Create the roles and (re)apply the grants on every table there is now; False (and a
    warning) when this user may not create roles and they do not exist yet."""
    existing = set(conn.execute(sa.text("SELECT rolname FROM pg_roles WHERE rolname LIKE 'crm2\\_%'")).scalars())
    may_create = conn.execute(sa.text(
        "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")).scalar()
    if not may_create:
        if not {r.value for r in Role} <= existing:
            log.warning("the crm2 roles do not exist and this user may not create them: run `crm2 store grant` "
                        "as a user with CREATEROLE (docs/security.md)")
            return False
    else:
        create_roles(conn)
    for statement in statements(_tables(conn)):
        conn.execute(sa.text(statement))
    return True


def role_of(conn: Connection) -> tuple[str, Role | None]:
    """The connected user and the highest crm2 role it holds (superusers, the database's owner
    and the schema's owner count as admin); None when it holds none."""
    user, superuser = conn.execute(sa.text(
        "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")).one()
    owners = set(conn.execute(sa.text(
        "SELECT tableowner FROM pg_tables WHERE tablename = 'alembic_version' "
        "UNION SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")).scalars())
    if superuser or user in owners:
        return user, Role.ADMIN
    held = set(conn.execute(sa.text(
        "SELECT rolname FROM pg_roles WHERE rolname LIKE 'crm2\\_%' "
        "AND pg_has_role(current_user, oid, 'MEMBER')")).scalars())
    for role in reversed(list(Role)):
        if role.value in held:
            return user, role
    return user, None


def check(conn: Connection, action: str, label: str) -> None:
    """Refuse the action unless the connected user holds its role (exit 2 with both roles named)."""
    from sync.access import check as check_role
    from sync.access import needed

    user, role = role_of(conn)
    if role is None:
        raise Refused(f"{label} needs role {needed(action)} (you are {user}, without a crm2 role)")
    check_role(role, action, label)


def grant(conn: Connection, user: str, role: Role) -> None:
    """Give ``user`` (an existing database user) the crm2 role ``role``."""
    exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :u"), {"u": user}).scalar()
    if not exists:
        raise Refused(f"no database user {user!r}: create it first (CREATE ROLE … LOGIN)")
    conn.execute(sa.text(f"GRANT {role.value} TO {_quote(user)}"))
