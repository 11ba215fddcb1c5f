"""What every `crm2` command shares: exit-code help, the --store option, and one-line errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console

from sync import access, private
from sync.exitcodes import ExitCode
from sync.lock import LockHeld
from sync.redaction import redact
from sync.yamlconf import ConfigError

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


class Abort(Exception):
    """A clean, expected stop with an exit code and a one-line message."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def console() -> Console:
    # piped output (cron mail, CI logs) is not bound by a terminal width; don't squash tables
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def handled(fn: F) -> F:
    """Turn known failures into one clear line and the documented exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        private.restrict_umask()  # whatever this command and the programs it starts write is private
        ctx = click.get_current_context()
        debug = bool(ctx.find_root().params.get("debug"))
        # who runs which command: the store checks its role, the audit log records both, and
        # programs the command starts inherit it (CRM2_COMMAND)
        command = " ".join(["crm2", *ctx.command_path.split()[1:]])
        before = os.environ.get("CRM2_COMMAND")
        os.environ["CRM2_COMMAND"] = command
        try:
            with access.acting_as(ctx.find_root().params.get("actor"), command):
                return fn(*args, **kwargs)
        except access.Refused as exc:
            click.echo(f"crm2: {redact(str(exc))}", err=True)
            sys.exit(ExitCode.CONFIG)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(redact(str(problem)), err=True)
            if debug:
                raise
            sys.exit(ExitCode.CONFIG)
        except Abort as exc:
            click.echo(f"crm2: {redact(str(exc))}", err=True)
            sys.exit(exc.code)
        except LockHeld as exc:
            click.echo(f"crm2: {exc}; not starting a second run", err=True)
            sys.exit(ExitCode.FAILED)
        except (click.ClickException, click.exceptions.Exit, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if debug:
                raise
            click.echo(f"crm2: error: {redact(str(exc)) or type(exc).__name__} "
                       "(run with --debug for the traceback)", err=True)
            sys.exit(ExitCode.FAILED)
        finally:
            if before is None:
                os.environ.pop("CRM2_COMMAND", None)
            else:
                os.environ["CRM2_COMMAND"] = before

    return wrapper  # type: ignore[return-value]
