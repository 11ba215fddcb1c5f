"""Config errors the sales tap reports as one line naming the setting, and the CLI that does so."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from pydantic import ValidationError

EXIT_CONFIG = 2
"""Same meaning as crm2's own exit code 2: bad configuration, nothing ran."""


class SalesConfigError(Exception):
    """A setting that cannot work: ``setting`` is its dotted path in the config."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


def from_validation_error(exc: ValidationError) -> SalesConfigError:
    """The first pydantic error as a config error (one line; the input value is left out)."""
    first = exc.errors(include_url=False, include_input=False)[0]
    setting = ".".join(str(part) for part in first["loc"]) or "config"
    return SalesConfigError(setting, first["msg"])


def one_line_errors(command: click.Command) -> click.Command:
    """Make ``command`` print ``config error: <setting>: <problem>`` and exit 2 instead of a traceback.

    Wrapping ``main`` (not ``invoke``) also covers ``--discover``, which singer-sdk runs from an
    option callback while the arguments are still being parsed.
    """
    original: Callable[..., Any] = command.main

    def main(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except SalesConfigError as exc:
            print(f"config error: {exc}", file=sys.stderr, flush=True)
            sys.exit(EXIT_CONFIG)

    command.main = main  # type: ignore[method-assign]
    return command
