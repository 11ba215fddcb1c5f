"""Data-quality checks on staged records: YAML spec, per-record rules, the runner."""

from sync.quality.runner import CheckResult, CheckRun, describe, latest_results, run_checks
from sync.quality.spec import ChecksConfig, load_checks

__all__ = ["CheckResult", "CheckRun", "ChecksConfig", "describe", "latest_results", "load_checks", "run_checks"]
