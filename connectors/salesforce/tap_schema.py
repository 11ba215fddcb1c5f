"""Salesforce describe -> JSON Schema, and typing of REST (JSON) and Bulk 2.0 (CSV) values to it.

Choices, so every consumer sees one shape whichever API delivered the row:

* ``currency`` is a JSON **string** with ``format: singer.decimal`` (e.g. ``"1234.50"``): REST
  JSON is parsed with Decimal and Bulk CSV is already text, so amounts never pass through float.
* ``double`` / ``percent`` are JSON numbers; ``int`` is integer; ``boolean`` boolean.
* ``datetime`` is normalised to UTC ``YYYY-MM-DDTHH:MM:SS.fffZ`` (fixed width, so string order is
  time order); ``date`` stays ``YYYY-MM-DD``; ``time`` keeps Salesforce's text.
* Compound ``address`` / ``location`` fields are skipped: their components are fields of their
  own, and Bulk 2.0 cannot return compound fields.
* Bulk 2.0 CSV cannot tell null from empty text; an empty cell is null.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, cast

Kind = Literal["string", "boolean", "integer", "number", "decimal", "date", "datetime", "time"]

_KIND_BY_SF_TYPE: dict[str, Kind] = {
    "boolean": "boolean",
    "int": "integer",
    "long": "integer",
    "double": "number",
    "percent": "number",
    "currency": "decimal",
    "date": "date",
    "datetime": "datetime",
    "time": "time",
}
_SKIPPED_SF_TYPES = frozenset({"address", "location", "base64"})


def field_kind(sf_type: str) -> Kind | None:
    """Our value kind for a describe ``type``; None for fields we do not extract."""
    if sf_type in _SKIPPED_SF_TYPES:
        return None
    return _KIND_BY_SF_TYPE.get(sf_type, "string")


def kind_jsonschema(kind: Kind, *, nullable: bool = True) -> dict[str, Any]:
    base: dict[str, Any]
    if kind == "decimal":
        base = {"type": "string", "format": "singer.decimal"}
    elif kind == "date":
        base = {"type": "string", "format": "date"}
    elif kind == "datetime":
        base = {"type": "string", "format": "date-time"}
    elif kind == "time":
        base = {"type": "string", "format": "time"}
    else:
        base = {"type": kind}
    if nullable:
        base["type"] = [base["type"], "null"]
    return base


def schema_from_describe(describe: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Kind]]:
    """The stream's JSON Schema and each kept field's value kind, in describe's field order."""
    properties: dict[str, Any] = {}
    kinds: dict[str, Kind] = {}
    for field in describe.get("fields", []):
        name, sf_type = field["name"], field.get("type", "string")
        kind = field_kind(sf_type)
        if kind is None:
            continue
        kinds[name] = kind
        # Only Id is guaranteed: field-level security and deleted rows can blank anything else.
        properties[name] = kind_jsonschema(kind, nullable=name != "Id")
    return {"type": "object", "properties": properties}, kinds


def kinds_from_schema(schema: Mapping[str, Any]) -> dict[str, Kind]:
    """Recover value kinds from a catalog schema, so a run with a catalog needs no describe call."""
    kinds: dict[str, Kind] = {}
    for name, prop in schema.get("properties", {}).items():
        types = prop.get("type", "string")
        types = [t for t in (types if isinstance(types, list) else [types]) if t != "null"]
        json_type: str = types[0] if types else "string"
        fmt = prop.get("format")
        if fmt == "singer.decimal":
            kinds[name] = "decimal"
        elif json_type == "string" and fmt in ("date", "time"):
            kinds[name] = cast(Kind, fmt)
        elif json_type == "string" and fmt == "date-time":
            kinds[name] = "datetime"
        elif json_type in ("boolean", "integer", "number"):
            kinds[name] = cast(Kind, json_type)
        else:
            kinds[name] = "string"
    return kinds


def normalize_datetime(value: str) -> str:
    """Any ISO 8601 form Salesforce uses (``+0000``, ``Z``, with or without millis) -> ``...fffZ`` UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


def soql_datetime(value: str | datetime) -> str:
    """A SOQL datetime literal (unquoted); milliseconds only when present."""
    normalized = normalize_datetime(value.isoformat() if isinstance(value, datetime) else value)
    return normalized.replace(".000Z", "Z")


def coerce(value: Any, kind: Kind) -> Any:
    """One REST or Bulk value to its JSON Schema kind."""
    if value is None or value == "":
        return None
    if kind == "string":
        return value if isinstance(value, str) else str(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "integer":
        return int(Decimal(str(value)))
    if kind == "number":
        return float(value)
    if kind == "decimal":
        return format(value if isinstance(value, Decimal) else Decimal(str(value)), "f")
    if kind == "datetime":
        return normalize_datetime(str(value))
    return str(value)


def coerce_record(raw: Mapping[str, Any], kinds: Mapping[str, Kind]) -> dict[str, Any]:
    """A typed record holding exactly the fields we know kinds for (relationship blobs dropped)."""
    return {name: coerce(raw[name], kinds[name]) for name in raw if name in kinds}
