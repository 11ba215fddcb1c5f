"""One owner for the crosswalk: no module but sync/store/crosswalk.py writes the crosswalk table.

The promise "every source record is loaded, merged, quarantined, deleted or erased" lives in the
crosswalk's status; a second writer is how a status nobody documented (or a lost record) creeps
in. The check reads the code: every name bound to the crosswalk table (imported, or assigned as
in ``c = crosswalk`` / ``q, c = quarantine, crosswalk``) and every insert/update/delete on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sync.store.crosswalk import Status

ROOT = Path(__file__).resolve().parents[2]
OWNER = ROOT / "sync" / "store" / "crosswalk.py"
WRITES = {"insert", "update", "delete"}


def _aliases(tree: ast.AST) -> set[str]:
    names = {"crosswalk"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets = [t for t in node.targets]
            values = [node.value]
            if isinstance(node.value, ast.Tuple) and len(targets) == 1 and isinstance(targets[0], ast.Tuple):
                targets, values = list(targets[0].elts), list(node.value.elts)
            for target, value in zip(targets, values, strict=False):
                if isinstance(target, ast.Name) and isinstance(value, ast.Name) and value.id in names:
                    names.add(target.id)
    return names


def _writes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if "crosswalk" not in path.read_text(encoding="utf-8"):
        return []
    names = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        # crosswalk.insert() / c.update() / crosswalk.delete()
        if (isinstance(func, ast.Attribute) and func.attr in WRITES and isinstance(func.value, ast.Name)
                and func.value.id in names):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        # sa.insert(crosswalk) / sa.update(c) / sa.delete(crosswalk)
        if (isinstance(func, ast.Attribute) and func.attr in WRITES and node.args
                and isinstance(node.args[0], ast.Name) and node.args[0].id in names):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_only_the_crosswalk_module_writes_the_crosswalk():
    offenders = []
    for folder in ("sync", "connectors"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == OWNER or "migrations" in path.parts:
                continue
            offenders += _writes(path)
    assert offenders == [], "write the crosswalk through sync/store/crosswalk.py: " + ", ".join(offenders)


def test_the_check_sees_a_write():
    sample = ROOT / "sync" / "store" / "crosswalk.py"
    assert _writes(sample), "the owner itself writes the table: the check must see it"


def test_the_readme_lists_every_status():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    concepts = readme[readme.index("**Crosswalk**"):readme.index("**Golden record**")]
    for status in Status:
        assert status.value in concepts, status
