"""`crm2 sandbox sales` is usable by hand: its token is saved (never printed), the printed tap
config works with it, and `--port` plus the saved token keep that config valid across restarts."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

CRM2 = [sys.executable, "-m", "sync"]


def _free_port() -> int:
    # an ephemeral port picked by the OS, handed to the sandbox (never a fixed number)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(workdir: Path, *extra: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen([*CRM2, "sandbox", "sales", "--workdir", str(workdir), "--customers", "5", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(3)]
    return proc, lines


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)


def _env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def _get(url: str, token: str | None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_sales_sandbox_saves_its_token_and_keeps_its_port(tmp_path: Path) -> None:
    port = _free_port()
    proc, lines = _start(tmp_path, "--port", str(port))
    try:
        env_file = tmp_path / "sales.env"
        assert f"CRM2_SALES_TOKEN is in {env_file}" in lines[0], lines
        config = json.loads(lines[1].removeprefix("tap config: "))
        assert config["base_url"] == f"http://127.0.0.1:{port}"
        assert config["auth"] == {"type": "bearer", "token_env": "CRM2_SALES_TOKEN"}
        token = _env(env_file)["CRM2_SALES_TOKEN"]
        assert token not in "".join(lines), "the token is saved, never printed"
        assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600
        assert _get(config["base_url"] + "/api/v1/accounts", token) == 200
        assert _get(config["base_url"] + "/api/v1/accounts", None) == 401
    finally:
        _stop(proc)
    proc, lines = _start(tmp_path, "--port", str(port))
    try:
        assert json.loads(lines[1].removeprefix("tap config: ")) == config
        assert _get(config["base_url"] + "/api/v1/accounts", token) == 200, "same config after a restart"
    finally:
        _stop(proc)


def test_each_sandbox_has_its_own_help() -> None:
    result = subprocess.run([*CRM2, "sandbox", "sales", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "sales.env" in result.stdout and "--port" in result.stdout
    result = subprocess.run([*CRM2, "sandbox", "finance", "--help"], capture_output=True, text=True, timeout=60)
    assert "finance.sqlite" in result.stdout and "--port INTEGER" not in result.stdout
