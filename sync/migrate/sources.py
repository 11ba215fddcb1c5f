"""The sources a migration works on: extractors of a pipeline config, each with its mapping and tap.

A migration is configured by the same pipeline config as ``crm2 sync``; ``--source NAME``
narrows it to one extractor (or a few). An unknown name is a usage error (exit 2) with a hint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sync.mapping import Mapping as SourceMapping
from sync.mapping import load_mapping
from sync.mapping.compiler import CompiledStream
from sync.migrate.singer_reader import Tap
from sync.orchestrate.config import Extractor, LoadedConfig
from sync.yamlconf import ConfigError, did_you_mean


@dataclass
class Source:
    """One source system to migrate: its extractor, loaded mapping and tap."""

    extractor: Extractor
    mapping: SourceMapping
    tap: Tap

    @property
    def name(self) -> str:
        return self.extractor.name

    def plans(self, stream: str) -> list[CompiledStream]:
        """The mapping entries that read Singer stream ``stream`` (none: the stream is not mapped)."""
        return self.mapping.plans_for(stream)


def select(loaded: LoadedConfig, names: Sequence[str] = ()) -> list[Extractor]:
    """The extractors named (all enabled ones when none are); ConfigError for an unknown name."""
    extractors = loaded.pipeline.extractors
    if not names:
        return [ex for ex in extractors if ex.enabled]
    known = {ex.name: ex for ex in extractors}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError.single(loaded.path, f"no extractor named '{unknown[0]}' in this config",
                                 hint=did_you_mean(unknown[0], list(known)))
    return [known[n] for n in dict.fromkeys(names)]


def open_sources(loaded: LoadedConfig, names: Sequence[str] = (), *, env: Mapping[str, str] | None = None,
                 log_dir: Path | None = None) -> list[Source]:
    """Load the mapping of each selected extractor (ConfigError with file:line:column if bad)."""
    found = []
    for ex in select(loaded, names):
        mapping = load_mapping(loaded.resolve_path(ex.mapping))
        found.append(Source(ex, mapping, Tap(ex.name, ex.tap, ex.config, env=env, log_dir=log_dir)))
    return found
