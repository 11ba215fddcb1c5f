"""`crm2 serve` (the web console) and `crm2 users` (who may sign in to it)."""

from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path

import click

from sync.cli.common import EXIT_CODES_HELP, STORE_OPTION, Abort, handled
from sync.exitcodes import ExitCode

PASSWORD_ENV = "CRM2_CONSOLE_PASSWORD"


@click.command(epilog=EXIT_CODES_HELP)
@STORE_OPTION
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default; put a TLS proxy in front for other hosts).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one (the URL is printed).")
@click.option("--session-minutes", default=30, show_default=True, type=click.IntRange(1, 24 * 60),
              help="A session ends after this long without use.")
@click.option("--secret-env", default="CRM2_CONSOLE_SECRET", show_default=True,
              help="Environment variable holding the key that signs sessions; unset: a random key, "
                   "so sessions end when the console restarts.")
@click.option("--https-only", is_flag=True, help="Send the session cookie over HTTPS only (behind a TLS proxy).")
@click.option("--logs", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The runs' log folder, where a writeback dry run leaves its diff [default: logs/ beside a "
                   "SQLite store].")
@click.option("--oidc-issuer", default=None, metavar="URL",
              help="Also offer sign-in through this OpenID Connect provider (its issuer URL).")
@click.option("--oidc-client-id", default=None, help="The console's client id at the provider.")
@click.option("--oidc-client-secret-env", default="CRM2_OIDC_CLIENT_SECRET", show_default=True,
              help="Environment variable holding the client secret.")
@click.option("--oidc-name-claim", default="preferred_username", show_default=True,
              help="The ID-token claim that is the console user's name.")
@click.option("--oidc-ca-bundle", type=click.Path(exists=True, dir_okay=False), default=None,
              help="CA bundle to verify the provider's TLS certificate with (default: the system's).")
@handled
def serve(store: str | None, host: str, port: int, session_minutes: int, secret_env: str, https_only: bool,
          logs: Path | None, oidc_issuer: str | None, oidc_client_id: str | None, oidc_client_secret_env: str,
          oidc_name_claim: str, oidc_ca_bundle: str | None) -> None:
    """Start the crm2 console: key accounts, customer 360, review queue, data quality, runs, migration.

    Sign-in is required; add people with `crm2 users add NAME --role viewer|steward|operator|admin`.
    """
    import uvicorn

    from sync.console.app import create_app
    from sync.store import Store

    secret = os.environ.get(secret_env) or ""
    if secret and len(secret) < 32:
        raise Abort(ExitCode.CONFIG, f"{secret_env} must hold at least 32 characters")
    secret = secret or secrets.token_urlsafe(48)
    oidc = None
    if oidc_issuer:
        from sync.console.oidc import OidcSettings

        client_secret = os.environ.get(oidc_client_secret_env)
        if not oidc_client_id or not client_secret:
            raise Abort(ExitCode.CONFIG, f"--oidc-issuer needs --oidc-client-id and ${oidc_client_secret_env}")
        oidc = OidcSettings(oidc_issuer, oidc_client_id, client_secret, name_claim=oidc_name_claim,
                            verify=oidc_ca_bundle or True)
    st = Store.open(store)
    database = st.engine.url.database if st.engine.dialect.name == "sqlite" else None
    if logs is None and database:
        logs = Path(database).parent / "logs"  # where `crm2 demo` and a sync beside its store keep them
    app = create_app(st, secret=secret, session_seconds=session_minutes * 60, https_only=https_only, logs=logs,
                     oidc=oidc)
    # bind first, so port 0 gives a real port to print before serving
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise Abort(ExitCode.CONFIG, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    click.echo(f"crm2 console on http://{shown}:{bound}/ (Ctrl-C to stop)", err=False)
    sys.stdout.flush()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, proxy_headers=False,
                                           server_header=False))
    try:
        server.run(sockets=[sock])
    finally:
        st.close()


@click.group()
def users() -> None:
    """People who may sign in to the console (`crm2 serve`), each with one role.

    \b
    crm2 users add NAME --role steward   password from $CRM2_CONSOLE_PASSWORD or stdin
    crm2 users list
    crm2 users remove NAME
    """


def _password() -> str:
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if sys.stdin.isatty():
        return click.prompt("password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@users.command("add", epilog=EXIT_CODES_HELP)
@click.argument("name")
@click.option("--role", required=True, help="viewer, steward, operator or admin.")
@click.option("--no-password", is_flag=True,
              help="Sign-in only through the OpenID Connect provider (NAME is the provider's user name claim).")
@STORE_OPTION
@handled
def users_add(name: str, role: str, no_password: bool, store: str | None) -> None:
    """Add NAME (or change its password and role). The password is read from the environment
    variable CRM2_CONSOLE_PASSWORD, else from stdin; never from the command line, where other
    users of the machine could read it."""
    from sync.console.users import UserError, add_user, parse_role
    from sync.store import Store

    try:
        parsed = parse_role(role)
        password = None if no_password else _password()
        with Store.open(store) as st:
            created = add_user(st, name, password, parsed)
    except UserError as exc:
        raise Abort(ExitCode.CONFIG, str(exc)) from None
    click.echo(f"{'added' if created else 'updated'} {name} ({parsed.value})")


@users.command("list", epilog=EXIT_CODES_HELP)
@STORE_OPTION
@handled
def users_list(store: str | None) -> None:
    """Names and roles (never passwords or hashes)."""
    from sync.console.users import list_users
    from sync.store import Store

    with Store.open(store) as st:
        for name, role in list_users(st):
            click.echo(f"{name}\t{role.value}")


@users.command("remove", epilog=EXIT_CODES_HELP)
@click.argument("name")
@STORE_OPTION
@handled
def users_remove(name: str, store: str | None) -> None:
    """Remove NAME; their open sessions end at their next request."""
    from sync.console.users import remove_user
    from sync.store import Store

    with Store.open(store) as st:
        if not remove_user(st, name):
            raise Abort(ExitCode.CONFIG, f"no console user {name}")
    click.echo(f"removed {name}")


COMMANDS = (serve, users)
