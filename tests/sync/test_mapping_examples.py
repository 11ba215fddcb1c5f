"""The examples: blocks of every shipped mapping, one pytest test per example.

A data team adds an example to mappings/<source>.yml and it runs here (and in `crm2 mapping
test`) with no Python to write; the test id names the file, the stream and the example.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.cli.mapping import source_mapping_files
from sync.mapping import load_mapping, run_examples
from sync.yamlconf import ConfigError

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


def _examples() -> list[pytest.param]:
    params = []
    for path in source_mapping_files(MAPPINGS):
        try:
            mapping = load_mapping(path)
        except ConfigError as exc:
            params.append(pytest.param(path, None, 0, str(exc), id=f"{path.stem}:invalid"))
            continue
        for stream, spec in mapping.spec.streams.items():
            for i, example in enumerate(spec.examples):
                label = f"{path.stem}:{stream}[{i}]" + (f" {example.description}" if example.description else "")
                params.append(pytest.param(path, stream, i, None, id=label))
    return params


EXAMPLES = _examples()


def test_every_shipped_mapping_has_examples():
    files = {p.values[0] for p in EXAMPLES}
    assert files == set(source_mapping_files(MAPPINGS)) and len(files) >= 3


@pytest.mark.parametrize(("path", "stream", "index", "load_error"), EXAMPLES)
def test_mapping_example(path: Path, stream: str | None, index: int, load_error: str | None) -> None:
    assert load_error is None, load_error
    results = [r for r in run_examples(load_mapping(path)) if r.stream == stream and r.index == index]
    assert len(results) == 1
    assert results[0].ok, str(results[0])
