"""target-crm2: the hub Singer target. Any tap's streams, mapped by YAML, into the crm2 store.

    tap-anything --config tap.json | target-crm2 --config target.json

What it adds to a plain singer-sdk target:

* every record of a mapped stream goes through each plan of the mapping that reads the stream,
  and ends staged, deleted, unchanged (skipped cheaply by its fingerprint in the crosswalk) or
  quarantined with a reason and a masked copy — bad records never stop the run;
* the tap's STATE is saved as a bookmark in the store only after the rows it covers are
  committed (and still written to stdout, as any target does), so a killed run resumes safely;
* a stream whose plan fails (``on_error: fail``) stops alone: the other streams go on, its
  bookmark is held at the previous run's value, and the target exits 1 at the end;
* protocol faults of the tap (a record before its schema, an invalid schema, a record without
  its key properties, a line that is not JSON) are kept in quarantine too, the rest of the input
  is loaded, and the target then exits 1 with the fault named, as singer-sdk targets do;
* BATCH messages (singer-sdk's ``batch_config``: files of records instead of RECORD lines) get
  the same treatment as RECORD lines: records go through the stream maps, the fingerprint skip,
  the schema check and the mapping; a line of a batch file nothing can read is quarantined with
  its reason; the STATE after a BATCH is saved once the file's rows are committed; a batch file
  that cannot be read holds its stream's bookmark back (exit 1); files under ``batch_folder``
  are deleted once committed;
* at the end one log line per stream says what became of its records, and they must add up.
"""

from __future__ import annotations

import copy
import json
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import click
from singer_sdk.exceptions import MissingKeyPropertiesError, RecordsWithoutSchemaException
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.io_base import SingerReader
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib.exceptions import InvalidInputLine

from connectors import batch_files
from connectors.crm2.target.config import (
    TargetPartial,
    TargetRunError,
    TargetSettings,
    config_jsonschema,
    finished_partially,
    parse,
    partial_exit,
)
from connectors.crm2.target.lines import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_LINE_BYTES,
    Unreadable,
    decode_line,
    read_lines,
)
from connectors.crm2.target.loader import Loader
from connectors.crm2.target.sink import Crm2Sink
from connectors.heap import steady_heap
from connectors.metrics import write_metrics
from connectors.sdk import Crm2Target
from sync.errors import ConfigError, Problem
from sync.mapping import Mapping, load_mapping
from sync.redaction import RedactingFilter
from sync.stage_marks import mid_stage
from sync.store import Store

UNREADABLE_STREAM = "(unreadable input)"
_UNREADABLE = "_crm2_unreadable"


class RecordsBeforeSchema(RecordsWithoutSchemaException, TargetRunError):
    """A tap sent records of a stream before (or without) a valid SCHEMA for it."""


class RecordsWithoutKeys(MissingKeyPropertiesError, TargetRunError):
    """A tap sent records lacking the key properties its SCHEMA message declared."""


class UnmappedStreams(TargetPartial):
    """A tap sent streams the mapping neither maps nor lists under ``ignore:`` (exit 3)."""


class InvalidSchemaMessage(InvalidInputLine, TargetRunError):
    """A tap sent a SCHEMA message that cannot be used."""


class UnreadableInput(InvalidInputLine, TargetPartial):
    """A line of input was not a Singer message; it is quarantined, the rest loads (exit 3)."""


class UnreadableBatch(TargetRunError):
    """A BATCH message, or a file it names, cannot be read: its stream's bookmark is held (exit 1)."""


