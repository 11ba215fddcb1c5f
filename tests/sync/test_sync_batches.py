"""`crm2 sync` hands records from crm2's own taps to target-crm2 as Singer BATCH files, and RECORD
lines from any other tap; either way the store ends the same. Real processes end to end: the
finance tap on a stand-in ledger, tap-jsonfile from PyPI, target-crm2, a SQLite store."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from sync.orchestrate import config, standins
from sync.orchestrate.run import run
from sync.shipped import MAPPINGS
from sync.store import Store

ROOT = Path(__file__).resolve().parents[2]
THIRDPARTY = ROOT / "tests" / "fixtures" / "thirdparty"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> str:
    handle = standins.start("finance", tmp_path_factory.mktemp("ledger"), customers=30, seed=7)
    return str(handle.tap_config["url"])


def _config(folder: Path, data: Path, ledger: str, batch: bool) -> Path:
    path = folder / "pipeline.yml"
    path.write_text(f"""version: 1
store: {{url: store.sqlite}}
batch: {str(batch).lower()}
extractors:
  - name: finance
    tap: tap-crm2-finance
    mapping: {MAPPINGS / "finance.yml"}
    config: {{url: "{ledger}"}}
  - name: members
    tap: tap-jsonfile
    mapping: {THIRDPARTY / "members.yml"}
    config: {{paths: ["{data}/*.json"], stream_name: members}}
checks: {{enabled: false}}
resolve: {{enabled: false}}
enrich: {{enabled: false}}
""")
    return path


def _store(url: str) -> dict:
    with Store.open(url) as store, store.engine.connect() as conn:
        staged = {(r.source_system, r.source_object, r.source_id): (r.data, r.deleted) for r in conn.execute(
            sa.text("select source_system, source_object, source_id, data, deleted from staging"))}
        walk = {(r.source_system, r.source_object, r.source_id): (r.status, r.content_hash) for r in conn.execute(
            sa.text("select source_system, source_object, source_id, status, content_hash from crosswalk"))}
        held = sorted((r.source_object, r.source_id, r.reason) for r in conn.execute(
            sa.text("select source_object, source_id, reason from quarantine")))
    return {"staged": staged, "crosswalk": walk, "quarantine": held}


def _target_log(folder: Path, name: str) -> str:
    found = list(folder.rglob(f"{name}.target.log"))
    assert found, f"no {name}.target.log under {folder}"
    return found[0].read_text()


def test_sync_with_batches_ends_like_sync_with_record_lines(tmp_path, ledger, monkeypatch):
    ends = {}
    data = tmp_path / "data"  # one file for both runs: tap-jsonfile's records name the file they came from
    data.mkdir()
    shutil.copy(THIRDPARTY / "members.json", data / "members.json")
    for batch in (True, False):
        folder = tmp_path / f"batch-{batch}"
        folder.mkdir()
        temp = folder / "tmp"  # the pipes' temporary folders, batch files included, go here
        temp.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(temp))
        loaded = config.load(_config(folder, data, ledger, batch))
        url = loaded.pipeline.store.resolved_url(loaded.base)
        with Store.open(url) as store:
            outcome = run(loaded, store, url, log_dir=folder / "logs")
        assert [s.status for s in outcome.stages if s.name.startswith("extract")] == ["ok", "ok"], outcome.stages
        ends[batch] = _store(url)
        assert list(temp.iterdir()) == []  # nothing left behind: batch files went with their pipe
        finance, members = _target_log(folder, "finance"), _target_log(folder, "members")
        # crm2's tap sends BATCH files only when asked; the third-party tap always sends lines
        assert (" 0 records, 4 batch manifests" in finance) is batch, finance[-2000:]
        assert " 0 batch manifests" in members and " 0 records" not in members
    assert ends[True]["staged"], "nothing staged"
    assert ends[True] == ends[False]


def test_the_progress_count_adds_batch_records_once_wherever_the_chunks_are_cut():
    import io

    from sync.orchestrate.pipe import _relay

    stream = (b'{"type":"RECORD","stream":"a","record":{}}\n' * 3
              + b'{"type":"BATCH","stream":"a","manifest":["file:///x"],"crm2_records":10000}\n'
              + b'{"type":"STATE","value":{}}\n'
              + b'{"type":"BATCH","stream":"b","manifest":["file:///y"],"crm2_records":7}\n')

    class Chunks(io.RawIOBase):
        def __init__(self, data: bytes, size: int) -> None:
            self.data, self.size = data, size

        def read(self, n: int = -1) -> bytes:
            piece, self.data = self.data[:self.size], self.data[self.size:]
            return piece

    for size in range(1, 40):
        heard: list[int] = []
        _relay(Chunks(stream, size), io.BytesIO(), heard.append)  # type: ignore[arg-type]
        assert heard[-1] == 3 + 10_000 + 7, size
