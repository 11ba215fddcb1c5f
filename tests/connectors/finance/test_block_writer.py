"""The tap's block writer: records wait for a block or the next other message; a STATE reaches
the pipe at once, after exactly the records before it."""

from __future__ import annotations

import json

import pytest
from singer_sdk.singerlib.messages import RecordMessage, SchemaMessage, StateMessage

from connectors import singer_writer
from connectors.singer_writer import BlockSingerWriter


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_records_wait_and_state_flushes_them_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    writer = BlockSingerWriter()
    writer.write_message(SchemaMessage("s", {"properties": {"id": {"type": "integer"}}}, ["id"]))
    assert [m["type"] for m in lines(capsys.readouterr().out)] == ["SCHEMA"]
    for i in range(3):
        writer.write_message(RecordMessage("s", {"id": i}))
    assert capsys.readouterr().out == ""  # held: no write per record
    writer.write_message(StateMessage({"bookmarks": {"s": {"id": 2}}}))
    out = lines(capsys.readouterr().out)
    assert [m["type"] for m in out] == ["RECORD", "RECORD", "RECORD", "STATE"]
    assert [m["record"]["id"] for m in out[:3]] == [0, 1, 2]


def test_a_full_block_is_written_without_waiting_for_state(capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(singer_writer, "BLOCK", 200)
    writer = BlockSingerWriter()
    for i in range(10):
        writer.write_message(RecordMessage("s", {"id": i, "name": "x" * 20}))
    written = lines(capsys.readouterr().out)
    assert 0 < len(written) < 10 and [m["record"]["id"] for m in written] == list(range(len(written)))
    writer.flush()
    assert [m["record"]["id"] for m in lines(capsys.readouterr().out)] == list(range(len(written), 10))


def test_record_lines_mean_what_singer_sdks_own_lines_mean(capsys: pytest.CaptureFixture[str]) -> None:
    """msgspec writes the record; the JSON is singer-sdk's, money digit for digit."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from singer_sdk.singerlib.encoding import SimpleSingerWriter

    record = {"id": 1, "amount": Decimal("12345678901234.56"), "tiny": Decimal("0E-8"), "name": "远航 GmbH",
              "paid": True, "note": None, "rate": 1.5}
    message = RecordMessage("s", record, version=3, time_extracted=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
    writer = BlockSingerWriter()
    writer.write_message(message)
    writer.flush()
    ours = capsys.readouterr().out
    theirs = SimpleSingerWriter().format_message(message)
    assert '"amount":12345678901234.56' in ours and '"tiny":0E-8' in ours
    assert json.loads(ours, parse_float=Decimal) == json.loads(theirs, parse_float=Decimal)


def test_a_value_msgspec_cannot_write_goes_through_singer_sdks_encoder(capsys: pytest.CaptureFixture[str]) -> None:
    from decimal import Decimal

    writer = BlockSingerWriter()
    writer.write_message(RecordMessage("s", {"id": 1, "amount": Decimal("NaN"), "other": object.__new__(Marker)}))
    writer.flush()
    [line] = lines(capsys.readouterr().out)
    assert line["record"] == {"id": 1, "amount": None, "other": "marker"}


class Marker:
    def __str__(self) -> str:
        return "marker"
