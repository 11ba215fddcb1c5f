"""config/scoring.yml: the shipped file equals the built-in defaults, and mistakes point at file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.enrich import ScoringRules, load_rules
from sync.yamlconf import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "scoring.yml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scoring.yml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    return [str(p) for p in info.value.problems]


def test_shipped_file_spells_out_the_defaults():
    assert load_rules(SHIPPED) == ScoringRules()


def test_unknown_measure_in_a_factor_points_at_it_with_a_hint(tmp_path):
    path = write(tmp_path, """\
version: 1
churn_risk:
  factors:
    long_silence:
      measure: days_since_last_activty
      weight: 25
      zero_at: 45
      full_at: 180
""")
    assert problems(path) == [f"{path}:5:16: unknown measure 'days_since_last_activty' "
                              "(did you mean 'days_since_last_activity'?)"]


def test_score_using_a_later_score_is_refused(tmp_path):
    path = write(tmp_path, """\
satisfaction:
  factors:
    health_link: {measure: health, weight: 1, zero_at: 0, full_at: 100}
""")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:3:28: measure 'health' is computed later and cannot be used here")


def test_unknown_key_and_bad_value_are_positioned(tmp_path):
    path = write(tmp_path, """\
tier:
  measure: revenue_12m
  metod: pareto
forecast:
  alpha: 1.5
""")
    found = problems(path)
    assert f"{path}:3:3: unknown key 'metod' (did you mean 'method'?)" in found
    assert any(p.startswith(f"{path}:5:10: forecast.alpha: input should be less than or equal to 1") for p in found)


def test_lifecycle_condition_syntax_and_names(tmp_path):
    path = write(tmp_path, """\
lifecycle:
  rules:
    - stage: churned
      when: "days_since_last_order >= "
""")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:4:13: lifecycle.rules.0.when: condition does not parse")
    path = write(tmp_path, """\
lifecycle:
  rules:
    - {stage: at_risk, when: "churn_risk >= 60"}
    - {stage: churned, when: "__import__('os').system('true')"}
    - {stage: growth, when: "revenue_chang_12m > 0.1"}
    - {stage: zombie, when: "True"}
""")
    found = problems(path)
    assert any(p.startswith(f"{path}:4:30: lifecycle.rules.1.when: only min(...), max(...)") for p in found)
    assert any(p.startswith(f"{path}:6:15: lifecycle.rules.3.stage: input should be 'onboarding'") for p in found)
    path = write(tmp_path, """\
lifecycle:
  rules:
    - {stage: growth, when: "revenue_chang_12m > 0.1"}
""")
    assert problems(path) == [f"{path}:3:29: unknown name 'revenue_chang_12m' (did you mean 'revenue_change_12m'?)"]


def test_pareto_shares_and_thresholds_are_checked(tmp_path):
    path = write(tmp_path, """\
tier:
  pareto: {A: 0.9, B: 0.2}
""")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:2:11: tier.pareto: shares A + B must not exceed 1")
    path = write(tmp_path, "tier:\n  method: thresholds\n")
    [problem] = problems(path)
    assert "method 'thresholds' needs" in problem


def test_valid_custom_rules_load(tmp_path):
    path = write(tmp_path, """\
tier:
  measure: weighted
  weighted: {revenue_12m: 0.5, payments_12m: 0.5}
  method: thresholds
  thresholds: {A: 30, B: 5}
health:
  factors:
    risk: {measure: churn_risk, weight: 1, zero_at: 100, full_at: 0}
lifecycle:
  rules:
    - {stage: at_risk, when: "health < 40 and tier == 'A'"}
""")
    rules = load_rules(path)
    assert rules.tier.method == "thresholds"
    assert list(rules.health.factors) == ["risk"]
    assert rules.lifecycle.rules[0].condition.names == ("health", "tier")
