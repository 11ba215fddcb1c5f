"""`crm2 sandbox salesforce|sales|finance`: run one local stand-in in the foreground.

One subcommand per stand-in, so `crm2 sandbox sales --help` explains that stand-in (where its
credentials are saved, which tap reads it) instead of the group's generic text. Served stand-ins
take ``--port``: with a fixed port (and the credentials they keep in their work folder) a tap or
Meltano config written once keeps working across restarts.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path
from typing import Any

import click

from sync.cli.common import EXIT_CODES_HELP, Abort, handled
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


# the Meltano plugins that read each stand-in (meltano.yml); Meltano takes a setting from the
# environment as <PLUGIN_NAME>_<SETTING>, which is how the `dev` environment needs no edits
MELTANO_PLUGINS = {"salesforce": ("tap-crm2-salesforce", "target-crm2-salesforce"), "sales": ("tap-crm2-sales",),
                   "finance": ("tap-crm2-finance",)}
_CONNECTION_ONLY = {"target-crm2-salesforce": ("instance_url", "ca_bundle", "auth_flow", "client_id",
                                               "client_secret_env")}


def write_meltano_env(workdir: Path, name: str, tap_config: dict[str, Any]) -> Path:
    """WORKDIR/meltano-NAME.env: the stand-in's tap config as Meltano setting variables (no secret
    values: those stay in NAME.env, named by the *_env settings). Mode 0600 like the secrets."""
    lines = []
    for plugin in MELTANO_PLUGINS.get(name, ()):
        prefix = plugin.upper().replace("-", "_")
        keys = _CONNECTION_ONLY.get(plugin, tuple(tap_config))
        for key in keys:
            if key in tap_config:
                value = tap_config[key]
                text = value if isinstance(value, str) else json.dumps(value)
                lines.append(f"{prefix}_{key.upper()}={shlex.quote(text)}")
    path = Path(workdir) / f"meltano-{name}.env"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    return path


def _serve(name: str, workdir: Path, customers: int, seed: int, port: int | None) -> None:
    from sync.orchestrate import standins

    try:
        handle = standins.start(name, workdir, customers=customers, seed=seed, port=port)
    except LookupError as exc:
        raise Abort(ExitCode.FAILED, str(exc)) from None
    click.echo(handle.describe())
    click.echo("tap config: " + json.dumps(handle.tap_config))
    meltano_env = write_meltano_env(workdir, name, handle.tap_config)
    env_file = getattr(handle, "env_file", None)
    files = " ".join(str(f) for f in (env_file, meltano_env) if f)
    click.echo(f"for the tap by hand or `meltano --environment dev run …`: set -a; for f in {files}; do . $f; "
               "done; set +a")
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
