"""Console users: names, argon2 password hashes and roles, kept in the store (migration 0005).

Passwords are hashed with argon2id (argon2-cffi, the maintained binding of the winner of the
Password Hashing Competition); a hash carries its own salt and cost, so raising the cost later
only needs :func:`verify` to rehash on the next sign-in.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from sync.access import Role
from sync.store import Store
from sync.store.store import now

# Its own MetaData: the table belongs to the console; migration 0005 creates it in every store.
console_users = sa.Table(
    "console_users", sa.MetaData(),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

_hasher = PasswordHasher()
# verified against when the name is unknown, so a wrong name costs as long as a wrong password
_DUMMY = _hasher.hash("crm2-console-no-such-user")
_NAME = re.compile(r"^[\w.@-]{1,128}$")
MIN_PASSWORD = 12


class UserError(ValueError):
    """A name, role or password that cannot be used; the message says why."""


def parse_role(text: str) -> Role:
    """'steward' or 'crm2_steward' -> Role.STEWARD."""
    wanted = text.strip().lower()
    for role in Role:
        if wanted in (role.value, role.value.removeprefix("crm2_")):
            return role
    names = ", ".join(r.value.removeprefix("crm2_") for r in Role)
    raise UserError(f"unknown role '{text}' (one of {names})")


NO_PASSWORD = "!no-password"
"""Stored instead of a hash for people who sign in only through OpenID Connect: matches nothing."""


def add_user(store: Store, name: str, password: str | None, role: Role) -> bool:
    """Create a user or replace its password and role; True when it was new.

    ``password=None``: the user signs in only through the OpenID Connect provider.
    """
    if not _NAME.match(name):
        raise UserError("a user name is 1-128 letters, digits, '.', '@', '_' or '-'")
    if password is not None and len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    digest, stamp = (_hasher.hash(password) if password is not None else NO_PASSWORD), now()
    u = console_users
    with store.begin() as conn:
        done = conn.execute(u.update().where(u.c.name == name).values(
            password_hash=digest, role=role.value, updated_at=stamp))
        if done.rowcount:
            return False
        conn.execute(u.insert().values(name=name, password_hash=digest, role=role.value,
                                       created_at=stamp, updated_at=stamp))
    return True


def remove_user(store: Store, name: str) -> bool:
    with store.begin() as conn:
        return bool(conn.execute(console_users.delete().where(console_users.c.name == name)).rowcount)


def list_users(store: Store) -> list[tuple[str, Role]]:
    with store.engine.connect() as conn:
        return [(r.name, Role(r.role)) for r in conn.execute(
            sa.select(console_users.c.name, console_users.c.role).order_by(console_users.c.name))]


def role_of(store: Store, name: str) -> Role | None:
    """The user's role now (None once removed): a session follows role changes at its next request."""
    with store.engine.connect() as conn:
        role = conn.execute(sa.select(console_users.c.role).where(console_users.c.name == name)).scalar()
    return Role(role) if role else None


def verify(store: Store, name: str, password: str) -> Role | None:
    """The user's role when the password is right, else None (same cost either way)."""
    u = console_users
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(u.c.password_hash, u.c.role).where(u.c.name == name)).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        with store.begin() as conn:
            conn.execute(u.update().where(u.c.name == name).values(
                password_hash=_hasher.hash(password), updated_at=now()))
    return Role(row.role)
