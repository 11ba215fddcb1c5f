"""Files that ship with crm2: default mappings and rule files, found next to the engine."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = PROJECT_ROOT / "mappings"
CONFIG = PROJECT_ROOT / "config"

DEFAULT_RULES = {
    "checks": CONFIG / "checks.yml",
    "resolve": CONFIG / "match.yml",
    "enrich": CONFIG / "scoring.yml",
}
