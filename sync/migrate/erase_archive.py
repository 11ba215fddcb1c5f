"""Erasure inside an archive written by ``crm2 migrate archive``.

The raw records of erased people are found by the key their mapping entries give them (the same
:func:`~sync.mapping.applier.source_key` target-crm2 used; the tap's key properties for a stream
no mapping reads): ``anonymise`` replaces the policy's raw fields for that stream with tokens,
``delete`` drops the row. Every other row loses the people's e-mail addresses and phone numbers
wherever they appear. The crosswalk file marks deleted records ``erased``. Only files that
change are rewritten; their rows, bytes and SHA-256 are updated in the manifest, which also gets
an erasure entry naming the records by reference (never by value).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.mapping import Mapping as SourceMapping
from sync.mapping.applier import read_path, source_key
from sync.migrate.archive_files import FileEntry, Manifest, read_rows, rewrite
from sync.migrate.refs import Ref
from sync.migrate.retention import Action, RetentionPolicy
from sync.migrate.scrub import PersonalValues, replace_fields, scrub

Records = Mapping[Ref, Action]


def open_archive(folder: Path) -> ArchiveEraser:
    """An archive to erase in (ArchiveError when the folder is not one)."""
    return ArchiveEraser(folder, Manifest.load(folder))


class ArchiveEraser:
    def __init__(self, folder: Path, manifest: Manifest) -> None:
        self.folder, self.manifest = folder, manifest

    def _action(self, entry: FileEntry, row: Any, records: Records,
                mappings: Mapping[str, SourceMapping]) -> Action | None:
        system, stream = entry.source, entry.stream or ""
        mapping = mappings.get(system)
        plans = mapping.plans_for(stream) if mapping else []
        found: Action | None = None
        for plan in plans:
            sid = source_key(plan, row)
            action = records.get(Ref(system, plan.name, sid)) if sid is not None else None
            if action is not None:
                found = "delete" if "delete" in (found, action) else action
        if not plans and isinstance(row, dict):
            keys = (self.manifest.sources.get(system, {}).get("streams", {}).get(stream, {})
                    .get("key_properties") or [])
            if keys and all(row.get(k) is not None for k in keys):
                found = records.get(Ref(system, stream, ":".join(str(row[k]) for k in keys)))
        return found

    def collect(self, records: Records, values: PersonalValues, policy: RetentionPolicy,
                mappings: Mapping[str, SourceMapping]) -> None:
        """Add the raw personal fields of the erased people's archived records to ``values``."""
        systems = {r.system for r in records}
        for entry in self.manifest.files:
            fields = policy.source_fields(entry.source, entry.stream or "")
            if entry.kind != "records" or entry.source not in systems or not fields:
                continue
            for row in read_rows(self.folder, entry):
                if self._action(entry, row, records, mappings) is None:
                    continue
                found = {path: read_path(row, tuple(path.split(".")), path) for path in fields}
                for path, value in found.items():
                    values.add(value)
                    if "name" in path.lower() and isinstance(value, str):
                        values.add_name(value)
                first = [v for p, v in found.items() if "first" in p.lower()]
                last = [v for p, v in found.items() if "last" in p.lower()]
                if first and last:
                    values.add_name(first[0], last[0])

    def _rows(self, entry: FileEntry, records: Records, values: PersonalValues, policy: RetentionPolicy,
              mappings: Mapping[str, SourceMapping], token: Callable[[Any], str],
              ) -> Iterator[tuple[dict[str, Any] | None, bool]]:
        """(new row or None to drop it, changed) for every row of ``entry``."""

        def scoped(text: str) -> bool:
            return values.matches(text, scoped=True)

        def anywhere(text: str) -> bool:
            return values.matches(text, scoped=False)

        for row in read_rows(self.folder, entry):
            if entry.kind == "crosswalk":
                ref = Ref(str(row.get("source_system")), str(row.get("source_object")),
                               str(row.get("source_id")))
                if records.get(ref) == "delete" and row.get("status") != "erased":
                    yield {**row, "status": "erased", "golden_id": None}, True
                else:
                    yield row, False
                continue
            action = self._action(entry, row, records, mappings)
            if action == "delete":
                yield None, True
            elif action == "anonymise":
                new = copy.deepcopy(row)
                own = replace_fields(new, policy.source_fields(entry.source, entry.stream or ""), token)
                new, did = scrub(new, scoped, token)
                yield new, own or did
            else:
                new, did = scrub(row, anywhere, token)
                yield new, did

    def erase(self, records: Records, values: PersonalValues, policy: RetentionPolicy,
              mappings: Mapping[str, SourceMapping], token: Callable[[Any], str], *, apply: bool,
              run_id: str | None) -> list[str]:
        """Rewrite the files that hold the people's data (only when ``apply``); their paths."""
        changed: list[str] = []
        for entry in self.manifest.files:
            if not any(did for _, did in self._rows(entry, records, values, policy, mappings, token)):
                continue
            changed.append(entry.path)
            if apply:
                kept = (row for row, _ in self._rows(entry, records, values, policy, mappings, token)
                        if row is not None)
                rewrite(self.folder, entry, kept)
        if apply:
            self.manifest.erasures.append({
                "at": datetime.now(UTC).isoformat(timespec="seconds"), "run_id": run_id,
                "records": sorted(f"{r.system}/{r.object}/{r.id}" for r in records),
                "actions": sorted(set(records.values())), "files": changed})
            self.manifest.save(self.folder)
        return changed
