"""Discovery of the local stand-ins (fake Salesforce, sales API, finance ledger).

Stand-ins live in ``connectors/`` and register under the ``crm2.standins`` entry-point group,
so the engine can start them for ``crm2 demo`` and ``crm2 sandbox`` without importing connector
code. An entry point names a callable ``start(workdir, *, customers, seed) -> StandInHandle``;
stand-ins served over HTTP also take ``port``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

GROUP = "crm2.standins"


class StandInHandle(Protocol):
    """A running stand-in."""

    name: str
    tap_config: dict[str, Any]
    """The config the matching tap needs to read from it (URLs, CA bundle path, env names)."""

    def describe(self) -> str:
        """One line for the terminal, e.g. 'Salesforce stand-in at https://127.0.0.1:50123'."""
        ...

    def stop(self) -> None: ...


StartFn = Callable[..., StandInHandle]


def available() -> dict[str, StartFn | Exception]:
    """Registered stand-ins by name; a stand-in whose module fails to import maps to the error."""
    found: dict[str, StartFn | Exception] = {}
    for ep in entry_points(group=GROUP):
        try:
            found[ep.name] = ep.load()
        except ModuleNotFoundError as exc:
            own = ep.value.split(":", 1)[0]
            missing_own_code = exc.name is not None and own.startswith(exc.name)
            found[ep.name] = LookupError("not built yet in this version of crm2") if missing_own_code else exc
        except Exception as exc:  # a broken connector must not stop the others
            found[ep.name] = exc
    return found


def start(name: str, workdir: Path, *, customers: int, seed: int, port: int | None = None) -> StandInHandle:
    """Start stand-in ``name``; ``port`` (served stand-ins only) fixes its loopback port."""
    fn = available().get(name)
    if fn is None:
        raise LookupError(f"no stand-in named '{name}' is installed")
    if isinstance(fn, LookupError):
        raise fn
    if isinstance(fn, Exception):
        raise LookupError(f"stand-in '{name}' failed to load: {fn}") from fn
    if port is None:
        return fn(workdir, customers=customers, seed=seed)
    return fn(workdir, customers=customers, seed=seed, port=port)