class Crm2Reader(SingerReader):
    """Singer's reader, reading bytes and decoding each line on its own (msgspec: three times
    faster than json, floats as exact Decimals). A line that cannot be a message — too long, not
    UTF-8, not JSON, too deep, a number out of range — becomes a message of its own carrying the
    reason, so it is quarantined and the lines around it load (see target_lines)."""

    max_line_bytes = DEFAULT_MAX_LINE_BYTES
    max_depth = DEFAULT_MAX_DEPTH

    def deserialize_json(self, line: str | bytes) -> dict:
        raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
        message = decode_line(raw, self.max_depth)
        if isinstance(message, Unreadable):
            return {"type": _UNREADABLE, "unreadable": message}
        return message or {"type": _UNREADABLE, "unreadable": None}

    def process_lines(self, file_input: Any, callbacks: dict[str, Callable[[dict], None]]) -> Counter[str]:
        """singer-sdk's loop, minus its per-line checks this reader already makes; blank lines skipped."""
        callbacks = {**callbacks, _UNREADABLE: self.on_unreadable}
        unknown = self._process_unknown_message
        stats: Counter[str] = Counter()
        max_depth = self.max_depth
        with steady_heap():  # the start-up heap stays out of the garbage collector's walks
            for number, line in enumerate(read_lines(file_input or self.default_input, self.max_line_bytes), 1):
                if isinstance(line, Unreadable):
                    message: dict | Unreadable | None = line
                else:
                    # the SDK pins str; this reader works in bytes and nothing reads the attribute back
                    self._current_message = line  # type: ignore[assignment]
                    message = decode_line(line, max_depth)
                    if message is None:
                        continue  # a blank line
                if isinstance(message, Unreadable):
                    self.on_unreadable({"type": _UNREADABLE, "unreadable": message, "line_number": number})
                    stats[_UNREADABLE] += 1
                    continue
                assert message is not None  # a blank line (None) was skipped above
                kind = message["type"]
                callbacks.get(kind, unknown)(message)
                stats[kind] += 1
        return stats

    def on_unreadable(self, message: dict) -> None:  # replaced by the target
        raise InvalidInputLine("line is not a Singer message")

    def _process_unknown_message(self, message_dict: dict) -> None:
        # The Singer spec lets targets ignore message types they do not know.
        logging.getLogger("target-crm2").warning("ignoring a message of unknown type")


