"""`crm2 init SOURCE --tap TAP`: a working starting point for a new source, from its tap's catalog.

Writes ``mappings/SOURCE.yml`` (streams guessed onto crm2's entities), ``crm2.yml`` (a pipeline
that runs the tap into a local store, with environments) and copies of the shipped rule files in
``config/`` to edit, then checks them all as `crm2 validate` would. Existing files are kept unless
``--force``; with an existing ``crm2.yml`` the extractor to add is printed instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import click

from sync.cli.common import EXIT_CODES_HELP, Abort, handled
from sync.exitcodes import ExitCode


def _catalog(tap: str, tap_config: dict[str, Any]) -> dict[str, Any]:
    from sync.orchestrate import programs

    exe = programs.executable(tap)
    if not exe:
        raise Abort(ExitCode.CONFIG, f"{tap} is not installed (install it, or pass its catalog with --catalog)")
    with tempfile.TemporaryDirectory(prefix="crm2-init-") as tmp:
        config_file = Path(tmp) / "tap.json"
        config_file.write_text(json.dumps(tap_config))
        config_file.chmod(0o600)
        done = subprocess.run([exe, "--config", str(config_file), "--discover"], capture_output=True, timeout=600)
    if done.returncode != 0:
        from sync.redaction import redact

        tail = redact(done.stderr.decode(errors="replace").strip().splitlines()[-1:][0] if done.stderr.strip() else "")
        raise Abort(ExitCode.FAILED, f"{tap} --discover failed (exit {done.returncode}): {tail}")
    try:
        return dict(json.loads(done.stdout))
    except ValueError:
        raise Abort(ExitCode.FAILED, f"{tap} --discover did not print a JSON catalog") from None


def _write(path: Path, text: str, force: bool, written: list[Path], kept: list[Path]) -> None:
    if path.exists() and not force:
        kept.append(path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    written.append(path)


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("source")
@click.option("--tap", required=True, help="The source's Singer tap executable, e.g. tap-hubspot.")
@click.option("--tap-config", "tap_config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The tap's config (JSON) for --discover; secret values are not copied into crm2.yml.")
@click.option("--catalog", "catalog_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use this catalog (the tap's --discover output) instead of running the tap.")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Project folder to write into.")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@handled
def init(source: str, tap: str, tap_config_file: Path | None, catalog_file: Path | None, folder: Path,
         force: bool) -> None:
    """Start a project (or add a source) from a tap's catalog: mapping, pipeline config, rule files.

    \b
    crm2 init shop --tap tap-shopify --tap-config shopify.json
    crm2 validate --config crm2.yml && crm2 sync --config crm2.yml
    """
    import re

    from sync.mapping import check_against_catalog, load_mapping
    from sync.mapping.catalog import catalog_streams
    from sync.orchestrate import config as pipeline_config
    from sync.orchestrate import scaffold
    from sync.shipped import DEFAULT_RULES
    from sync.yamlconf import ConfigError

    if not re.fullmatch(r"[a-z][a-z0-9_-]*", source):
        raise click.UsageError("SOURCE must be lower case letters, digits, - or _, starting with a letter")
    tap_config: dict[str, Any] = json.loads(tap_config_file.read_text()) if tap_config_file else {}
    catalog = json.loads(catalog_file.read_text()) if catalog_file else _catalog(tap, tap_config)
    entries = {e.get("tap_stream_id") or e.get("stream"): e for e in catalog.get("streams") or []}
    guesses = [scaffold.guess_stream(name, schema, list(entries[name].get("key_properties") or []))
               for name, schema in catalog_streams(catalog).items()]
    written: list[Path] = []
    kept: list[Path] = []
    mapping = folder / "mappings" / f"{source}.yml"
    _write(mapping, scaffold.mapping_yaml(source, tap, guesses), force, written, kept)
    for stage, shipped in DEFAULT_RULES.items():
        del stage
        target = folder / "config" / shipped.name
        if not target.exists() or force:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shipped, target)
            written.append(target)
    safe, dropped = scaffold.safe_tap_config(tap_config)
    pipeline = folder / "crm2.yml"
    text = scaffold.pipeline_yaml(source, tap, safe, f"mappings/{source}.yml", dropped)
    _write(pipeline, text, force, written, kept)
    for path in written:
        click.echo(f"wrote {path}")
    for path in kept:
        click.echo(f"kept {path} (exists; --force overwrites)")
    if pipeline in kept:
        snippet = text.split("extractors:\n", 1)[1].split("\nchecks:", 1)[0]
        click.echo(f"add this source to {pipeline} under extractors:\n{snippet}")
    mapped = [g.stream for g in guesses if g.complete]
    click.echo(f"{len(mapped)} of {len(guesses)} streams mapped: {', '.join(mapped) or 'none'}"
               + ("; the rest are commented out in the mapping with what is missing" if len(mapped) < len(guesses)
                  else ""))
    problems = []
    try:
        pipeline_config.load(pipeline)
        report = check_against_catalog(load_mapping(mapping), catalog)
        problems = report.errors
    except ConfigError as exc:
        problems = exc.problems
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        raise Abort(ExitCode.CONFIG, "the starter files need the fixes above")
    if dropped:
        click.echo("secrets were left out of crm2.yml: " + ", ".join(dropped) + " (name their environment "
                   "variables with *_env keys)")
    click.echo(f"next: crm2 validate --config {pipeline} && crm2 sync --config {pipeline}")
