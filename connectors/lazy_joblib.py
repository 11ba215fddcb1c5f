"""Defer singer-sdk's import of joblib (and, through it, numpy) until a target drains in parallel.

``singer_sdk.target_base`` does ``from joblib import Parallel, delayed, parallel_config`` when it
is imported, which every crm2 program does (``singer_sdk/__init__`` imports it), and joblib
imports numpy: about a quarter of a CPU second of each program's start-up (``python -X importtime``),
for code that runs only when a target drains several sinks on threads. target-crm2 drains one
sink at a time (``max_parallelism = 1``) and taps never drain, so they never call it.

:func:`install` puts a stand-in module under the name ``joblib`` before singer-sdk is imported.
The three names singer-sdk takes are functions that import the real joblib when first called
and pass everything through; any other attribute imports it too. Once the real joblib is
imported it replaces the stand-in in ``sys.modules``, so later ``import joblib`` gets the real
module. When joblib was imported already, nothing is done.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_NAME = "joblib"
_FORWARDED = frozenset({"__version__", "__all__"})
"""Dunder names a user of joblib reads (a version check, ``from joblib import *``)."""


class _StandIn(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name not in _FORWARDED:
            raise AttributeError(name)  # generic probing (__file__, __wrapped__ ...) finds nothing
        return getattr(real(), name)


def real() -> types.ModuleType:
    """The real joblib, imported now if it was not."""
    if isinstance(sys.modules.get(_NAME), _StandIn):
        del sys.modules[_NAME]
    return importlib.import_module(_NAME)


def Parallel(*args: Any, **kwargs: Any) -> Any:  # joblib's name
    return real().Parallel(*args, **kwargs)


def delayed(function: Any) -> Any:
    return real().delayed(function)


def parallel_config(*args: Any, **kwargs: Any) -> Any:
    return real().parallel_config(*args, **kwargs)


def install() -> None:
    """Stand in for joblib until it is used (no-op when it is imported already)."""
    if _NAME in sys.modules:
        return
    spec = importlib.util.find_spec(_NAME)  # finds the package without running it
    if spec is None or spec.submodule_search_locations is None:
        return  # not installed: singer-sdk's own import will say so
    stand_in = _StandIn(_NAME, __doc__)
    # a package, as the real one: ``from joblib import X`` reads X from it, and a submodule
    # (``import joblib.parallel``) is found where the real package is
    stand_in.__path__ = list(spec.submodule_search_locations)
    stand_in.Parallel = Parallel  # type: ignore[attr-defined]
    stand_in.delayed = delayed  # type: ignore[attr-defined]
    stand_in.parallel_config = parallel_config  # type: ignore[attr-defined]
    sys.modules[_NAME] = stand_in
