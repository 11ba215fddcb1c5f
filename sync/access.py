"""Who is acting, and which role an action needs: one owner for both.

The four roles are cumulative (an operator may do what a steward may, and so on). The command
line, the console and the store all ask this module, so a role is checked by the same rule
wherever an action starts. The actor of the current command is a context variable: the CLI sets
it once from `--actor`, `CRM2_ACTOR` or the OS user; the console sets it per request from the
signed-in user; the store reads it when it writes an audit entry.
"""

from __future__ import annotations

import contextlib
import contextvars
import getpass
import os
from collections.abc import Iterator
from enum import StrEnum

from sync.errors import Crm2Error
from sync.exitcodes import ExitCode


class Role(StrEnum):
    VIEWER = "crm2_viewer"
    STEWARD = "crm2_steward"
    OPERATOR = "crm2_operator"
    ADMIN = "crm2_admin"


_RANK = {Role.VIEWER: 0, Role.STEWARD: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


def may(have: Role, need: Role) -> bool:
    """True when a holder of `have` may do what needs `need` (roles are cumulative)."""
    return _RANK[have] >= _RANK[need]


ACTIONS: dict[str, Role] = {
    # reading
    "runs": Role.VIEWER,
    "checks": Role.VIEWER,
    "report": Role.VIEWER,
    "explain": Role.VIEWER,
    "golden.read": Role.VIEWER,
    "review.list": Role.VIEWER,
    "audit.list": Role.VIEWER,
    "audit.verify": Role.VIEWER,
    "store.role": Role.VIEWER,
    "validate": Role.VIEWER,
    "serve": Role.VIEWER,  # the console checks each action of a request on its own
    # deciding matches
    "review.confirm": Role.STEWARD,
    "review.reject": Role.STEWARD,
    "unmerge": Role.STEWARD,
    # running the job
    "sync": Role.OPERATOR,
    "demo": Role.OPERATOR,
    "migrate.plan": Role.OPERATOR,
    "writeback": Role.OPERATOR,
    "migrate.run": Role.OPERATOR,
    "migrate.verify": Role.OPERATOR,
    "migrate.cutover": Role.OPERATOR,
    "migrate.archive": Role.OPERATOR,
    # irreversible or about access itself
    "migrate.erase": Role.ADMIN,
    "store.rekey": Role.ADMIN,
    "store.grant": Role.ADMIN,
}
"""The role each action needs; an action not listed here needs the admin role."""


def needed(action: str) -> Role:
    return ACTIONS.get(action, Role.ADMIN)


class Refused(Crm2Error):
    """A command may not go ahead: a missing role or key (exit 2, nothing ran)."""

    exit_code = ExitCode.CONFIG


def check(have: Role, action: str, label: str | None = None) -> None:
    """Refuse ``action`` to a holder of ``have`` with a message that names both roles;
    ``label`` is how the user started it (``crm2 unmerge``)."""
    need = needed(action)
    if not may(have, need):
        label = label or f"crm2 {action.replace('.', ' ')}"
        raise Refused(f"{label} needs role {need} (you are {have})")


def action_of(command: str) -> str:
    """The action of a command: ``crm2 migrate erase`` -> ``migrate.erase``; an action name
    (``review.confirm``) is returned as it is."""
    words = command.split()
    if words and words[0] == "crm2":
        words = words[1:]
    return ".".join(words)


_actor: contextvars.ContextVar[str | None] = contextvars.ContextVar("crm2_actor", default=None)
_command: contextvars.ContextVar[str | None] = contextvars.ContextVar("crm2_command", default=None)


def current_actor() -> str:
    """The actor named for this command or request, else CRM2_ACTOR, else the OS user."""
    return _actor.get() or os.environ.get("CRM2_ACTOR") or _os_user()


def named_actor() -> str | None:
    """The actor named explicitly (``--actor``, the console's user, ``CRM2_ACTOR``), else None."""
    return _actor.get() or os.environ.get("CRM2_ACTOR") or None


def current_command() -> str | None:
    """The command being run: set per command or request; a program crm2 started inherits it
    through ``CRM2_COMMAND`` so its audit entries name it too."""
    return _command.get() or os.environ.get("CRM2_COMMAND") or None


def checked_command() -> str | None:
    """The command whose role the store should check when it opens (this process's own only)."""
    return _command.get()


@contextlib.contextmanager
def acting_as(actor: str | None, command: str | None = None) -> Iterator[None]:
    """Run the body as `actor` doing `command`; audit entries written inside carry both."""
    token_a = _actor.set(actor) if actor else None
    token_c = _command.set(command) if command else None
    try:
        yield
    finally:
        if token_c is not None:
            _command.reset(token_c)
        if token_a is not None:
            _actor.reset(token_a)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"
