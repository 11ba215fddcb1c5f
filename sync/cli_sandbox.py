"""`crm2 sandbox salesforce|sales|finance`: run one local stand-in in the foreground.

One subcommand per stand-in, so `crm2 sandbox sales --help` explains that stand-in (where its
credentials are saved, which tap reads it) instead of the group's generic text. Served stand-ins
take ``--port``: with a fixed port (and the credentials they keep in their work folder) a tap or
Meltano config written once keeps working across restarts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from sync.cli_common import EXIT_CODES_HELP, Abort, handled
from sync.exitcodes import ExitCode

_WORKDIR = click.option("--workdir", type=click.Path(path_type=Path), default=Path(".crm2/sandbox"),
                        show_default=True, help="Where the stand-in keeps its data and credentials.")
_CUSTOMERS = click.option("--customers", default=2000, show_default=True, type=click.IntRange(1, 1_000_000),
                          help="How many synthetic customers to seed.")
_SEED = click.option("--seed", default=42, show_default=True, help="Seed for the synthetic data.")
_PORT = click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
                     help="Loopback port to serve on (0: any free port).")


@click.group()
def sandbox() -> None:
    """Run a local stand-in (fake Salesforce, sales API or finance ledger) until Ctrl-C.

    \b
    crm2 sandbox salesforce [--port N]   Salesforce REST/Bulk 2.0 over TLS
    crm2 sandbox sales [--port N]        the sales REST API
    crm2 sandbox finance                 a SQLite finance ledger
    Each prints the config its tap needs; secrets are saved in WORKDIR/<name>.env, never printed.
    """


def _serve(name: str, workdir: Path, customers: int, seed: int, port: int | None) -> None:
    from sync import standins

    try:
        handle = standins.start(name, workdir, customers=customers, seed=seed, port=port)
    except LookupError as exc:
        raise Abort(ExitCode.FAILED, str(exc)) from None
    click.echo(handle.describe())
    click.echo("tap config: " + json.dumps(handle.tap_config))
    env_file = getattr(handle, "env_file", None)
    if env_file:
        click.echo(f"before running the tap by hand or with Meltano: set -a; . {env_file}; set +a")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()


@sandbox.command(epilog=EXIT_CODES_HELP)
@_WORKDIR
@_CUSTOMERS
@_SEED
@_PORT
@handled
def salesforce(workdir: Path, customers: int, seed: int, port: int) -> None:
    """A fake Salesforce org over HTTPS (REST, queryAll, Collections, Bulk 2.0) for tap-crm2-salesforce
    and the writeback.

    The org lives in WORKDIR/salesforce.sqlite and survives restarts; the client secret is in
    WORKDIR/salesforce.env (mode 0600) as CRM2_SF_CLIENT_SECRET; the TLS CA bundle path is in the
    printed tap config. Faults (rate limits, lock errors, timeouts) are read from
    WORKDIR/salesforce-faults.json whenever it changes (docs/salesforce-standin.md).
    """
    _serve("salesforce", workdir, customers, seed, port)


@sandbox.command(epilog=EXIT_CODES_HELP)
@_WORKDIR
@_CUSTOMERS
@_SEED
@_PORT
@handled
def sales(workdir: Path, customers: int, seed: int, port: int) -> None:
    """The sales system's REST API (accounts, orders, order lines, opportunities) for tap-crm2-sales.

    The bearer token is saved in WORKDIR/sales.env (mode 0600) as CRM2_SALES_TOKEN and reused on the
    next start, so with --port the printed tap config stays valid across restarts.
    """
    _serve("sales", workdir, customers, seed, port)


@sandbox.command(epilog=EXIT_CODES_HELP)
@_WORKDIR
@_CUSTOMERS
@_SEED
@handled
def finance(workdir: Path, customers: int, seed: int) -> None:
    """A finance ledger (customers, invoices, payments, credit notes) as WORKDIR/finance.sqlite for
    tap-crm2-finance. It is a file, not a server: nothing listens, so there is no --port."""
    _serve("finance", workdir, customers, seed, None)
