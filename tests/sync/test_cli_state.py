"""`crm2 state show|set|clear SOURCE` reads and changes the bookmark the next sync resumes from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sync.store import Store


def crm2(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync", *args], capture_output=True, text=True, timeout=120)


def test_show_set_clear(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    saved = {"bookmarks": {"customers": {"replication_key_value": "2026-10-01T00:00:00Z"}}}
    with Store.open(db) as store, store.begin() as conn:
        store.set_bookmark(conn, "finance", saved, None)
    listed = crm2("state", "show", "--store", str(db))
    assert listed.returncode == 0 and listed.stdout.startswith("finance "), listed.stderr
    shown = crm2("state", "show", "finance", "--store", str(db))
    assert json.loads(shown.stdout) == saved

    earlier = {"bookmarks": {"customers": {"replication_key_value": "2026-01-01T00:00:00Z"}}}
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(earlier))
    assert crm2("state", "set", "finance", "--file", str(state_file), "--store", str(db)).returncode == 0
    with Store.open(db) as store:
        assert store.get_bookmark("finance") == earlier
    assert crm2("state", "set", "sales", '{"bookmarks": {}}', "--store", str(db)).returncode == 0

    cleared = crm2("state", "clear", "finance", "--store", str(db))
    assert cleared.returncode == 0 and "from the start" in cleared.stdout
    with Store.open(db) as store:
        assert store.get_bookmark("finance") is None and store.get_bookmark("sales") == {"bookmarks": {}}


def test_mistakes_exit_2_and_change_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    with Store.open(db):
        pass
    assert crm2("state", "show", "nope", "--store", str(db)).returncode == 2
    assert crm2("state", "clear", "nope", "--store", str(db)).returncode == 2
    bad = crm2("state", "set", "finance", "{not json", "--store", str(db))
    assert bad.returncode == 2 and "not JSON" in bad.stderr
    assert crm2("state", "set", "finance", "[1]", "--store", str(db)).returncode == 2
    with Store.open(db) as store:
        assert store.get_bookmark("finance") is None
