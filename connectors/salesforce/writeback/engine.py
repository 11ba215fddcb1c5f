"""The writeback run: intents in, diffed against the last written values, sent, accounted for.

Per drain of the target's sink (and once more at the end for the retry queue):

1. settle what a crashed run left in flight (once, before anything is sent);
2. take the latest intent per Salesforce record; an intent replaces a queued retry for the same
   record (the newer values win);
3. diff against the last written values — unchanged records cost nothing, not even a read;
4. send the changes, per object and operation: sObject Collections for fewer than
   ``bulk_threshold`` records, one Bulk API 2.0 job otherwise;
5. on an API limit, budget or an unreachable Salesforce: stop sending, queue every change not
   sent, and finish cleanly — the next run picks the queue up.

In a dry run, steps 1 and 4 are replaced by reading the current values (one query per 200
changed records) and listing ``before -> after``; nothing is written anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.salesforce.client import ApiLimitReached, AuthenticationError, SalesforceClient, SalesforceError
from connectors.salesforce.writeback.config import WritebackSettings
from connectors.salesforce.writeback.diff import diff_all
from connectors.salesforce.writeback.read import read_current
from connectors.salesforce.writeback.recover import recover
from connectors.salesforce.writeback.send import Sender, WritebackStopped
from connectors.salesforce.writeback.store import Change, Outcome, Queued, WritebackStore
from sync.store import Store
from sync.writeback.mapping import Intent, LoadedMapping, MapStats, Operation
from sync.writeback.values import ValueProblem, canonical

log = logging.getLogger(__name__)

UNKNOWN = "(unknown)"
NOT_FOUND = "(not found)"


@dataclass
class PreviewLine:
    """One field of one record in a dry run."""

    object: str
    record: str
    field: str
    before: Any
    after: Any
    known: bool = True


@dataclass
class Counts:
    records: int = 0  # tap records received
    intents: int = 0  # Salesforce records they map to
    unchanged: int = 0
    changed: int = 0
    written: int = 0
    created: int = 0
    rejected: int = 0
    deferred: int = 0  # queued for the next run, unsent (API limit, budget, Salesforce unreachable)
    in_doubt: int = 0  # sent when the run stopped, outcome unknown: the next run settles them first
    no_match: int = 0
    retried: int = 0  # queued records from earlier runs sent again
    recovered: int = 0  # records of a crashed run found to have landed
    collections_calls: int = 0
    bulk_jobs: int = 0


@dataclass
class EngineResult:
    counts: Counts
    stopped: str | None
    stopped_on_limit: bool
    stopped_fatal: bool
    bad_values: list[str]
    rejections: list[Outcome] = field(default_factory=list)
    successes: list[Outcome] = field(default_factory=list)
    preview: list[PreviewLine] = field(default_factory=list)
    api_calls: int = 0
    auth_calls: int = 0


class WritebackEngine:
    def __init__(self, settings: WritebackSettings, mapping: LoadedMapping, store: Store) -> None:
        self.settings = settings
        self.mapping = mapping
        self.wstore = WritebackStore(store, settings.effective_run_id)
        self.stats = MapStats()
        self.counts = Counts()
        self._client: SalesforceClient | None = None
        self._sender: Sender | None = None
        self._started = False
        self._queue: dict[tuple[str, str, str], Queued] = {}
        self.stopped: WritebackStopped | None = None
        self.rejections: list[Outcome] = []
        self.successes: list[Outcome] = []
        self.preview: list[PreviewLine] = []

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def client(self) -> SalesforceClient:
        if self._client is None:
            self._client = self.settings.client()
        return self._client

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            self._sender = Sender(self.client, self.wstore, self.mapping.known_kind,
                                  bulk_options=self.settings.bulk_options(),
                                  collection_size=self.settings.collection_size)
        return self._sender

    def operation_for(self, key_field: str) -> Operation:
        if key_field == "Id" or self.settings.mode == "update_only":
            return "update"
        return "upsert"

    def start(self) -> None:
        """Settle a crashed run's batches and load the retry queue; once, before the first write."""
        if self._started:
            return
        self._started = True
        pending = self.wstore.pending_batches()
        if pending and self.settings.dry_run:
            log.warning("%d batches of an interrupted run are not settled yet; the dry run compares with the "
                        "values last confirmed (a real run settles them first)", len(pending))
        elif pending:
            try:
                stats = recover(self.client, self.wstore, self.mapping, self.settings.bulk_options())
            except SalesforceError as exc:
                # still unknown: leave them logged and send nothing this run, or a record could be written twice
                self.stopped = WritebackStopped(f"could not settle an interrupted run's writes: {exc}",
                                                limit=isinstance(exc, ApiLimitReached),
                                                fatal=isinstance(exc, AuthenticationError))
                log.warning("Stopping: %s", self.stopped)
            else:
                self.counts.recovered += stats.landed
        self._queue = {q.intent.key: q for q in self.wstore.queued(self.operation_for)}
        if self._queue:
            log.info("%d records queued by earlier runs (rejected or deferred) will be retried", len(self._queue))

    # -- the run ------------------------------------------------------------------------------

    def add_records(self, stream: str, records: Iterable[dict[str, Any]]) -> None:
        intents: list[Intent] = []
        for record in records:
            self.counts.records += 1
            intents.extend(self.mapping.intents(stream, record, match=self.settings.match, mode=self.settings.mode,
                                                stats=self.stats))
        self.counts.no_match += self.stats.no_match
        self.stats.no_match = 0
        self.process(intents)

    def process(self, intents: Sequence[Intent]) -> None:
        self.start()
        latest = {i.key: i for i in intents}
        self.counts.intents += len(latest)
        superseded = {key for key in latest if self._queue.pop(key, None) is not None}
        self._write(list(latest.values()), superseded)

    def finish(self) -> EngineResult:
        """Retry what earlier runs queued (and nothing newer replaced), then report."""
        self.start()
        retries = []
        for key, queued in list(self._queue.items()):
            intent = self._recanonical(queued.intent)
            if intent is not None:
                retries.append(intent)
                del self._queue[key]
        self._write(retries, {i.key for i in retries}, retry=True)
        budget = self._client.budget if self._client else None
        return EngineResult(
            counts=self.counts, stopped=str(self.stopped) if self.stopped else None,
            stopped_on_limit=bool(self.stopped and self.stopped.limit),
            stopped_fatal=bool(self.stopped and self.stopped.fatal), bad_values=list(self.stats.bad_values),
            rejections=self.rejections, successes=self.successes, preview=self.preview,
            api_calls=budget.calls if budget else 0, auth_calls=budget.auth_calls if budget else 0)

    def _recanonical(self, intent: Intent) -> Intent | None:
        """Queued values come back from the store as JSON (numbers as text): restore their kinds."""
        spec = self.mapping.spec.objects.get(intent.object)
        if spec is None:
            return None  # the object left the mapping: nothing to write it with
        values = {}
        for name, value in intent.values.items():
            if name not in spec.fields:
                continue
            kind = self.mapping.known_kind(intent.object, name)
            if kind is None:
                return None  # its stream sent no schema this run: keep it queued for a run that does
            try:
                values[name] = canonical(kind, value)
            except ValueProblem:
                values[name] = value
        return Intent(intent.object, self.operation_for(intent.key_field), intent.key_field, intent.key_value,
                      intent.record_id, intent.golden_id, values)

    def _write(self, intents: list[Intent], queued_keys: set[tuple[str, str, str]], *, retry: bool = False) -> None:
        groups: dict[tuple[str, str], list[Intent]] = {}
        for intent in intents:
            groups.setdefault((intent.object, intent.key_field), []).append(intent)
        for (obj, key_field), group in groups.items():
            last = self.wstore.last_written(obj, key_field, [i.key_value for i in group])
            changes, unchanged = diff_all(group, last, self.mapping)
            self.counts.unchanged += len(unchanged)
            if not self.settings.dry_run:
                self.wstore.drop_queued(i.key for i in unchanged if i.key in queued_keys)
            if self.stopped is None:
                changes = self._with_ids(obj, key_field, changes, queued_keys)
            self.counts.changed += len(changes)
            if retry:
                self.counts.retried += len(changes)
            if self.settings.dry_run:
                self._preview(obj, key_field, changes)
            else:
                self._send(obj, key_field, changes)

    def _with_ids(self, obj: str, key_field: str, changes: list[Change],
                  queued_keys: set[tuple[str, str, str]]) -> list[Change]:
        """Update-only by external id sends by Id: find the Ids not known yet (200 per query)."""
        missing = [c for c in changes if c.intent.operation == "update" and not c.record_id]
        if key_field == "Id" or not missing:
            return changes
        try:
            found = read_current(self.client, obj, key_field, [c.intent.key_value for c in missing], [])
        except SalesforceError as exc:
            self._stop(WritebackStopped(f"could not look Ids up by {key_field}: {exc}",
                                        limit=isinstance(exc, ApiLimitReached),
                                        fatal=isinstance(exc, AuthenticationError)))
            return changes  # _send defers them
        kept = []
        gone = []
        for change in changes:
            if change.intent.operation == "update" and not change.record_id:
                record = found.get(change.intent.key_value)
                if record is None:
                    self.counts.no_match += 1  # update-only never creates
                    gone.append(change.intent.key)
                    continue
                change.record_id = str(record["Id"])
            kept.append(change)
        if not self.settings.dry_run:
            self.wstore.drop_queued(k for k in gone if k in queued_keys)
        return kept

    def _send(self, obj: str, key_field: str, changes: list[Change]) -> None:
        by_operation: dict[Operation, list[Change]] = {}
        for change in changes:
            by_operation.setdefault(change.intent.operation, []).append(change)
        for operation, group in by_operation.items():
            if self.stopped is not None:
                self._defer([c.intent for c in group])
                continue
            bulk = len(group) >= self.settings.bulk_threshold
            calls_before = self.sender.write_calls
            try:
                if bulk:
                    self.counts.bulk_jobs += 1
                    outcomes = self.sender.send_bulk(obj, operation, key_field, group)
                else:
                    outcomes = self.sender.send_collections(obj, operation, key_field, group)
            except WritebackStopped as exc:
                self._stop(exc)
                self._tally(exc.settled)
                self.counts.deferred += exc.queued
                self.counts.in_doubt += len(exc.handled) - exc.queued
                done = exc.handled | {o.change.intent.key for o in exc.settled}
                self._defer([c.intent for c in group if c.intent.key not in done])
                continue
            finally:
                if not bulk:
                    self.counts.collections_calls += self.sender.write_calls - calls_before
            self._tally(outcomes)

    def _tally(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            if outcome.success:
                self.counts.written += 1
                self.counts.created += int(outcome.created)
                self.successes.append(outcome)
            else:
                self.counts.rejected += 1
                self.rejections.append(outcome)
                log.warning("%s %s rejected: %s", outcome.change.intent.object,
                            outcome.record_id or outcome.change.intent.key_value, outcome.error_code)

    def _stop(self, exc: WritebackStopped) -> None:
        if self.stopped is None:
            self.stopped = exc
            log.warning("Stopping the writeback cleanly: %s -- unsent changes are queued for the next run", exc)

    def _defer(self, intents: Sequence[Intent]) -> None:
        """Queue changes for the next run (not in a dry run, which changes nothing)."""
        if not intents:
            return
        self.counts.deferred += len(intents)
        if not self.settings.dry_run:
            self.wstore.enqueue(list(intents), "deferred")

    def _preview(self, obj: str, key_field: str, changes: list[Change]) -> None:
        if not changes:
            return
        fields = sorted({name for c in changes for name in c.sent})

        def key_of(change: Change) -> str:
            return (change.record_id if key_field == "Id" else change.intent.key_value) or ""

        current: dict[str, dict[str, Any]] | None = None
        if self.stopped is None:
            try:
                current = read_current(self.client, obj, key_field, [key_of(c) for c in changes], fields)
            except SalesforceError as exc:
                log.warning("Dry run: current values unreadable (%s); shown as %s", exc.error_code or exc, UNKNOWN)
        for change in changes:
            record = current.get(key_of(change)) if current is not None else None
            shown_as = change.record_id or change.intent.key_value
            for name, after in change.sent.items():
                if current is None:
                    self.preview.append(PreviewLine(obj, shown_as, name, UNKNOWN, after, known=False))
                elif record is None:
                    self.preview.append(PreviewLine(obj, shown_as, name, NOT_FOUND, after, known=False))
                else:
                    self.preview.append(PreviewLine(obj, str(record.get("Id") or shown_as), name,
                                                    record.get(name), after))
