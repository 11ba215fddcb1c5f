"""JSON Schema for mapping files, generated from the pydantic models, so editors autocomplete
stream keys, transform names and entities and flag typos as you type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sync.mapping.entities import TYPES
from sync.mapping.spec import MappingSpec
from sync.mapping.transforms import TRANSFORMS
from sync.model import ENTITIES
from sync.shipped import MAPPINGS

SCHEMA_PATH = MAPPINGS / "mapping.schema.json"


def json_schema() -> dict[str, Any]:
    schema = MappingSpec.model_json_schema(by_alias=True)
    defs = schema["$defs"]
    names = sorted(TRANSFORMS)
    by_name, with_params = defs["FieldSpec"]["properties"]["transform"]["items"]["anyOf"]
    by_name["enum"] = names
    with_params["propertyNames"] = {"enum": names}
    by_name["description"] = "; ".join(f"{n}: {TRANSFORMS[n].doc}" for n in names)
    # crm2's own entities are suggested; a name the file declares under 'entities:' is valid too
    defs["StreamSpec"]["properties"]["entity"]["examples"] = list(ENTITIES)
    defs["EntityDecl"]["properties"]["fields"]["additionalProperties"] = {"anyOf": [
        {"enum": sorted(TYPES), "description": "field type"}, {"$ref": "#/$defs/DeclaredField"}]}
    defs["DeclaredField"]["properties"]["type"]["enum"] = sorted(TYPES)
    # the shorthands pydantic cannot see: a string is a source field, other scalars are constants
    field = {"anyOf": [{"type": "string", "description": "source field (shorthand for {from: ...})"},
                       {"type": ["number", "integer", "boolean", "null"], "description": "constant"},
                       {"$ref": "#/$defs/FieldSpec"}]}
    stream = defs["StreamSpec"]["properties"]
    stream["fields"]["additionalProperties"] = field
    stream["deleted_when"]["anyOf"][0] = field
    defs["FieldSpec"]["properties"]["ref"]["anyOf"][0]["examples"] = list(ENTITIES)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "crm2 mapping file",
            **{k: v for k, v in schema.items() if k != "title"}}


def render() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_json_schema(path: str | Path = SCHEMA_PATH) -> Path:
    """Write the schema (the file shipped mappings point at with yaml-language-server)."""
    path = Path(path)
    path.write_text(render(), encoding="utf-8")
    return path
