"""Load config/scoring.yml into :class:`ScoringRules` and check every name it refers to.

pydantic checks each value; this module then checks what only the whole file knows — that
every measure a factor, tier or rule names exists and that a score only uses scores computed
before it — and reports each problem at its ``file:line:column`` with a hint.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from sync.enrich.engine import NAMES_AFTER_POPULATION
from sync.enrich.measures import MEASURES
from sync.enrich.rules import WEIGHTED_SCORES, ScoringRules
from sync.yamlconf import ConfigError, Problem, did_you_mean, position, read_yaml, validate

DEFAULT_PATH = Path("config") / "scoring.yml"

Finding = tuple[tuple[str | int, ...], str, str | None]


def _hint(name: str, known: Sequence[str]) -> str | None:
    return did_you_mean(name, known) or "see the measures in docs/scoring.md"


def _check_name(loc: tuple[str | int, ...], name: str, known: list[str], what: str,
                later: Sequence[str] = ()) -> Iterator[Finding]:
    if name in known:
        return
    if name in later:
        yield loc, f"{what} '{name}' is computed later and cannot be used here", (
            "order: " + ", ".join([*NAMES_AFTER_POPULATION, *WEIGHTED_SCORES, "lifecycle"]))
    else:
        yield loc, f"unknown {what} '{name}'", _hint(name, known)


def reference_problems(rules: ScoringRules) -> list[Finding]:
    """(location, message, hint) for every name that does not resolve where it is used."""
    found: list[Finding] = []
    measures = list(MEASURES)
    numeric = [m for m in measures if m not in ("kind", "terminated")]
    if rules.tier.measure != "weighted":
        found += _check_name(("tier", "measure"), rules.tier.measure, numeric, "measure")
    else:
        for name in rules.tier.weighted:
            found += _check_name(("tier", "weighted", name), name, numeric, "measure")
    found += _check_name(("clv", "margin_measure"), rules.clv.margin_measure, numeric, "measure")
    known = measures + list(NAMES_AFTER_POPULATION)
    for i, score in enumerate(WEIGHTED_SCORES):
        later = [*WEIGHTED_SCORES[i:], "lifecycle"]
        for fname, factor in getattr(rules, score).factors.items():
            found += _check_name((score, "factors", fname, "measure"), factor.measure, known, "measure", later)
        known = [*known, score]
    for i, rule in enumerate(rules.lifecycle.rules):
        for name in rule.condition.names:
            found += _check_name(("lifecycle", "rules", i, "when"), name, known, "name", ["lifecycle"])
    return found


def load_rules(path: str | Path = DEFAULT_PATH) -> ScoringRules:
    """Read and validate scoring rules; raise ConfigError listing every problem with its position."""
    tree = read_yaml(path)
    rules = validate(tree, ScoringRules, path)
    problems = []
    for loc, message, hint in reference_problems(rules):
        line, column = position(tree, loc)
        problems.append(Problem(str(path), line, column, message, hint))
    if problems:
        raise ConfigError(problems)
    return rules
