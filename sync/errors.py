"""crm2's one error family: every failure crm2 reports on purpose is a Crm2Error with its exit code.

The family is small on purpose; a handler needs one ``except Crm2Error`` and reads the code:

- ConfigError — a setting or file that cannot work, with *every* problem found, each placed by
  file:line:column (YAML) or by its setting path (a connector's JSON config). Exit 2: nothing ran.
- SourceError / DestinationError — a system crm2 reads from or writes to failed; ``retriable``
  says whether the same call may succeed later. Exit 1: state is saved where safe.
- StoppedEarly — a connector stopped cleanly on an API limit or budget with resumable state (75).

Modules subclass these to add detail (a Salesforce error code, a review that names no pair) but
never start a second family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from sync.exitcodes import STOPPED_EARLY, ExitCode


class Crm2Error(Exception):
    """A failure crm2 reports as one clear message (or one line per problem) and an exit code."""

    exit_code: ClassVar[int] = ExitCode.FAILED

    def lines(self) -> list[str]:
        """What to print, one problem a line."""
        return [str(self)]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file or setting, at a 1-based line and column (0 when unknown)."""

    path: str
    line: int
    column: int
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}" if self.line else self.path
        return f"{where}: {self.message}" + (f" ({self.hint})" if self.hint else "")


class ConfigError(Crm2Error):
    """A configuration file or setting is missing, unparsable or invalid. Carries every problem found."""

    exit_code = ExitCode.CONFIG

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, path: str | Path, message: str, *, line: int = 0, column: int = 0,
               hint: str | None = None) -> ConfigError:
        return cls([Problem(str(path), line, column, message, hint)])

    @classmethod
    def setting(cls, setting: str, message: str, hint: str | None = None) -> ConfigError:
        """A problem placed by a setting's dotted path (a connector's JSON config has no lines)."""
        return cls([Problem(setting or "config", 0, 0, message, hint)])

    @classmethod
    def from_validation(cls, exc: Any, prefix: str = "") -> ConfigError:
        """Every error of a pydantic ValidationError, placed by setting path; input values left out
        (they may be secrets)."""
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            setting = ".".join(str(part) for part in err["loc"])
            message = err["msg"].removeprefix("Value error, ")  # pydantic's wording, not the user's problem
            problems.append(Problem(".".join(p for p in (prefix, setting) if p) or "config", 0, 0, message))
        return cls(problems)

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class SourceError(Crm2Error):
    """A system crm2 reads from failed (unreachable, refused, answered nonsense)."""

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class DestinationError(Crm2Error):
    """A system crm2 writes to (the store, Salesforce) failed or refused the write."""

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class StoppedEarly(Crm2Error):
    """Stopped cleanly on an API limit or budget; state is saved and the next run continues."""

    exit_code = STOPPED_EARLY
