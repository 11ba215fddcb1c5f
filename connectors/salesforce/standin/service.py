"""SalesforceStandIn: a local Salesforce org over HTTPS, and its Python API for tests and the demo.

    sf = SalesforceStandIn(tmp / "org.sqlite")      # state persists in the SQLite file
    sf.start()                                       # https://127.0.0.1:<ephemeral port>
    sf.insert("Account", [{"Name": "ACME"}])         # data already in the org
    sf.set_faults(Faults(status_503_next=2))         # a bad day, deterministically
    ... point a client at sf.url, trusting sf.ca_path, with sf.credentials ...
    sf.api_calls_total(); sf.write_calls_total()
    sf.stop()

The CA and server certificate are made fresh by ``trustme`` for every instance and the CA is
written to ``ca_path`` for clients to verify against; nothing ever turns verification off.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import trustme

from connectors.salesforce.standin.api import Api
from connectors.salesforce.standin.bulk import BulkService
from connectors.salesforce.standin.faults import FaultInjector, Faults
from connectors.salesforce.standin.metering import Meter
from connectors.salesforce.standin.oauth import ConnectedApp, OAuth
from connectors.salesforce.standin.org import Org, q
from connectors.salesforce.standin.schema import SOBJECTS, sobject
from connectors.salesforce.standin.server import HttpsServer
from connectors.salesforce.standin.values import to_json
from connectors.salesforce.standin.writes import Writer
from sync import private

SEED_BATCH = 5000


class SalesforceStandIn:
    """A Salesforce org on loopback HTTPS that real clients cannot tell from the real API."""

    def __init__(self, db_path: Path | str, host: str = "127.0.0.1", port: int = 0, daily_limit: int = 100_000,
                 *, session_seconds: float | None = None, extra_hostnames: Sequence[str] = ()) -> None:
        """``session_seconds``: access tokens expire that long after they are issued (None: never).
        ``extra_hostnames``: more names the TLS certificate is valid for, so a client whose login
        host is fixed (``login.salesforce.com``) can be pointed here through a proxy or resolver."""
        self.db_path = Path(db_path)
        self.host = host
        self.org = Org(self.db_path)
        self.app = ConnectedApp.load_or_create(self.org)
        self.meter = Meter(daily_limit)
        self.faults = FaultInjector()
        self.oauth = OAuth(self.org, self.app, session_seconds)
        self.writer = Writer(self.org, self.faults)
        self.bulk = BulkService(self.org, self.writer, self.meter)
        self.api = Api(org=self.org, oauth=self.oauth, meter=self.meter, faults=self.faults, writer=self.writer,
                       bulk=self.bulk, base_url=lambda: self.url)
        self._ca = trustme.CA(organization_name="crm2 Salesforce stand-in CA")
        names = [host] if host in ("127.0.0.1", "localhost", "::1") else [host, "127.0.0.1"]
        cert = self._ca.issue_cert(*dict.fromkeys([*names, "localhost", *extra_hostnames]))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        cert.configure_cert(context)
        self.ca_path = self.db_path.with_name(f"{self.db_path.stem}-ca.pem")
        private.write_bytes(self.ca_path, self._ca.cert_pem.bytes())
        self._server = HttpsServer((host, port), self.api, context)
        self._thread: threading.Thread | None = None
        self._stopped = False

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = cast(tuple[str, int], self._server.server_address[:2])  # a TCP server: host is str
        shown = f"[{host}]" if ":" in str(host) else str(host)
        return f"https://{shown}:{port}"

    def start(self) -> SalesforceStandIn:
        self.bulk.start()
        # A short poll interval keeps stop() quick (shutdown waits for the loop's next poll).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sf-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering (open connections are cut), finish the bulk worker, close the database."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        self._server.close_connections()
        self.bulk.stop()
        self.org.close()

    def __enter__(self) -> SalesforceStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def credentials(self) -> dict[str, str]:
        """What each OAuth flow needs: client id/secret, user, password, security token, JWT key."""
        return self.app.as_dict()

    # -- data ---------------------------------------------------------------------------------

    def insert(self, sobject_name: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Load records as data already in the org (Ids and timestamps may be given); returns the count."""
        obj = sobject(sobject_name)
        if obj is None:
            raise ValueError(f"the stand-in has no sObject '{sobject_name}' (it has {', '.join(SOBJECTS)})")
        return self.org.load(obj, rows)

    def seed_from_generator(self, customers: int, seed: int) -> dict[str, int]:
        """Load the synthetic generator's Salesforce records, parents before children."""
        from synthetic import generate  # only needed when seeding

        grouped: dict[str, list[dict[str, Any]]] = {name: [] for name in SOBJECTS}
        for system, obj_name, record in generate(customers, seed):
            if system != "salesforce":
                continue
            if obj_name not in grouped:
                raise ValueError(f"the generator emitted Salesforce object '{obj_name}' the stand-in does not have")
            grouped[obj_name].append(record)
        counts = {}
        for name, records in grouped.items():
            # A child's parent may come later in the same object (ParentId): load in slices anyway,
            # since the org does not enforce references on seeded data.
            loaded = 0
            for start in range(0, len(records), SEED_BATCH):
                loaded += self.insert(name, records[start:start + SEED_BATCH])
            counts[name] = loaded
        return counts

    def seed_if_empty(self, customers: int, seed: int) -> dict[str, int] | None:
        """Seed a fresh org; an org that already has data is left as it is (it survives restarts)."""
        if not self.org.is_empty():
            return None
        return self.seed_from_generator(customers, seed)

    def records(self, sobject_name: str, *, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Every record of an object as REST would return its fields (ground truth for tests)."""
        obj = sobject(sobject_name)
        if obj is None:
            raise ValueError(f"the stand-in has no sObject '{sobject_name}'")
        where = "" if include_deleted else " WHERE IsDeleted = 0"
        with self.org.lock:
            cur = self.org.conn.execute(f"SELECT * FROM {q(obj.name)}{where} ORDER BY Id")
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        return [{n: to_json(obj.by_name[n], v) for n, v in zip(names, row, strict=True)} for row in rows]

    def counts(self) -> dict[str, int]:
        return {name: self.org.count(name) for name in SOBJECTS}

    def merge(self, sobject_name: str, master_id: str, loser_ids: Iterable[str]) -> None:
        """Merge records as a user would in the UI: losers are deleted with MasterRecordId set."""
        obj = sobject(sobject_name)
        if obj is None:
            raise ValueError(f"the stand-in has no sObject '{sobject_name}'")
        self.org.merge(obj, master_id, list(loser_ids))

    # -- faults and counters ------------------------------------------------------------------

    def set_faults(self, faults: Faults | None) -> None:
        self.faults.set(faults)

    def issue_refresh_token(self) -> str:
        """A new refresh-token grant for the integration user, as a user's consent would give one."""
        return self.oauth.issue_refresh_token()

    def expire_sessions(self) -> None:
        """Invalidate every access token now: the next call with one gets 401 INVALID_SESSION_ID."""
        self.oauth.revoke_all()

    def api_calls(self) -> dict[str, int]:
        """Calls served so far by kind: ``rest``, ``bulk``, ``auth``, and ``writes`` among them."""
        return self.meter.snapshot()

    def api_calls_total(self) -> int:
        """REST + Bulk + auth calls served so far (failed and faulted ones included)."""
        return self.meter.total()

    def write_calls_total(self) -> int:
        """Calls that could change data (REST/Collections writes, Bulk ingest requests)."""
        return self.meter.snapshot()["writes"]
