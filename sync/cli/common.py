"""What every `crm2` command shares: exit-code help, the --store option, and one-line errors."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from sync import access, private
from sync.errors import ConfigError, Crm2Error
from sync.exitcodes import ExitCode
from sync.redaction import redact

if TYPE_CHECKING:
    from sync.store import Store

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = """
\b
Exit codes:
  0  ok: everything ran and every record was loaded
  1  the run failed (state is saved where safe; rerun resumes)
  2  bad configuration or usage: nothing ran
  3  finished, but some records were quarantined or rejected
"""

_STORE = click.option(
    "--store", "store", envvar="CRM2_STORE", default=None, metavar="PATH|URL",
    help="Store to use: a SQLite file or a SQLAlchemy URL [env CRM2_STORE; default .crm2/crm2.sqlite].")


def _remember_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    ctx.meta["crm2.store_config"] = value


_STORE_CONFIG = click.option(
    "--config", "store_config", type=click.Path(path_type=Path), default=None, expose_value=False,
    callback=_remember_config, metavar="FILE",
    help="Use the store named by this pipeline config (instead of --store; CRM2_ENV picks its environment).")


def STORE_OPTION(fn: F) -> F:
    """``--store PATH|URL`` and ``--config FILE`` for commands that read a store; open it with
    :func:`open_store`, which refuses to invent an empty store where none exists."""
    return _STORE(_STORE_CONFIG(fn))


def store_target(store: str | None) -> str:
    """The store a reading command means: ``--store``/CRM2_STORE, else ``--config``'s store, else
    the default file. A SQLite file that does not exist is an error (exit 2), not a new empty
    store: a command run in the wrong folder must say so instead of showing nothing."""
    from sync.store import DEFAULT_PATH

    config_path = click.get_current_context().meta.get("crm2.store_config")
    if store is None and config_path is not None:
        from sync.orchestrate import config

        loaded = config.load(config_path, env=os.environ.get("CRM2_ENV") or None)
        store = loaded.pipeline.store.resolved_url(loaded.base)
        if store.startswith("sqlite:///"):
            store = store.removeprefix("sqlite:///")
    target = store or str(DEFAULT_PATH)
    if "://" not in target and not Path(target).expanduser().is_file():
        raise Abort(ExitCode.CONFIG, f"no crm2 store at {target} (run crm2 sync first, or name the store with "
                                     "--store PATH|URL, CRM2_STORE or --config FILE)")
    return target


def open_store(store: str | None) -> Store:
    """Open the store a reading command means (see :func:`store_target`)."""
    from sync.store import Store

    return Store.open(store_target(store))


_log = logging.getLogger("crm2")


def stage_echo(stage: Any) -> None:
    """A stage's end: a marked line for a person on a terminal, one JSON log record otherwise, so
    a log collector reading a non-terminal stderr sees only JSON."""
    from sync import logs

    first = stage.detail.splitlines()[0] if stage.detail else ""
    seconds = getattr(stage, "seconds", None)
    if logs.json_mode():
        _log.info("%s: %s%s", stage.name, stage.status, f" ({first})" if first else "",
                  extra={"stage": stage.name, "status": stage.status, "counts": dict(stage.counts),
                         "seconds": seconds})
        return
    mark = {"ok": "✓", "partial": "!", "failed": "✗", "skipped": "-", "unavailable": "…"}.get(stage.status, "?")
    took = f" {seconds:7.1f} s" if seconds is not None else " " * 10
    click.echo(f"  {mark} {stage.name:<22}{took}  {stage.status}{'  — ' + first if first else ''}", err=True)


def say(message: str, **extra: Any) -> None:
    """A line for the person at the terminal; a JSON log record when stderr is not one."""
    from sync import logs

    if logs.json_mode():
        _log.info("%s", message, extra=extra)
    else:
        click.echo(message, err=True)


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


@contextlib.contextmanager
def quiet_broken_pipe() -> Iterator[None]:
    """`crm2 explain … | head`: the reader left, which is not an error. Stop quietly (exit 0) and
    point stdout at /dev/null so the interpreter's final flush does not complain either."""
    try:
        yield
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)


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
        except Crm2Error as exc:
            # a config problem is a line of its own (file:line:column first, for editors)
            prefix = "" if isinstance(exc, ConfigError) else "crm2: "
            for line in exc.lines():
                click.echo(prefix + redact(line), err=True)
            if debug:
                raise
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, SystemExit, KeyboardInterrupt, BrokenPipeError):
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
