"""The singer-sdk extension points crm2's six Singer programs need, in one place.

Taps and targets subclass these instead of overriding singer-sdk's private methods each in its
own way, so a singer-sdk upgrade is checked against this module alone:

- settings validated by a pydantic model, every problem reported (not the first), each named by
  its setting path — instead of singer-sdk's jsonschema check;
- one entry wrapper: a Crm2Error becomes its lines on stderr and its exit code (2 for a bad
  config, 1 for a failed run, 75 for a clean early stop), never a traceback;
- the tie-safe bookmark (change time + last key; see connectors/bookmarks.py), written once;
- BATCH files (``batch_config``) written private and fast (connectors/batch_files.py), and read
  by target-crm2 through the ``handle_batch`` hook with the same guarantees as RECORD lines.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import click
from pydantic import BaseModel, ValidationError
from singer_sdk import Stream, Tap, Target
from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig, SDKBatchMessage
from singer_sdk.helpers.types import Context, Record

from connectors.batch_files import PrivateJSONLBatcher
from connectors.bookmarks import LAST_KEY
from connectors.heap import steady_heap
from sync.errors import ConfigError, Crm2Error


def parse_settings(model: type[BaseModel], config: dict[str, Any], prefix: str = "") -> Any:
    """``config`` validated by ``model``; every problem as one ConfigError, placed by setting path."""
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        raise ConfigError.from_validation(exc, prefix) from None


def one_line_errors(command: click.Command, program: str) -> click.Command:
    """Make ``command`` print a Crm2Error as lines and exit with its code instead of a traceback.

    Wrapping ``main`` (not ``invoke``) also covers ``--discover`` and ``--about``, which
    singer-sdk runs from option callbacks while the arguments are still being parsed.
    """
    original: Callable[..., Any] = command.main

    def main(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except Crm2Error as exc:
            prefix = "config error: " if isinstance(exc, ConfigError) else f"{program}: "
            for line in exc.lines():
                print(prefix + line, file=sys.stderr, flush=True)
            sys.exit(exc.exit_code)

    command.main = main  # type: ignore[method-assign]
    return command


class _ValidatedConfig:
    """Settings checked by pydantic when singer-sdk validates the config."""

    def parse_settings(self, config: dict[str, Any]) -> Any:
        """The program's settings from its config; raises ConfigError with every problem."""
        raise NotImplementedError

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            self.parse_settings(dict(self.config))  # type: ignore[attr-defined]
        except ConfigError as exc:
            if raise_errors:
                raise
            return exc.lines()
        return []

    @classmethod
    def get_singer_command(cls) -> click.Command:
        return one_line_errors(super().get_singer_command(), cls.name)  # type: ignore[misc,attr-defined]


class Crm2Tap(_ValidatedConfig, Tap):
    """A crm2 tap: pydantic-validated settings and one-line errors with crm2's exit codes."""

    @classmethod
    def invoke(cls, **kwargs: Any) -> None:  # type: ignore[override]
        # the command line's run (not a tap built in-process): the start-up heap stays out of
        # the garbage collector's walks while records stream (connectors/heap.py)
        with steady_heap():
            super().invoke(**kwargs)


class Crm2Target(_ValidatedConfig, Target):
    """A crm2 target: pydantic-validated settings and one-line errors with crm2's exit codes.

    singer-sdk's private message handlers are overridden here and nowhere else; a target changes
    them through the public hooks, whose defaults are singer-sdk's own behaviour.
    """

    def handle_schema(self, message_dict: dict[str, Any]) -> None:
        super()._process_schema_message(message_dict)

    def handle_record(self, message_dict: dict[str, Any]) -> None:
        super()._process_record_message(message_dict)

    def handle_batch(self, message_dict: dict[str, Any]) -> None:
        super()._process_batch_message(message_dict)

    def handle_state(self, message_dict: dict[str, Any]) -> None:
        super()._process_state_message(message_dict)

    def emit_state(self, state: dict[str, Any]) -> None:
        """Write a STATE message to stdout (called once the records before it are durable)."""
        super()._write_state_message(state)

    def _process_schema_message(self, message_dict: dict[str, Any]) -> None:
        self.handle_schema(message_dict)

    def _process_record_message(self, message_dict: dict[str, Any]) -> None:
        self.handle_record(message_dict)

    def _process_batch_message(self, message_dict: dict[str, Any]) -> None:
        self.handle_batch(message_dict)

    def _process_state_message(self, message_dict: dict[str, Any]) -> None:
        self.handle_state(message_dict)

    def _write_state_message(self, state: dict[str, Any]) -> None:
        self.emit_state(state)


@dataclass(slots=True)
class CountedBatchMessage(SDKBatchMessage):
    """A BATCH message that also says how many records its files hold, so crm2's orchestrator
    can show progress without opening them; targets ignore keys they do not know."""

    crm2_records: int | None = None


class Crm2Stream(Stream):
    """A crm2 tap's stream: with ``batch_config`` (JSON Lines) it writes private batch files with
    msgspec instead of singer-sdk's default batcher; any other format is singer-sdk's own.

    singer-sdk's batch loop emits each BATCH message followed by the STATE that covers exactly
    the records in its files, so a target that commits a file before saving that state keeps the
    bookmark behind its data, as with RECORD lines."""

    def get_batches(self, batch_config: BatchConfig, context: Context | None = None,
                    ) -> Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        if str(batch_config.encoding.format).lower() != "jsonl" or len(self.stream_maps) != 1:
            yield from super().get_batches(batch_config, context)
            return
        batcher = PrivateJSONLBatcher(self.tap_name, self.name, batch_config)
        for manifest in batcher.get_batches(records=self._as_sent(context)):
            self._batch_records = batcher.last_count
            yield batch_config.encoding, manifest
            self._batch_records = None

    _batch_records: int | None = None

    def _generate_batch_messages(self, encoding: BaseBatchFileEncoding, manifest: list[str],
                                 ) -> Generator[SDKBatchMessage, None, None]:
        for stream_map in self.stream_maps:
            yield CountedBatchMessage(stream=stream_map.stream_alias, encoding=encoding, manifest=manifest,
                                      crm2_records=self._batch_records)

    def _as_sent(self, context: Context | None) -> Iterator[Record]:
        """Each record exactly as its RECORD message would carry it: deselected properties
        removed, types conformed to the schema, the stream map applied (singer-sdk's batcher
        writes the raw record, so a batch would differ from the same records sent as lines)."""
        for record in self._sync_records(context, write_messages=False):
            for message in self._generate_record_messages(record):
                yield message.record


class TieSafeStream(Crm2Stream):
    """A stream read in (change time, key) order that also bookmarks the last record's key.

    singer-sdk saves only the change time of the last record; records sharing that time would be
    lost with ``>`` or repeated with ``>=`` on resume. Subclasses say which key (``last_key``)
    and read with :func:`connectors.bookmarks.resume_point`.
    """

    last_key_state: ClassVar[str] = LAST_KEY
    """The state entry holding the key (kept per program, so saved bookmarks stay readable)."""

    def last_key(self, record: Record) -> Any:
        return [record.get(k) for k in self.primary_keys or ()]

    def _increment_stream_state(self, latest_record: Record, *, context: Context | None = None) -> None:
        super()._increment_stream_state(latest_record, context=context)
        if self.is_sorted and self.replication_key and latest_record.get(self.replication_key) is not None:
            self.get_context_state(context)[self.last_key_state] = self.last_key(latest_record)
