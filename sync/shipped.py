"""Files that ship with crm2: default mappings and rule files, read from the installed package."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path


def _shipped(folder: str) -> Path:
    # The package is installed as files (not zipped), so the resource is a real folder for good.
    with as_file(files("sync.defaults") / folder) as path:
        return Path(path)


MAPPINGS = _shipped("mappings")
CONFIG = _shipped("config")

DEFAULT_RULES = {
    "checks": CONFIG / "checks.yml",
    "resolve": CONFIG / "match.yml",
    "enrich": CONFIG / "scoring.yml",
}
