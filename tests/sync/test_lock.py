"""Two runs on one store never overlap; a killed run leaves no stale lock."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

HOLDER = textwrap.dedent("""
    import sys, time
    from sync.orchestrate.lock import run_lock
    with run_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(120)
""")


def _hold(url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def _sync(config) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync", "sync", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("fresh_postgres_db")


def test_second_run_exits_with_lock_message_and_killed_holder_frees_it(tmp_path, store_url):
    config = tmp_path / "pipeline.yml"
    config.write_text(f"version: 1\nstore:\n  url: {store_url}\n")
    holder = _hold(store_url)
    try:
        blocked = _sync(config)
        assert blocked.returncode == 1
        assert "another crm2 run is using this store" in blocked.stderr
        assert "Traceback" not in blocked.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    after = _sync(config)
    assert after.returncode == 0, after.stderr
