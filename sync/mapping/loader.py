"""Read a mapping file once: YAML with positions → pydantic spec → compiled, checked mapping."""

from __future__ import annotations

from pathlib import Path

from sync.mapping.compiler import Mapping, compile_mapping
from sync.mapping.spec import MappingSpec
from sync.yamlconf import ConfigError, parse_yaml, validate


def load_mapping_text(text: str, path: str | Path = "<string>") -> Mapping:
    tree = parse_yaml(text, path)
    spec = validate(tree, MappingSpec, path)
    return compile_mapping(spec, tree, path, text)


def load_mapping(path: str | Path) -> Mapping:
    """Load and check a mapping file; raise ConfigError whose problems say file:line:column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError.single(path, "file not found", hint="check the path") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise ConfigError.single(path, f"cannot read mapping file ({type(exc).__name__})") from None
    return load_mapping_text(text, path)