class _LogFilter(RedactingFilter):
    """Redact every log line except singer-sdk's metrics (names and numbers only, which the
    phone-number pattern would mangle)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return True if record.name == "singer_sdk.metrics" else super().filter(record)


class TargetCrm2(Crm2Target):
    """Maps any Singer tap's streams into the crm2 store with a YAML mapping."""

    name = "target-crm2"
    package_name = "crm2"  # the distribution these programs ship in: --version and logs report its version
    config_jsonschema: ClassVar[dict[str, Any]] = config_jsonschema()
    default_sink_class = Crm2Sink
    message_reader_class = Crm2Reader
    capabilities: ClassVar[list[Any]] = [PluginCapabilities.ABOUT, PluginCapabilities.BATCH,
                                         PluginCapabilities.STREAM_MAPS,
                                         PluginCapabilities.FLATTENING, PluginCapabilities.STRUCTURED_LOGGING,
                                         TargetCapabilities.VALIDATE_RECORDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._settings: TargetSettings | None = None
        super().__init__(*args, **kwargs)
        for handler in [*logging.getLogger().handlers, *self.logger.handlers]:
            handler.addFilter(_LogFilter())
        self.max_parallelism = 1  # one writer per store; threads would only queue on its locks
        settings = self.settings
        self.mapping = self._load_mapping(settings.mapping)
        self.source_system = settings.source_system or self.mapping.source
        self.bookmark_name = settings.bookmark_name or self.source_system
        try:
            self.store = Store.open(settings.store_url)
        except Exception as exc:
            raise ConfigError.setting("store_url", f"cannot open the store at {settings.safe_store_url} "
                                                   f"({type(exc).__name__})") from None
        self.prior_state = self.store.get_bookmark(self.bookmark_name) or {}
        self.loader = Loader(self.store, self.mapping, source_system=self.source_system, run_id=settings.run_id,
                             unmapped=settings.unmapped_streams, mapping_name=settings.mapping.name,
                             validate=bool(self.config.get("validate_records", True)))
        self.violations: list[TargetRunError] = []
        self.partial: str | None = None
        """Set when the run finished with lines or streams kept in quarantine (the command exits 3)."""
        self._aliases: dict[str, set[str]] = {}
        self._saved_state: Any = None
        self._broken_schemas: dict[str, str] = {}
        self._keyless_streams: set[str] = set()
        self._routes: dict[str, list[tuple[Any, Crm2Sink, frozenset[str]]]] = {}
        self._since_age_check = 0
        self._batches_seen = False
        self.message_reader.on_unreadable = self._process_unreadable  # type: ignore[attr-defined]
        self.message_reader.max_line_bytes = settings.max_line_bytes  # type: ignore[attr-defined]
        self.message_reader.max_depth = settings.max_depth  # type: ignore[attr-defined]

    # -- config ---------------------------------------------------------------------------------
    def parse_settings(self, config: dict[str, Any]) -> TargetSettings:
        return parse(config)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        return partial_exit(super().get_singer_command())

    @property
    def settings(self) -> TargetSettings:
        if self._settings is None:
            self._settings = parse(dict(self.config))
        return self._settings

    @staticmethod
    def _load_mapping(path: Path) -> Mapping:
        try:
            return load_mapping(path)
        except ConfigError as exc:
            # problems inside the file name their file:line:column; one about the file itself
            # (missing, unreadable) names the setting that points at it
            raise ConfigError([p if p.line else Problem("mapping", 0, 0, str(p)) for p in exc.problems]) from None

    # -- messages -------------------------------------------------------------------------------
    def _violation(self, error: TargetRunError) -> None:
        self.logger.error("%s", error)
        self.violations.append(error)

    def _process_unreadable(self, message: dict) -> None:
        """Quarantine a line nothing can read, under the stream it names when it names one."""
        line = message.get("unreadable")
        if not isinstance(line, Unreadable):
            return  # a blank line
        self._violation(UnreadableInput(f"a line of input cannot be read ({line.reason}); kept in quarantine"))
        kept = {**line.kept(), "line_number": message.get("line_number")}  # two equal lines stay two rows
        self.loader.quarantine_stream(line.stream or UNREADABLE_STREAM, [kept], line.reason,
                                      count_received=True)

    def handle_schema(self, message_dict: dict) -> None:
        stream = message_dict.get("stream")
        schema = message_dict.get("schema")
        problem = None
        if not isinstance(stream, str) or not stream:
            problem = "SCHEMA message without a stream name"
        elif not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            problem = f"SCHEMA message for stream {stream} has no 'properties'"
        self._routes.clear()  # sinks may be replaced: routes are worked out again
        if problem is None:
            try:
                super().handle_schema(message_dict)
                self._broken_schemas.pop(str(stream), None)
                return
            except Exception as exc:
                problem = f"SCHEMA message for stream {stream} cannot be used ({type(exc).__name__})"
        self._violation(InvalidSchemaMessage(problem))
        if isinstance(stream, str) and stream:
            self._broken_schemas[stream] = problem

    def handle_record(self, message_dict: dict) -> None:
        stream = message_dict.get("stream")
        if not isinstance(stream, str) or not stream or "record" not in message_dict:
            self._violation(RecordsBeforeSchema("RECORD message without a stream or a record"))
            self.loader.quarantine_stream(UNREADABLE_STREAM, [message_dict.get("record")],
                                          "RECORD message without a stream or a record", count_received=True)
            return
        record = message_dict["record"]
        if stream in self._broken_schemas or stream not in self.mapper.stream_maps:
            reason = (f"no valid SCHEMA for stream {stream}: {self._broken_schemas[stream]}"
                      if stream in self._broken_schemas else f"record of stream {stream} arrived before its SCHEMA")
            self._violation(RecordsBeforeSchema(reason))
            self.loader.quarantine_stream(stream, [record], reason, count_received=True)
            return
        routes = self._routes.get(stream) or self._route(stream)
        for stream_map, sink, keys in routes:
            if stream_map is None or not isinstance(record, dict):
                transformed = record  # the default map changes nothing; a non-object is quarantined later
            else:
                transformed = stream_map.transform(copy.copy(record))
                if transformed is None:
                    continue  # filtered out by a stream map the user configured
            if keys and isinstance(transformed, dict) and not transformed.keys() >= keys:
                self._missing_keys(sink)
            if sink.take(transformed):
                # All sinks, not just this one: the bookmark may only move once every stream's
                # records received before the latest STATE are durable.
                self.drain_all()
        self._since_age_check += 1
        if self._since_age_check >= 1000:  # a clock read per record would cost more than it tells
            self._since_age_check = 0
            self._handle_max_record_age()

    def handle_batch(self, message_dict: dict) -> None:
        """Load the records of a BATCH message's files as if each had come as a RECORD line."""
        stream, manifest, encoding = (message_dict.get(k) for k in ("stream", "manifest", "encoding"))
        if not isinstance(stream, str) or not stream or not isinstance(manifest, list) \
                or not all(isinstance(url, str) for url in manifest) or not isinstance(encoding, dict):
            self._violation(UnreadableBatch("BATCH message without a stream, an encoding or a list of files"))
            if isinstance(stream, str) and stream:
                self.loader.failures.setdefault(stream, "a BATCH message could not be read")
            return
        # Records queued before this batch are written first (the newest version of a record
        # wins), and the state received before it is saved: every record it covers is durable.
        self.drain_all()
        self._batches_seen = True
        refused = None
        if stream in self._broken_schemas or stream not in self.mapper.stream_maps:
            refused = (f"no valid SCHEMA for stream {stream}: {self._broken_schemas[stream]}"
                       if stream in self._broken_schemas else f"batch of stream {stream} arrived before its SCHEMA")
            self._violation(RecordsBeforeSchema(refused))
        routes = [] if refused else (self._routes.get(stream) or self._route(stream))
        settings = self.settings
        chunk = min((sink.max_size for _, sink, _ in routes), default=Crm2Sink.MAX_SIZE_DEFAULT)
        for number, url in enumerate(manifest, 1):
            name = f"file {number} of the batch"  # not its path: paths may name people or hosts
            try:
                for items in batch_files.read(url, encoding, chunk=chunk, max_line_bytes=settings.max_line_bytes,
                                              max_depth=settings.max_depth):
                    records = []
                    for line_number, item in items:
                        if isinstance(item, Unreadable):
                            self._quarantine_unreadable(stream, item, line_number, name)
                        else:
                            records.append(item)
                    if refused:
                        self.loader.quarantine_stream(stream, records, refused, count_received=True)
                        continue
                    for stream_map, sink, keys in routes:
                        sink.load_now(self._mapped(stream_map, sink, keys, records))
            except batch_files.BatchFileError as exc:
                why = f"stream {stream}: {name} cannot be read ({exc}); its bookmark stays where it was"
                self._violation(UnreadableBatch(why))
                self.loader.failures.setdefault(stream, why)
                continue
            if settings.batch_folder is not None:
                batch_files.remove_under(url, settings.batch_folder)
        self._handle_max_record_age()

    def _mapped(self, stream_map: Any, sink: Crm2Sink, keys: frozenset[str], records: list[Any]) -> list[Any]:
        """Records through a route's stream map, as handle_record does one at a time."""
        if stream_map is not None:
            records = [r if not isinstance(r, dict) else stream_map.transform(copy.copy(r)) for r in records]
            records = [r for r in records if r is not None]  # filtered out by a user's stream map
        if keys and any(isinstance(r, dict) and not r.keys() >= keys for r in records):
            self._missing_keys(sink)
        return records

    def _quarantine_unreadable(self, stream: str, line: Unreadable, line_number: int, where: str) -> None:
        self._violation(UnreadableInput(f"a line of a batch file of stream {stream} cannot be read ({line.reason}); "
                                        "kept in quarantine"))
        kept = {**line.kept(), "line_number": line_number, "batch_file": where}
        self.loader.quarantine_stream(stream, [kept], line.reason, count_received=True)

    def handle_state(self, message_dict: dict) -> None:
        """Keep the tap's state; after BATCH messages, save it at once when nothing is pending
        (a batch's rows are committed when its message is handled, so the STATE after it can be
        saved straight away instead of one batch late)."""
        super().handle_state(message_dict)
        sinks = [*self._sinks_active.values(), *self._sinks_to_clear]
        if self._batches_seen and not any(sink.current_size for sink in sinks):
            self.drain_all()

    def _route(self, stream: str) -> list[tuple[Any, Crm2Sink, frozenset[str]]]:
        """Where a stream's records go: (stream map or None for the identity, sink, key properties)."""
        routes = []
        for stream_map in self.mapper.stream_maps[stream]:
            identity = isinstance(stream_map, SameRecordTransform) and not stream_map.flattening_enabled
            alias = stream_map.stream_alias
            self._aliases.setdefault(alias, set()).add(stream)
            sink = self._sinks_active[alias]
            assert isinstance(sink, Crm2Sink)
            routes.append((None if identity else stream_map, sink, frozenset(sink.key_properties or ())))
        self._routes[stream] = routes
        return routes

    def _missing_keys(self, sink: Crm2Sink) -> None:
        # Reported once per stream; the record itself is loaded by the mapping's own key.
        if sink.stream_name not in self._keyless_streams:
            self._keyless_streams.add(sink.stream_name)
            self._violation(RecordsWithoutKeys(f"stream {sink.stream_name}: records lack the key properties "
                                               f"{list(sink.key_properties)} its SCHEMA declares"))

    # -- state ----------------------------------------------------------------------------------
    def _state_to_save(self, state: Any) -> Any:
        """The state to keep: a failed stream's bookmark is held at its previous value."""
        failed = {s for alias in self.loader.failures for s in self._aliases.get(alias, {alias})}
        if not failed:
            return state
        bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
        if not isinstance(bookmarks, dict):
            return None  # not the standard shape: hold the whole state back
        prior = (self.prior_state.get("bookmarks") or {}) if isinstance(self.prior_state, dict) else {}
        for stream in failed:
            if stream in prior:
                bookmarks[stream] = copy.deepcopy(prior[stream])
            else:
                bookmarks.pop(stream, None)
        return state

    def emit_state(self, state: dict) -> None:
        """Save the state in the store, then emit it; drain_all calls this after committing every sink."""
        state = self._state_to_save(state)
        if state is None:
            return
        if state != self._saved_state:
            mid_stage(f"extract:{self.source_system}")  # rows committed, bookmark not yet: crash tests kill here
            with self.store.begin() as conn:
                self.store.set_bookmark(conn, self.bookmark_name, state, self.settings.run_id)
            self._saved_state = copy.deepcopy(state)
        super().emit_state(state)

    # -- the end --------------------------------------------------------------------------------
    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        problems: list[str] = []
        for stream, counts in sorted(self.loader.counts.items()):
            self.logger.info("%s", counts.line(stream))
            problems += counts.problems(stream)
        self.logger.info("counts %s", json.dumps({s: {"received": c.received, "skipped": c.skipped,
                                                      "quarantined": c.quarantined,
                                                      "plans": {p: vars(pc) for p, pc in c.plans.items()}}
                                                  for s, c in self.loader.counts.items()}))
        for problem in problems:
            self.logger.error("not accounted for: %s", problem)
        totals = Counter[str]()
        for c in self.loader.counts.values():
            totals.update(received=c.received, skipped=c.skipped, quarantined=c.quarantined)
            for pc in c.plans.values():
                totals.update(inserted=pc.inserted, updated=pc.updated, unchanged=pc.unchanged, deleted=pc.deleted,
                              quarantined=pc.quarantined)
        totals["unmapped_streams"] = len(self.loader.unmapped_streams)
        write_metrics(dict(totals))
        if self.loader.unmapped_streams:
            names = ", ".join(sorted(self.loader.unmapped_streams))
            self._violation(UnmappedStreams(f"streams without a mapping: {names} (map them, or list them under "
                                            f"'ignore:' in {self.settings.mapping.name})"))
        self.store.close()
        # A fault of the tap or a stopped stream is exit 1; lines kept in quarantine because they
        # could not be read (and streams nobody mapped) are exit 3: finished, not all loaded.
        faults = [v for v in self.violations if not isinstance(v, TargetPartial)]
        if faults:
            first = faults[0]
            more = f" (and {len(self.violations) - 1} more problems, see the log)" if len(self.violations) > 1 else ""
            raise type(first)(f"{first}{more}")
        if self.loader.failures:
            raise TargetRunError("; ".join(f"stream {s} stopped: {why}" for s, why in self.loader.failures.items()))
        if problems:
            raise TargetRunError("; ".join(problems))
        if self.violations:
            first = self.violations[0]
            more = f" (and {len(self.violations) - 1} more, see the log)" if len(self.violations) > 1 else ""
            self.partial = f"{first}{more}"
            finished_partially(self.partial)


if __name__ == "__main__":
    TargetCrm2.cli()
