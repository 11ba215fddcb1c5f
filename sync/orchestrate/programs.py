"""Finding and running the Singer programs (taps and targets) that crm2 orchestrates.

The engine runs connectors as separate processes — real Singer pipes — so it only needs their
console-script names, never their code.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from importlib.metadata import entry_points
from pathlib import Path


def executable(name: str) -> str | None:
    """Path of a console script, preferring the one installed next to this Python."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    return shutil.which(name)


def installed(name: str) -> bool:
    """True when the program exists and, for crm2's own connectors, its code is present."""
    for ep in entry_points(group="console_scripts", name=name):
        module = ep.value.split(":", 1)[0]
        try:
            return importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            return False
    return executable(name) is not None


def is_crm2(name: str) -> bool:
    """True for a program shipped in crm2's own distribution (its taps speak Singer BATCH files
    the way target-crm2 reads them); False for any other program, installed or not."""
    for ep in entry_points(group="console_scripts", name=name):
        dist = getattr(ep, "dist", None)
        return dist is not None and dist.name == "crm2"
    return False
