"""Check a mapping against a tap's Singer catalog (its ``--discover`` output) before any run.

Errors: a mapped stream the tap does not have, a source field the stream does not have (with
a suggestion), a required target field nothing fills. Also listed, not errors: source fields
the mapping does not read and streams it does not map — usually fine, sometimes a forgotten field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sync.mapping.compiler import CompiledField, CompiledStream, Mapping
from sync.yamlconf import Problem, did_you_mean


@dataclass
class Report:
    errors: list[Problem] = field(default_factory=list)
    unmapped_fields: dict[str, list[str]] = field(default_factory=dict)
    """Stream → source fields in the catalog that no mapping field reads."""
    unmapped_streams: list[str] = field(default_factory=list)
    """Catalog streams the mapping does not mention."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        out = [str(p) for p in self.errors]
        out += [f"unmapped fields in {s}: {', '.join(f)}" for s, f in self.unmapped_fields.items() if f]
        if self.unmapped_streams:
            out.append("streams not mapped: " + ", ".join(self.unmapped_streams))
        return out


def catalog_streams(catalog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Stream name → its JSON schema, from a Singer catalog."""
    streams = {}
    for entry in catalog.get("streams") or []:
        name = entry.get("tap_stream_id") or entry.get("stream")
        if name:
            streams[str(name)] = entry.get("schema") or {}
    return streams


def _has_path(schema: dict[str, Any], path: Sequence[str]) -> tuple[bool, list[str]]:
    """Whether ``path`` exists in ``schema``; on a miss, the names available at that level."""
    current = schema
    for part in path:
        props = current.get("properties")
        if props is None:
            return True, []  # a free-form object: anything may be inside
        if part not in props:
            return False, list(props)
        current = props[part] or {}
    return True, []


class _Checker:
    def __init__(self, mapping: Mapping, report: Report) -> None:
        self.mapping, self.report = mapping, report

    def error(self, loc: list[str | int], message: str, hint: str | None = None, at_key: bool = False) -> None:
        line, col = self.mapping.position(loc, at_key=at_key)
        self.report.errors.append(Problem(str(self.mapping.path), line, col, message, hint))

    def source_of(self, entry: str) -> str:
        return self.mapping.streams[entry].source_stream

    def path(self, stream: str, schema: dict[str, Any], raw: str, loc: list[str | int]) -> None:
        if raw in (schema.get("properties") or {}):
            return
        found, choices = _has_path(schema, raw.split("."))
        if not found:
            self.error(loc, f"stream '{self.source_of(stream)}' has no field '{raw}'",
                       did_you_mean(raw.split(".")[-1], choices) if choices else None)

    def shorthand(self, stream: str, schema: dict[str, Any], raw: str, loc: list[str | int]) -> None:
        """``currency: USD`` reads field 'USD'; when there is none, the author most likely meant
        the text itself, so say how to write a constant."""
        if raw in (schema.get("properties") or {}) or _has_path(schema, raw.split("."))[0]:
            return
        choices = _has_path(schema, raw.split("."))[1]
        close = did_you_mean(raw.split(".")[-1], choices) if choices else None
        const = f"a plain string names a source field; for the text '{raw}' itself write {{const: {raw}}}"
        hint = f"{close[:-1]}, or {const[0].lower()}{const[1:]}" if close and close.startswith("did") else const
        self.error(loc, f"stream '{self.source_of(stream)}' has no field '{raw}'", hint)

    def field(self, stream: str, schema: dict[str, Any], spec: CompiledField, loc: list[str | int]) -> None:
        if spec.raw_path and not _is_block(self.mapping, loc):
            self.shorthand(stream, schema, spec.raw_path, loc)
        elif spec.raw_path:
            self.path(stream, schema, spec.raw_path, [*loc, "from"])
        for i, (_, params) in enumerate(spec.steps):
            for name, param in params.items():
                if param.raw_path:
                    self.path(stream, schema, param.raw_path, [*loc, "default_region"]
                              if name == "default_region" else [*loc, "transform", i])
        if spec.expr:
            for name in spec.expr.names:
                self.path(stream, schema, name, [*loc, "expr"])

    def stream(self, name: str, compiled: CompiledStream, schema: dict[str, Any]) -> None:
        loc: list[str | int] = ["streams", name]
        for i, (raw, _) in enumerate(compiled.key):
            self.path(name, schema, raw, [*loc, "key", i] if len(compiled.key) > 1 else [*loc, "key"])
        if compiled.deleted_when:
            self.field(name, schema, compiled.deleted_when, [*loc, "deleted_when"])
        for spec in compiled.fields:
            self.field(name, schema, spec, [*loc, "fields", spec.target])
        mapped = {f.target.split(".")[0] for f in compiled.fields}
        for target, info in compiled.entity.model_fields.items():
            if target != "source" and info.is_required() and target not in mapped:
                self.error([*loc, "fields"], f"required field '{target}' of {compiled.entity.entity} is not mapped",
                           at_key=True)
        read = {k for k, _ in compiled.key}
        for spec in [*compiled.fields, *([compiled.deleted_when] if compiled.deleted_when else [])]:
            read.update(p.split(".")[0] for p in spec.source_fields())
        self.report.unmapped_fields[name] = [p for p in (schema.get("properties") or {}) if p not in read]


def _is_block(mapping: Mapping, loc: list[str | int]) -> bool:
    """Whether the field at ``loc`` is written as {from: ...} rather than the string shorthand."""
    node: Any = mapping.tree
    for part in loc:
        node = node[part]
    return isinstance(node, dict)


def check_against_catalog(mapping: Mapping, catalog: dict[str, Any]) -> Report:
    """Compare ``mapping`` with a Singer catalog; see :class:`Report`."""
    report = Report()
    streams = catalog_streams(catalog)
    checker = _Checker(mapping, report)
    for name, compiled in mapping.streams.items():
        source = compiled.source_stream
        if source not in streams:
            loc: list[str | int] = ["streams", name, "stream"] if source != name else ["streams", name]
            checker.error(loc, f"the tap has no stream '{source}'", did_you_mean(source, list(streams)),
                          at_key=source == name)
            continue
        checker.stream(name, compiled, streams[source])
    read = {c.source_stream for c in mapping.streams.values()}
    report.unmapped_streams = [s for s in streams if s not in read]
    return report
