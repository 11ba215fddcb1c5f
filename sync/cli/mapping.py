"""`crm2 mapping test` and `crm2 mapping check`, and the mapping checks `crm2 validate` runs.

``crm2 mapping test [FILES...]`` runs the ``examples:`` blocks of mapping files (default
``mappings/*.yml``) and prints one line per example, with what differed when it fails.
``crm2 mapping check FILE --catalog CATALOG`` compares one mapping with a tap's catalog.
``crm2 validate --config FILE`` calls :func:`check_pipeline_mappings`: every extractor's mapping
is loaded (errors as ``file:line:column: message (hint)``) and, where the tap is installed and
the secrets its config names are set, checked against the catalog its ``--discover`` prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from sync.cli.common import handled
from sync.exitcodes import ExitCode
from sync.mapping import Report, check_against_catalog, load_mapping, run_examples
from sync.orchestrate import programs
from sync.orchestrate.config import LoadedConfig
from sync.redaction import redact
from sync.yamlconf import ConfigError, Problem, parse_yaml

DISCOVERY_TIMEOUT = 300.0


@click.group()
def mapping() -> None:
    """Test and check YAML mappings (mappings/<source>.yml)."""


@mapping.command("test", epilog="""
\b
Exit codes:
  0  every example passed
  1  some example failed
  2  a mapping file is invalid (its problems are printed as file:line:column: message)
""")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@handled
def test_examples(files: tuple[Path, ...]) -> None:
    """Run the examples: blocks of mapping files (default: mappings/*.yml).

    Each example maps its input record and compares the result with what it expects; one line
    per example, with every field that differed.
    """
    paths = list(files) or source_mapping_files(Path("mappings"))
    if not paths:
        raise click.UsageError("no mapping files given and none found in mappings/")
    passed = failed = 0
    invalid = False
    for path in paths:
        try:
            loaded = load_mapping(path)
        except ConfigError as exc:
            invalid = True
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            continue
        for result in run_examples(loaded):
            click.echo(str(result) if result.ok else f"{result}".replace(f": example {result.name}: ",
                                                                        f": example {result.name}: FAILED: ", 1))
            passed, failed = passed + result.ok, failed + (not result.ok)
    click.echo(f"{passed} passed, {failed} failed")
    if invalid:
        sys.exit(ExitCode.CONFIG)
    sys.exit(ExitCode.FAILED if failed else ExitCode.OK)


@mapping.command("check", epilog="""
\b
Exit codes:
  0  the mapping fits the catalog (unmapped fields are listed, not errors)
  2  the mapping or the catalog is invalid, or they do not fit
""")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--catalog", "catalog_path", required=True, type=click.Path(path_type=Path),
              help="The tap's catalog: the JSON its --discover prints.")
@handled
def check(file: Path, catalog_path: Path) -> None:
    """Check a mapping against a tap's catalog: unknown source fields, unmapped required fields.

    Source fields the mapping does not read, and streams it does not map, are listed.
    """
    loaded = load_mapping(file)
    report = check_against_catalog(loaded, read_catalog(catalog_path))
    _print_report(report, file.name)
    if not report.ok:
        raise ConfigError(report.errors)
    click.echo(f"{file}: fits the catalog")


def source_mapping_files(folder: Path) -> list[Path]:
    """The source mappings in ``folder``: its YAML files, minus other kinds kept beside them (the
    writeback mapping has neither ``source`` nor ``streams``)."""
    found = []
    for path in sorted(folder.glob("*.yml")):
        try:
            tree = parse_yaml(path.read_text(encoding="utf-8"), path)
        except (ConfigError, OSError, UnicodeDecodeError):
            tree = None  # unreadable: keep it, so its problems are reported
        if not isinstance(tree, dict) or "streams" in tree or "source" in tree:
            found.append(path)
    return found


def read_catalog(path: Path) -> dict[str, Any]:
    try:
        catalog = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError.single(path, "file not found", hint="check the path") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError.single(path, f"not a Singer catalog ({type(exc).__name__})") from None
    if not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list):
        raise ConfigError.single(path, "not a Singer catalog (no 'streams' list)")
    return catalog


def _print_report(report: Report, label: str, echo: Callable[[str], None] | None = None) -> None:
    out = echo or (lambda line: click.echo(line, err=True))
    for line in report.lines()[len(report.errors):]:
        out(f"{label}: {line}")


def _env_names(config: Any) -> Iterator[str]:
    """Environment variable names a tap config refers to (keys ending in ``_env``)."""
    if isinstance(config, Mapping):
        for key, value in config.items():
            if str(key).endswith("_env") and isinstance(value, str):
                yield value
            else:
                yield from _env_names(value)
    elif isinstance(config, list):
        for item in config:
            yield from _env_names(item)


def discover(tap: str, config: Mapping[str, Any], env: Mapping[str, str] | None = None,
             timeout: float = DISCOVERY_TIMEOUT) -> tuple[dict[str, Any] | None, str]:
    """Run ``tap --config … --discover``; (catalog, '') or (None, why it could not be had)."""
    if not programs.installed(tap):
        return None, f"{tap} is not installed"
    environ = dict(os.environ if env is None else env)
    missing = sorted({name for name in _env_names(config) if not environ.get(name)})
    if missing:
        return None, f"{', '.join(missing)} not set"
    exe = programs.executable(tap)
    assert exe is not None
    with tempfile.TemporaryDirectory(prefix="crm2-discover-") as tmp:
        path = Path(tmp) / "tap.json"
        path.write_text(json.dumps(dict(config), default=str))
        path.chmod(0o600)
        try:
            proc = subprocess.run([exe, "--config", str(path), "--discover"], capture_output=True, text=True,
                                  timeout=timeout, env=environ)
        except subprocess.TimeoutExpired:
            return None, f"{tap} --discover took longer than {timeout:.0f}s"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        return None, redact(f"{tap} --discover exited {proc.returncode}: {last}".strip())
    try:
        return json.loads(proc.stdout), ""
    except json.JSONDecodeError:
        return None, f"{tap} --discover did not print a catalog"


def check_pipeline_mappings(loaded: LoadedConfig, catalogs: Mapping[str, Path] | None = None, *,
                            discover_catalogs: bool = True, echo: Callable[[str], None] | None = None,
                            env: Mapping[str, str] | None = None) -> None:
    """Load every extractor's mapping and check it against its tap's catalog where one can be had.

    ``catalogs`` maps extractor names to catalog files; other extractors are discovered by
    running their tap (when installed and its secrets are set). Raises ConfigError with every
    problem found; unmapped fields and skipped checks are reported through ``echo``.
    """
    out = echo or (lambda line: click.echo(line, err=True))
    problems: list[Problem] = []
    for ex in loaded.pipeline.extractors:
        try:
            mapping_ = load_mapping(loaded.resolve_path(ex.mapping))
        except ConfigError as exc:
            problems += exc.problems
            continue
        if catalogs and ex.name in catalogs:
            try:
                catalog: dict[str, Any] | None = read_catalog(catalogs[ex.name])
            except ConfigError as exc:
                problems += exc.problems
                continue
        elif discover_catalogs and ex.enabled:
            catalog, why = discover(ex.tap, ex.config, env)
            if catalog is None:
                out(f"{ex.name}: mapping not checked against the tap's catalog ({why})")
                continue
        else:
            continue
        assert catalog is not None
        report = check_against_catalog(mapping_, catalog)
        problems += report.errors
        _print_report(report, ex.name, out)
        if report.ok:
            out(f"{ex.name}: mapping fits the catalog of {ex.tap}")
    if problems:
        raise ConfigError(problems)
