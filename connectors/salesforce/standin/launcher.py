"""Starting the stand-in for ``crm2 demo`` / ``crm2 sandbox salesforce`` and from the command line.

``start(workdir, customers=, seed=)`` (the ``crm2.standins`` entry point) opens
``workdir/salesforce.sqlite``, seeds it from the synthetic generator only when it is empty (a
demo org survives restarts), and returns a handle with the tap config. The client secret goes
in ``handle.env`` and in ``workdir/salesforce.env`` (mode 0600), never on the terminal.

Faults for a sandbox run come from ``workdir/salesforce-faults.json`` (the :class:`Faults` field
names as keys); the file is re-read whenever it changes, so faults can be switched on and off
while the sandbox runs. ``python -m connectors.salesforce.standin --help`` takes the same
settings as flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.salesforce.standin.faults import Faults
from connectors.salesforce.standin.service import SalesforceStandIn
from sync import private

log = logging.getLogger(__name__)

SECRET_ENV = "CRM2_SF_CLIENT_SECRET"
REFRESH_TOKEN_ENV = "CRM2_SF_REFRESH_TOKEN"
DB_NAME = "salesforce.sqlite"
FAULTS_FILE = "salesforce-faults.json"
ENV_FILE = "salesforce.env"
OBJECTS = ["Account", "Contact", "Opportunity", "Case", "Task", "Event", "Survey_Response__c"]


class _FaultsFileWatcher:
    """Applies ``salesforce-faults.json`` to a running stand-in whenever the file changes."""

    def __init__(self, path: Path, server: SalesforceStandIn, interval: float = 0.5) -> None:
        self.path = path
        self.server = server
        self.interval = interval
        self._seen: float | None = None
        self._stop = threading.Event()
        self.apply()
        self._thread = threading.Thread(target=self._run, name="sf-standin-faults", daemon=True)
        self._thread.start()

    def apply(self) -> None:
        mtime = self.path.stat().st_mtime if self.path.exists() else None
        if mtime == self._seen:
            return
        self._seen = mtime
        if mtime is None:
            self.server.set_faults(None)
            return
        try:
            faults = Faults.from_file(self.path)
        except (ValueError, TypeError) as exc:
            log.error("ignoring %s: %s", self.path, exc)
            return
        self.server.set_faults(faults)
        log.warning("Salesforce stand-in faults now: %s", faults)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.apply()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


@dataclass
class SalesforceStandInHandle:
    """What ``crm2 demo`` and ``crm2 sandbox`` need: the tap config, the secret's env, and a stop."""

    server: SalesforceStandIn
    counts: dict[str, int]
    seeded: bool
    name: str = "salesforce"
    tap_config: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict, repr=False)
    env_file: Path | None = None
    _watcher: _FaultsFileWatcher | None = field(default=None, repr=False)

    def describe(self) -> str:
        rows = ", ".join(f"{n} {obj}" for obj, n in self.counts.items())
        origin = "seeded now" if self.seeded else "existing org"
        secret = f"; {SECRET_ENV} is in {self.env_file}" if self.env_file else ""
        return f"Salesforce stand-in at {self.server.url} ({origin}: {rows}){secret}"

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        self.server.stop()


def start(workdir: Path, *, customers: int, seed: int, faults: Faults | None = None, port: int = 0,
          host: str = "127.0.0.1") -> SalesforceStandInHandle:
    workdir = Path(workdir)
    private.mkdir(workdir)
    server = SalesforceStandIn(workdir / DB_NAME, host=host, port=port)
    try:
        seeded = server.seed_if_empty(customers, seed) is not None
    except BaseException:
        server.stop()
        raise
    server.start()
    watcher = None
    if faults is not None:
        server.set_faults(faults)
    else:
        watcher = _FaultsFileWatcher(workdir / FAULTS_FILE, server)
    secret = server.credentials["client_secret"]
    env_file = workdir / ENV_FILE
    with private.open_write(env_file, "w") as out:
        out.write(f"{SECRET_ENV}={secret}\n")
        # For trying the refresh-token flow by hand (auth_flow: refresh_token); the demo does not use it.
        out.write(f"{REFRESH_TOKEN_ENV}={server.credentials['refresh_token']}\n")
    tap_config = {"instance_url": server.url, "ca_bundle": str(server.ca_path), "auth_flow": "client_credentials",
                  "client_id": server.credentials["client_id"], "client_secret_env": SECRET_ENV,
                  "objects": list(OBJECTS)}
    return SalesforceStandInHandle(server=server, counts=server.counts(), seeded=seeded, tap_config=tap_config,
                                   env={SECRET_ENV: secret}, env_file=env_file, _watcher=watcher)


def main(argv: list[str] | None = None) -> int:
    """``python -m connectors.salesforce.standin``: run a sandbox org in the foreground."""
    parser = argparse.ArgumentParser(prog="python -m connectors.salesforce.standin",
                                     description="Run the local Salesforce stand-in until Ctrl-C.")
    parser.add_argument("--workdir", type=Path, default=Path(".crm2/sandbox"))
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--faults", type=Path, help=f"JSON file of fault settings (default: workdir/{FAULTS_FILE}, "
                        "re-read when it changes)")
    for f in dataclasses.fields(Faults):
        kind = float if "float" in str(f.type) else int
        flag = "fault-seed" if f.name == "seed" else f.name.replace("_", "-")  # --seed seeds the data
        parser.add_argument(f"--{flag}", dest=f"fault_{f.name}", type=kind, default=None, metavar="N",
                            help=f"fault: {f.name} (see Faults)")
    args = parser.parse_args(argv)
    flags = {f.name: getattr(args, f"fault_{f.name}") for f in dataclasses.fields(Faults)
             if getattr(args, f"fault_{f.name}") is not None}
    try:
        faults = Faults.from_file(args.faults) if args.faults else None
        if flags:
            faults = dataclasses.replace(faults or Faults(), **flags)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    handle = start(args.workdir, customers=args.customers, seed=args.seed, faults=faults, port=args.port)
    print(handle.describe())
    print("tap config: " + json.dumps(handle.tap_config))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    return 0
