"""`crm2 match train`: estimate m/u of the match rules' levels from the store (sync/resolve/train.py)."""

from __future__ import annotations

from pathlib import Path

import click

from sync.cli.common import EXIT_CODES_HELP, STORE_OPTION, Abort, console, handled
from sync.exitcodes import ExitCode


@click.group()
def match() -> None:
    """Match rules: weights from data."""


@match.command(epilog=EXIT_CODES_HELP)
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=Path("config/match.yml"), show_default=True, help="Match rules to train.")
@click.option("--entity", default="customer", show_default=True,
              help="An entity the rules file has rules for (customer, contact, or one a mapping declares).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the trained rules (default: next to the rules, NAME.trained.yml).")
@click.option("--random-pairs", type=int, default=200_000, show_default=True, help="Random pairs for u.")
@click.option("--seed", type=int, default=42, show_default=True)
@STORE_OPTION
@handled
def train(rules_path: Path, entity: str, out: Path | None, random_pairs: int, seed: int, store: str | None) -> None:
    """Estimate every level's m (EM over blocked pairs) and u (random pairs) and write them into a
    copy of the rules file, comments kept. Review it, then point the pipeline at it."""
    from sync.resolve import load_match_config
    from sync.resolve.train import estimate, write_rules
    from sync.store import Store

    config = load_match_config(rules_path)
    if entity not in config.entities:
        raise Abort(ExitCode.CONFIG, f"{rules_path} has no rules for entity '{entity}'")
    with Store.open(store) as st:
        try:
            trained = estimate(st, config.rules_for(entity), entity, random_pairs=random_pairs, seed=seed)
        except ValueError as exc:
            raise Abort(ExitCode.CONFIG, str(exc)) from None
    target = out or rules_path.with_suffix(".trained.yml")
    updated = write_rules(rules_path, target, trained)
    load_match_config(target)  # what was written must load
    console().print(f"{updated} levels of {entity} trained on {trained.candidate_pairs:,} candidate pairs and "
                    f"{trained.random_pairs:,} random pairs ({trained.iterations} EM iterations, "
                    f"match share {trained.prior:.4f}); written to {target}")
