"""Third-party Singer taps that cannot share crm2's virtualenv, each in a cached one of its own.

singer-io's tap-salesforce 2.8.1 pins singer-python 6, which pins jsonschema 2.6 and other old
libraries that conflict with singer-sdk, so it cannot go into the ``test`` extra. Its own
virtualenv is built once under ``.cache/thirdparty/`` in the project (``python -m venv`` + ``pip
install``), marked complete only after the install succeeded, and reused by every later run.
``.ci/run`` builds it ahead of the tests by running this file; a test that needs it and finds
it cannot be built (no package index reachable) skips with the reason.

    python tests/thirdparty_venvs.py        # build (or confirm) every cached tap virtualenv
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "thirdparty"
TAPS = {"tap-salesforce": "2.8.1"}
"""Distribution -> pinned version; the console script has the distribution's name."""


class VenvUnavailable(RuntimeError):
    """The virtualenv could not be built; the message says why (the pip output's last lines)."""


def tap_executable(name: str, *, python: str | None = None) -> Path:
    """The tap's console script in its cached virtualenv, building the virtualenv on first use."""
    version = TAPS[name]
    venv = CACHE / f"{name}-{version}"
    script = venv / "bin" / name
    marker = venv / ".complete"
    if marker.exists() and script.exists():
        return script
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs must not build into one folder at once
        if marker.exists() and script.exists():
            return script
        shutil.rmtree(venv, ignore_errors=True)  # a half-built one from an interrupted run
        base = python or getattr(sys, "_base_executable", None) or sys.executable
        steps = [[base, "-m", "venv", str(venv)],
                 [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                  f"{name}=={version}"]]
        for step in steps:
            proc = subprocess.run(step, capture_output=True, text=True, timeout=900)
            if proc.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
                raise VenvUnavailable(f"could not install {name}=={version} into its own virtualenv: {tail}")
        marker.write_text(f"{name}=={version}\n")
    return script


def main() -> int:
    failed = 0
    for name in TAPS:
        try:
            print(f"{name}: {tap_executable(name)}")
        except VenvUnavailable as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
