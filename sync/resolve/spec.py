"""Match rules as a data team writes them in YAML, validated into pydantic models.

One file (``config/match.yml``) holds, per entity: blocking keys, comparisons with their
similarity levels and Fellegi–Sunter weights, optional deterministic rules, the match and
review thresholds, and survivorship. Everything is declarative — names of normalisers and
comparators, not code — so the same file can be compiled to SQL or a Splink/Spark backend.
Unknown names are reported at ``file:line:column`` with a did-you-mean hint.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sync.yamlconf import ConfigError, Problem, did_you_mean, position, read_yaml, validate

INCOMPARABLE = "incomparable"
"""The level a comparison lands in when its comparator says the two values cannot be compared."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyPart(_Strict):
    """One field of a blocking key (or several joined with ``+``), passed through a normaliser."""

    field: str | list[str]
    normalize: str = "text"


class BlockingRule(_Strict):
    """Records that share this key are compared. Several rules are OR-ed together."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    key: list[KeyPart] = Field(min_length=1)
    max_block_size: int | None = Field(default=None, ge=2, description="overrides the entity's limit")

    @field_validator("key", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # "field" or "field | normaliser" reads better in YAML than a mapping per part
        if isinstance(value, str | dict):
            value = [value]
        out = []
        for part in value or []:
            if isinstance(part, str):
                field, _, norm = part.partition("|")
                fields = [f.strip() for f in field.split("+")]
                out.append({"field": fields if len(fields) > 1 else fields[0], "normalize": norm.strip() or "text"})
            else:
                out.append(part)
        return out


class Reference(_Strict):
    """A field prepared from another entity's golden record: the golden id of the record this
    record's ``field`` points to (a contact's employer). The referenced entity must be resolved
    first (customers before contacts, as every run does)."""

    field: str = Field(description="the field holding the referenced record's source id (same source system)")
    entity: str = Field(description="the entity that record belongs to")


class Level(_Strict):
    """A similarity band of a comparison and its evidence weight.

    ``at_least`` is the lowest similarity (0..1) in the band; the band without it catches the
    rest. The weight is ``log2(m/u)`` from m (chance of this level for a true match) and u
    (for a non-match), or given directly as ``weight``.
    """

    name: str | None = None
    at_least: float | None = Field(default=None, ge=0, le=1)
    m: float | None = Field(default=None, gt=0, le=1)
    u: float | None = Field(default=None, gt=0, le=1)
    weight: float | None = None

    @model_validator(mode="after")
    def _weight_given(self) -> Level:
        if self.weight is None and (self.m is None or self.u is None):
            raise ValueError("give either 'weight' or both 'm' and 'u'")
        return self

    @property
    def match_weight(self) -> float:
        if self.weight is not None:
            return self.weight
        assert self.m is not None and self.u is not None
        return math.log2(self.m / self.u)

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return f">={self.at_least:g}" if self.at_least is not None else "else"


class Comparison(_Strict):
    name: str
    field: str | list[str] = Field(
        description="field name, dotted for nested (address.city); a list compares several fields as one value")
    comparator: str
    levels: list[Level] = Field(min_length=1)
    null_weight: float = Field(default=0.0, description="weight when either side is empty")
    incomparable_weight: float = Field(
        default=0.0, description="weight when the comparator finds the values not comparable: a Chinese name "
                                 "and an English one pinyin does not bridge, tax ids of different kinds")

    @model_validator(mode="after")
    def _levels_descend(self) -> Comparison:
        cuts = [lv.at_least for lv in self.levels if lv.at_least is not None]
        if cuts != sorted(cuts, reverse=True):
            raise ValueError("levels must be ordered from the highest 'at_least' down")
        if any(lv.at_least is None for lv in self.levels[:-1]):
            raise ValueError("only the last level may omit 'at_least'")
        return self


class Rule(_Strict):
    """A deterministic decision that overrides the score when every condition holds.

    ``when`` maps comparison names to the level names (or list of them) that must be hit;
    ``null`` matches an empty side, ``incomparable`` values the comparator cannot compare.
    Rules are tried in order; the first that holds decides.
    """

    name: str
    when: dict[str, str | list[str]] = Field(min_length=1)
    decision: Literal["match", "review", "no_match"] = "match"

    def levels_for(self, comparison: str) -> list[str]:
        value = self.when[comparison]
        return [value] if isinstance(value, str) else list(value)


SurvivorshipRuleName = Literal["source_priority", "most_recent", "most_complete", "max", "min", "most_frequent"]


class FieldRule(_Strict):
    rule: SurvivorshipRuleName = "source_priority"
    sources: list[str] | None = Field(default=None, description="systems in priority order")
    recency_field: str = "updated_at"


class Survivorship(_Strict):
    default: FieldRule = FieldRule()
    fields: dict[str, FieldRule] = Field(default_factory=dict)
    ignore: list[str] = Field(default_factory=list, description="fields not carried to the golden record")

    def for_field(self, name: str) -> FieldRule:
        return self.fields.get(name, self.default)


class EntityRules(_Strict):
    id_prefix: str = Field(default="G-", description="golden ids are prefix + a hash of the first source ref")
    blocking: list[BlockingRule] = Field(min_length=1)
    max_block_size: int = Field(default=500, ge=2, description="keys shared by more records are skipped")
    comparisons: list[Comparison] = Field(min_length=1)
    references: dict[str, Reference] = Field(
        default_factory=dict, description="name: {field, entity}: the referenced golden id, as a field named name")
    rules: list[Rule] = Field(default_factory=list)
    threshold: float = Field(description="total match weight at or above which a pair is a match")
    review_threshold: float | None = Field(
        default=None, description="pairs from here up to the threshold wait for review")
    link_only: bool = Field(
        default=False, description="compare records only across sources, never two of one source (a source is one "
                                   "stream of one system: two files, two registers); clusters may still hold two "
                                   "records of one source, each linked to a third")
    prior: float = Field(default=1e-4, gt=0, lt=1, description="chance two random records match; for probabilities")
    survivorship: Survivorship = Survivorship()

    @model_validator(mode="after")
    def _bands(self) -> EntityRules:
        if self.review_threshold is not None and self.review_threshold > self.threshold:
            raise ValueError("review_threshold must not exceed threshold")
        return self

    def block_limit(self, rule_name: str) -> int:
        for rule in self.blocking:
            if rule.name == rule_name and rule.max_block_size is not None:
                return rule.max_block_size
        return self.max_block_size

    def comparison(self, name: str) -> Comparison:
        for comp in self.comparisons:
            if comp.name == name:
                return comp
        raise KeyError(name)


class MatchConfig(_Strict):
    version: Literal[1] = 1
    entities: dict[str, EntityRules] = Field(min_length=1)

    def rules_for(self, entity: str) -> EntityRules:
        try:
            return self.entities[entity]
        except KeyError:
            raise KeyError(f"no match rules for entity '{entity}'") from None


def _semantic_problems(config: MatchConfig, tree: Any, path: str) -> list[Problem]:
    """Names pydantic cannot check: normalisers, comparators, comparisons and levels in rules."""
    from sync.resolve.comparators import COMPARATORS
    from sync.resolve.normalize import NORMALIZERS

    problems: list[Problem] = []

    def bad(loc: list[str | int], message: str, word: str, choices: list[str], at_key: bool = False) -> None:
        line, col = position(tree, loc, at_key=at_key)
        problems.append(Problem(path, line, col, message, did_you_mean(word, choices)))

    for ent, rules in config.entities.items():
        base: list[str | int] = ["entities", ent]
        for i, block in enumerate(rules.blocking):
            for j, part in enumerate(block.key):
                if part.normalize not in NORMALIZERS:
                    loc = [*base, "blocking", i, "key", j]
                    loc = [*loc, "normalize"] if _is_mapping(tree, loc) else loc
                    bad(loc, f"unknown normaliser '{part.normalize}'", part.normalize, sorted(NORMALIZERS))
        names = [c.name for c in rules.comparisons]
        for i, comp in enumerate(rules.comparisons):
            if comp.comparator not in COMPARATORS:
                bad([*base, "comparisons", i, "comparator"], f"unknown comparator '{comp.comparator}'",
                    comp.comparator, sorted(COMPARATORS))
        for i, rule in enumerate(rules.rules):
            for cname in rule.when:
                if cname not in names:
                    bad([*base, "rules", i, "when", cname], f"rule '{rule.name}' uses unknown comparison '{cname}'",
                        cname, names, at_key=True)
                    continue
                labels = [lv.label for lv in rules.comparison(cname).levels] + ["null", INCOMPARABLE]
                for level in rule.levels_for(cname):
                    if level not in labels:
                        bad([*base, "rules", i, "when", cname], f"comparison '{cname}' has no level '{level}'",
                            level, labels)
    return problems


def _node(tree: Any, loc: list[str | int]) -> Any:
    node = tree
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _is_mapping(tree: Any, loc: list[str | int]) -> bool:
    return isinstance(_node(tree, loc), dict)


def unknown_fields(path: str | Path, config: MatchConfig, fields_of: dict[str, set[str]]) -> list[Problem]:
    """Fields the rules compare or block on that the entity's records do not have, at their
    position in the rules file (a typo there would silently compare empty values). ``fields_of``:
    entity → its field names (dotted for nested ones) as the pipeline's mappings produce them;
    entities not in it are not checked."""
    tree = read_yaml(path)
    problems: list[Problem] = []
    for ent, rules in config.entities.items():
        known = fields_of.get(ent)
        if known is None:
            continue
        known = known | set(rules.references)
        base: list[str | int] = ["entities", ent]
        used: list[tuple[str | list[str], list[str | int]]] = [
            (comp.field, [*base, "comparisons", i, "field"]) for i, comp in enumerate(rules.comparisons)]
        used += [(part.field, [*base, "blocking", i, "key", j])
                 for i, block in enumerate(rules.blocking) for j, part in enumerate(block.key)]
        for names, loc in used:
            for k, name in enumerate([names] if isinstance(names, str) else names):
                if name not in known:
                    # a list of fields ([surname, given_name]) is reported at the unknown one
                    at = loc if isinstance(names, str) or not isinstance(_node(tree, loc), list) else [*loc, k]
                    line, col = position(tree, at)
                    problems.append(Problem(str(path), line, col, f"unknown field '{name}' for entity '{ent}'",
                                            did_you_mean(name, sorted(known))))
    return problems


def load_match_config(path: str | Path) -> MatchConfig:
    """Parse and validate a match-rules file; ConfigError lists every problem with its position."""
    tree = read_yaml(path)
    config = validate(tree, MatchConfig, path)
    problems = _semantic_problems(config, tree, str(path))
    if problems:
        raise ConfigError(problems)
    return config
