"""Hostile raw input: target-crm2 reads bytes and decodes each line on its own.

A line nothing can read (invalid UTF-8, nesting beyond max_depth, a number out of range,
NaN/Infinity, a line over max_line_bytes, plain garbage) is quarantined with
its reason under the stream it names; the lines around it load and the target exits 3. The
property test throws arbitrary bytes between valid records and checks that every line ends up
loaded or quarantined. Hang guards are generous subprocess timeouts, never timed assertions.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from shop_mapping import CLIENT_PROPERTIES, client, write_shop_mapping
from target_crm2_support import TARGET, StoreView, TargetRun, schema, state, write_config

from connectors.crm2.target import TargetCrm2
from connectors.crm2.target.lines import decode_line

HANG_GUARD = 300  # seconds: only a hung target gets near this, however busy the machine


def _line(message: dict) -> bytes:
    return json.dumps(message).encode() + b"\n"


def _record_line(i: int) -> bytes:
    return _line({"type": "RECORD", "stream": "clients", "record": client(i)})


def _deep(levels: int) -> bytes:
    return (b'{"type": "RECORD", "stream": "clients", "record": {"id": 90, "name": "Deep", "x": '
            + b'{"a": ' * levels + b"1" + b"}" * levels + b"}}\n")


def _raw(i: int, value: bytes) -> bytes:
    return b'{"type": "RECORD", "stream": "clients", "record": {"id": %d, "name": %s}}\n' % (i, value)


def _run_bytes(config: Path, stdin: bytes) -> TargetRun:
    proc = subprocess.run([TARGET, "--config", str(config)], input=stdin, capture_output=True,
                          timeout=HANG_GUARD, env=dict(os.environ))
    return TargetRun(proc.returncode, proc.stdout.decode(), proc.stderr.decode("utf-8", "replace"))


HOSTILE = {
    "invalid UTF-8": _raw(20, b'"M\xfcller \xff GmbH"'),
    "nested deeper than 64 levels (max_depth)": _deep(1000),
    "number out of range": _raw(21, b"1e999999"),
    "NaN or Infinity is not a JSON number": _raw(22, b"NaN"),
    "line longer than 8,192 bytes (max_line_bytes)": _raw(24, b'"' + b"x" * 10_000 + b'"'),
}


def test_each_unreadable_line_is_quarantined_with_its_reason_and_the_rest_loads(tmp_path):
    mapping = write_shop_mapping(tmp_path)
    store = tmp_path / "store.sqlite"
    config = write_config(tmp_path, store_url=store, mapping=mapping, max_line_bytes=8192)
    stdin = (_line(schema("clients", CLIENT_PROPERTIES)) + _record_line(1) + _record_line(2)
             + b"".join(HOSTILE.values()) + _raw(25, b"1" + b"0" * 400)  # an integer of 401 digits
             + _raw(23, b'"\\ud800"')  # readable JSON, but text no column holds: that record alone
             + b"\n   \n" + _record_line(3) + _line(state({"bookmarks": {"clients": {"position": 3}}})))
    run = _run_bytes(config, stdin)
    assert run.exit_code == 3, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    view = StoreView(store)
    try:
        assert set(view.staged("clients")) == {"1", "2", "3"}
        lines = [r for r in view.quarantine() if r.source_id is None]
        assert sorted((r.stream, r.reason) for r in lines) == sorted(
            [("clients", reason) for reason in HOSTILE] + [("clients", "number out of range")])
        assert [r.source_id for r in view.quarantine() if r.source_id is not None] == ["23"]
        kept = [json.loads(r.record) if isinstance(r.record, str) else r.record for r in lines]
        assert all(k["line_bytes"] > 0 for k in kept)
        assert max(len(k["line"]) for k in kept) <= 4096 * 4  # a prefix, never the whole huge line
        assert view.bookmark("shop") == {"bookmarks": {"clients": {"position": 3}}}
    finally:
        view.close()
    counts = run.counts()["clients"]
    assert counts["received"] == 10 and counts["quarantined"] == 6
    assert counts["plans"]["clients"]["inserted"] == 3 and counts["plans"]["clients"]["quarantined"] == 1


def test_a_line_that_names_no_stream_is_kept_as_unreadable_input(tmp_path):
    mapping = write_shop_mapping(tmp_path)
    store = tmp_path / "store.sqlite"
    config = write_config(tmp_path, store_url=store, mapping=mapping)  # default limits
    run = _run_bytes(config, _line(schema("clients", CLIENT_PROPERTIES)) + b"\xff\xfe garbage\n"
                     + _deep(100_000) + _record_line(1))
    assert run.exit_code == 3, run.stderr[-2000:]
    assert run.stderr.strip().splitlines()[-1] == (
        "target-crm2: a line of input cannot be read (invalid UTF-8); kept in quarantine (and 1 more, see the log)")
    view = StoreView(store)
    try:
        assert [(r.stream, r.reason) for r in view.quarantine()] == [
            ("(unreadable input)", "invalid UTF-8"), ("clients", "nested deeper than 64 levels (max_depth)")]
        assert set(view.staged("clients")) == {"1"}
    finally:
        view.close()


@pytest.mark.parametrize(("line", "reason"), [
    (b'{"type": "RECORD", "record": {"a": 1.8e308}}', "number out of range"),
    (b'{"type": "RECORD", "record": {"a": -1e-325}}', "number out of range"),
    (b'{"type": "RECORD", "record": {"a": %d}}' % (int(sys.float_info.max) + 1), "number out of range"),
    (b'{"type": "RECORD", "record": {"a": Infinity}}', "NaN or Infinity is not a JSON number"),
    (b'{"type": "RECORD", "record": {"a": -Infinity}}', "NaN or Infinity is not a JSON number"),
    (b"[" * 2000 + b"]" * 2000, "nested deeper than 64 levels (max_depth)"),
    (b'"just a string"', "line is not a JSON Singer message"),
])
def test_decode_line_reasons(line, reason):
    assert decode_line(line, 64).reason == reason


def test_values_at_the_limits_still_load():
    ok = decode_line(b'{"type": "RECORD", "record": {"a": -1.7976931348623157e+308, "b": 5e-324, "c": 0.0, '
                     b'"e": %d, "d": ' % int(sys.float_info.max) + b"[" * 60 + b"]" * 60 + b"}}", 64)
    assert isinstance(ok, dict) and str(ok["record"]["a"]) == "-1.7976931348623157E+308"


# -- property: arbitrary raw lines between valid records ------------------------------------------

def _nested(depth: int) -> bytes:
    return b'{"type": "RECORD", "stream": "clients", "record": {"id": 77, "x": ' + b"[" * depth + b"]" * depth + b"}}"


hostile_line = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=40).map(lambda b: b'{"type": "RECORD", "stream": "clients", "record": {"id": 5, "name": "'
                               + b + b'"}}'),
    st.integers(1, 3000).map(_nested),
    st.sampled_from([b"1e999999", b"-1e999999", b"1e-999999", b"NaN", b"Infinity", b"1" + b"0" * 400,
                     b'"\\udfff"', b"123456789012345678901234567890"]).map(lambda v: _raw(6, v).rstrip(b"\n")),
    st.integers(4000, 40_000).map(lambda n: _raw(7, b'"' + b"y" * n + b'"').rstrip(b"\n")),
).map(lambda b: b.replace(b"\n", b" "))
lines = st.lists(st.one_of(st.integers(1, 30).map(lambda i: ("ok", i)), hostile_line.map(lambda b: ("raw", b))),
                 min_size=1, max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines)
@example([("raw", b"\xff"), ("ok", 1)])
@example([("raw", _deep(100_000).rstrip(b"\n")), ("ok", 2)])
def test_every_raw_line_is_loaded_or_quarantined(sent):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mapping = write_shop_mapping(folder)
        stdin = _line(schema("clients", CLIENT_PROPERTIES)) + b"".join(
            _record_line(v) if kind == "ok" else v + b"\n" for kind, v in sent)
        target = TargetCrm2(config={"store_url": str(folder / "store.sqlite"), "mapping": str(mapping),
                                    "max_line_bytes": 16384})
        with contextlib.redirect_stdout(io.StringIO()):
            target.process_lines(io.BytesIO(stdin))
            target.process_endofpipe()  # finishing with lines in quarantine is not an exception
        assert target.partial is None or "cannot be read" in target.partial
        expected = sum(1 for kind, v in sent if kind == "ok" or v.strip())
        got = sum(c.received for c in target.loader.counts.values())
        assert got == expected
        for stream, counts in target.loader.counts.items():
            assert counts.problems(stream) == []
        view = StoreView(folder / "store.sqlite")
        try:
            assert len(view.quarantine()) >= sum(c.quarantined for c in target.loader.counts.values())
            assert all(r.reason for r in view.quarantine())
        finally:
            view.close()


# -- streams nobody mapped ---------------------------------------------------------------------------

def _refunds(tmp_path: Path, mapping_text: str) -> tuple[TargetRun, StoreView, Path]:
    mapping = write_shop_mapping(tmp_path)
    mapping.write_text(mapping_text)
    store = tmp_path / "store.sqlite"
    metrics = tmp_path / "metrics.json"
    config = write_config(tmp_path, store_url=store, mapping=mapping)
    stdin = (_line(schema("clients", CLIENT_PROPERTIES)) + _record_line(1)
             + _line(schema("refunds", {"id": {"type": "string"}, "amount": {"type": "string"}}))
             + b"".join(_line({"type": "RECORD", "stream": "refunds", "record": {"id": f"R{i}", "amount": "1.00"}})
                        for i in range(3)))
    proc = subprocess.run([TARGET, "--config", str(config)], input=stdin, capture_output=True, timeout=HANG_GUARD,
                          env={**os.environ, "CRM2_METRICS_FILE": str(metrics)})
    return TargetRun(proc.returncode, proc.stdout.decode(), proc.stderr.decode()), StoreView(store), metrics


def test_a_stream_nobody_mapped_is_kept_counted_and_the_target_exits_3(tmp_path):
    from shop_mapping import SHOP_MAPPING

    run, view, metrics = _refunds(tmp_path, SHOP_MAPPING)
    try:
        assert run.exit_code == 3, run.stderr[-2000:]
        assert run.stderr.strip().splitlines()[-1] == (
            "target-crm2: streams without a mapping: refunds (map them, or list them under 'ignore:' in shop.yml)")
        assert [r.reason for r in view.quarantine() if r.stream == "refunds"] == [
            "stream 'refunds' has no mapping in shop.yml"] * 3
        assert set(view.staged("clients")) == {"1"}
    finally:
        view.close()
    assert run.counts()["refunds"]["quarantined"] == 3
    assert json.loads(metrics.read_text())["unmapped_streams"] == 1  # what the run summary and crm2 runs show


def test_a_stream_listed_under_ignore_is_skipped_counted_and_not_an_error(tmp_path):
    from shop_mapping import SHOP_MAPPING

    run, view, _ = _refunds(tmp_path, SHOP_MAPPING.replace("streams:", "ignore: [refunds]\nstreams:", 1))
    try:
        assert run.exit_code == 0, run.stderr[-2000:]
        assert view.quarantine() == []
    finally:
        view.close()
    assert run.counts()["refunds"] == {"received": 3, "skipped": 3, "quarantined": 0, "plans": {}}


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                HealthCheck.function_scoped_fixture])
@given(sent=lines)
def test_the_real_target_process_ends_in_bounded_time_with_exit_0_or_3(tmp_path_factory, sent):
    folder = tmp_path_factory.mktemp("raw")
    mapping = write_shop_mapping(folder)
    config = write_config(folder, store_url=folder / "store.sqlite", mapping=mapping, max_line_bytes=16384)
    stdin = _line(schema("clients", CLIENT_PROPERTIES)) + b"".join(
        _record_line(v) if kind == "ok" else v + b"\n" for kind, v in sent)
    run = _run_bytes(config, stdin)  # the subprocess timeout is the hang guard
    assert run.exit_code in (0, 3), run.stderr[-2000:]
    counts = run.counts()
    assert sum(c["received"] for c in counts.values()) == sum(1 for kind, v in sent if kind == "ok" or v.strip())
