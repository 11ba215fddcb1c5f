"""`crm2 state show|set|clear SOURCE`: look at or change a source's bookmark (its Singer state).

What `meltano state` does for Meltano users: see where the next run resumes, wind a source back
(set) or make its next run read everything again (clear). Changes wait for no run: they take the
run lock, so they never race a `crm2 sync` that is saving bookmarks.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from sync.cli.common import EXIT_CODES_HELP, STORE_OPTION, Abort, handled, open_store, store_target
from sync.exitcodes import ExitCode

log = logging.getLogger(__name__)


@click.group()
def state() -> None:
    """A source's bookmark: where its next `crm2 sync` resumes.

    \b
    crm2 state show [SOURCE]              every bookmark, or one as JSON
    crm2 state set SOURCE '{"bookmarks": …}'   (or --file state.json) resume from there
    crm2 state clear SOURCE               the next run reads the source from the start
    SOURCE is an extractor name (e.g. finance); the writeback's is writeback:TARGET.
    """


def _rows(store: Any, name: str | None = None) -> list[Any]:
    from sync.store.schema import bookmarks

    query = sa.select(bookmarks).order_by(bookmarks.c.name)
    if name is not None:
        query = query.where(bookmarks.c.name == name)
    with store.engine.connect() as conn:
        return list(conn.execute(query))


@state.command("show", epilog=EXIT_CODES_HELP)
@click.argument("source", required=False)
@STORE_OPTION
@handled
def show(source: str | None, store: str | None) -> None:
    """Print one source's state as JSON, or list every bookmark with its run and time."""
    with open_store(store) as st:
        rows = _rows(st, source)
    if source is not None:
        if not rows:
            raise Abort(ExitCode.CONFIG, f"no bookmark named '{source}' (crm2 state show lists them)")
        click.echo(json.dumps(rows[0].state, indent=2, sort_keys=True, default=str))
        return
    if not rows:
        click.echo("no bookmarks yet: every source starts from the beginning")
    for row in rows:
        click.echo(f"{row.name:<32} updated {row.updated_at:%Y-%m-%d %H:%M:%S} run {(row.run_id or '-')[:8]}")


@state.command("set", epilog=EXIT_CODES_HELP)
@click.argument("source")
@click.argument("value", required=False)
@click.option("--file", "state_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the state (JSON) from this file instead.")
@STORE_OPTION
@handled
def set_state(source: str, value: str | None, state_file: Path | None, store: str | None) -> None:
    """Replace SOURCE's state with VALUE (a JSON object, Singer state as the tap wrote it)."""
    if (value is None) == (state_file is None):
        raise click.UsageError("give the state as an argument or with --file, not both")
    text = state_file.read_text(encoding="utf-8") if state_file else str(value)
    try:
        new = json.loads(text)
    except ValueError as exc:
        raise Abort(ExitCode.CONFIG, f"the state is not JSON: {exc}") from None
    if not isinstance(new, dict):
        raise Abort(ExitCode.CONFIG, "the state must be a JSON object, e.g. {\"bookmarks\": {…}}")
    _change(store, source, new)
    click.echo(f"{source}: state replaced; the next crm2 sync resumes from it")


@state.command("clear", epilog=EXIT_CODES_HELP)
@click.argument("source")
@STORE_OPTION
@handled
def clear(source: str, store: str | None) -> None:
    """Forget SOURCE's state: its next run reads everything again (unchanged records cost nothing)."""
    if not _change(store, source, None):
        raise Abort(ExitCode.CONFIG, f"no bookmark named '{source}' (crm2 state show lists them)")
    click.echo(f"{source}: state cleared; the next crm2 sync reads it from the start")


def _change(store: str | None, source: str, new: dict[str, Any] | None) -> bool:
    """Set (or with None delete) a bookmark under the run lock; whether one existed."""
    from sync.orchestrate.lock import run_lock
    from sync.store import store_url
    from sync.store.schema import bookmarks

    target = store_target(store)
    with open_store(target) as st, run_lock(store_url(target)), st.begin() as conn:
        existed = conn.execute(sa.select(sa.func.count()).select_from(bookmarks)
                               .where(bookmarks.c.name == source)).scalar_one() > 0
        if new is None:
            conn.execute(bookmarks.delete().where(bookmarks.c.name == source))
        else:
            st.set_bookmark(conn, source, new)
    log.info("bookmark %s %s by crm2 state", source, "cleared" if new is None else "set")
    return existed
