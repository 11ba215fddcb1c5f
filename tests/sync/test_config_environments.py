"""`environments:` in a pipeline config: overrides merged by name, mistakes pointed at where they
are written (inside the environments section)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.orchestrate import config
from sync.shipped import MAPPINGS
from sync.yamlconf import ConfigError

TEXT = f"""version: 1
store: {{url: dev.sqlite}}
extractors:
  - name: finance
    tap: tap-crm2-finance
    mapping: {MAPPINGS / "finance.yml"}
    config: {{url: "sqlite:///ledger.sqlite", streams: {{customers: {{}}}}}}
environments:
  prod:
    store:
      url: postgresql+psycopg://crm2@db/crm2
      password_env: CRM2_TEST_PROD_PW
    extractors:
      finance:
        config: {{url: "postgresql+psycopg://reader@ledger/ledger", password_env: CRM2_TEST_LEDGER_PW}}
    enrich: {{enabled: nope}}
  staging:
    extractors:
      finanse: {{enabled: false}}
"""


def _write(tmp_path: Path, text: str = TEXT) -> Path:
    path = tmp_path / "pipeline.yml"
    path.write_text(text)
    return path


def test_without_env_the_base_settings_hold(tmp_path: Path) -> None:
    loaded = config.load(_write(tmp_path))
    assert loaded.pipeline.store.url == "dev.sqlite" and loaded.env is None


def test_overrides_merge_deeply_and_errors_point_into_the_environment(tmp_path: Path) -> None:
    path = _write(tmp_path)
    with pytest.raises(ConfigError) as info:
        config.load(path, env="prod")
    [problem] = info.value.problems
    assert (problem.line, problem.column) == (16, 23) and "enrich.enabled" in problem.message
    fixed = _write(tmp_path, TEXT.replace("    enrich: {enabled: nope}\n", ""))
    loaded = config.load(fixed, env="prod")
    finance = loaded.pipeline.extractors[0]
    assert finance.config == {"url": "postgresql+psycopg://reader@ledger/ledger", "password_env": "CRM2_TEST_LEDGER_PW",
                              "streams": {"customers": {}}}
    assert loaded.pipeline.store.password_env == "CRM2_TEST_PROD_PW"
    with pytest.raises(ConfigError) as info:
        config.check_environment(loaded, environ={})
    assert [(p.line, p.message) for p in info.value.problems] == [
        (12, "environment variable CRM2_TEST_PROD_PW is not set"),
        (15, "environment variable CRM2_TEST_LEDGER_PW is not set")]


def test_unknown_environment_or_extractor_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path)
    with pytest.raises(ConfigError) as info:
        config.load(path, env="production")
    assert "no environment 'production'" in str(info.value)
    with pytest.raises(ConfigError) as info:
        config.load(path, env="staging")
    assert str(info.value) == (f"{path}:19:7: no extractor named 'finanse' to override (did you mean 'finance'?)")
