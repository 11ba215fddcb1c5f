"""Peer programs the benchmarks run beside crm2's, each in a virtualenv of its own.

A peer pins its own dependencies (target-jsonl wants singer-python's old jsonschema, among
others), which would break crm2's environment, so each lives under bench/out/peers/<program>,
created with pip on first use.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PEERS = Path(__file__).resolve().parent / "out" / "peers"


def peer(program: str, requirement: str) -> Path | None:
    """The ``program`` installed from ``requirement`` in its own virtualenv (created once); None
    when it cannot be installed (no package index reachable, say)."""
    venv = PEERS / program
    exe = venv / "bin" / program
    if not exe.exists():
        print(f"installing {requirement} into bench/out/peers/{program} (once) ...", flush=True)
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True)
        if made.returncode == 0:
            subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", requirement],
                           capture_output=True)
    return exe if exe.exists() else None
