"""What every `crm2` command shares: exit-code help, the --store option, and one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console

from sync.errors import ConfigError, Crm2Error
from sync.exitcodes import ExitCode
from sync.redaction import redact

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = """
\b
Exit codes:
  0  ok: everything ran and every record was loaded
  1  the run failed (state is saved where safe; rerun resumes)
  2  bad configuration or usage: nothing ran
  3  finished, but some records were quarantined or rejected
"""

STORE_OPTION = click.option(
    "--store", "store", envvar="CRM2_STORE", default=None, metavar="PATH|URL",
    help="Store to use: a SQLite file or a SQLAlchemy URL [env CRM2_STORE; default .crm2/crm2.sqlite].")


class Abort(Crm2Error):
    """A clean, expected stop of a command with an exit code and a one-line message."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        return self.code


def console() -> Console:
    # piped output (cron mail, CI logs) is not bound by a terminal width; don't squash tables
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def handled(fn: F) -> F:
    """Turn known failures into one clear line and the documented exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(click.get_current_context().find_root().params.get("debug"))
        try:
            return fn(*args, **kwargs)
        except Crm2Error as exc:
            # a config problem is a line of its own (file:line:column first, for editors)
            prefix = "" if isinstance(exc, ConfigError) else "crm2: "
            for line in exc.lines():
                click.echo(prefix + redact(line), err=True)
            if debug:
                raise
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if debug:
                raise
            click.echo(f"crm2: error: {redact(str(exc)) or type(exc).__name__} "
                       "(run with --debug for the traceback)", err=True)
            sys.exit(ExitCode.FAILED)

    return wrapper  # type: ignore[return-value]
