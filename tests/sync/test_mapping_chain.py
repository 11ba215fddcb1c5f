"""A field's parameter-free transforms called directly (``_chain``) give what the general
per-step path (``_step``, which handles parameters) gives: the same value, or the same reason."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.mapping.applier import _chain, _step
from sync.mapping.compiler import Param
from sync.mapping.errors import TransformError
from sync.mapping.transforms import TRANSFORMS, Transform

CHAINS = [["strip", "lower"], ["date"], ["datetime"], ["null_if", "email"], ["null_if", "company_domain"],
          ["fullwidth_to_halfwidth", "strip", "upper", "null_if"], ["decimal"], ["currency"], ["country"],
          ["str", "strip", "null_if"], ["normalize_whitespace", "null_if"], ["company_name"], ["phone_e164"]]


def _broken(value: Any) -> Any:
    raise ZeroDivisionError  # a library choking on odd input


def _none(value: Any) -> Any:
    return None


EXTRA = {"broken": Transform("broken", _broken, "raises"), "none": Transform("none", _none, "gives None")}


def _outcome(fn: Any, value: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(value))
    except TransformError as exc:
        return ("failed", str(exc))


def _general(steps: list[tuple[Transform, dict]]) -> Any:
    calls = [_step(t, params) for t, params in steps]

    def run(value: Any) -> Any:
        for call in calls:
            if value is None:
                break
            value = call(value, {})
        return value

    return run


def _steps(names: list[str]) -> list[tuple[Transform, dict]]:
    return [({**TRANSFORMS, **EXTRA}[n], {}) for n in names]


VALUES = st.one_of(st.none(), st.text(max_size=30), st.sampled_from([
    " Billing@Example.COM ", "n/a", "", "2026-02-03", "2026-02-03T10:00:00+08:00", "１２３", "eur", "CN", "中国",
    "+86 138 0013 8000", "not a date", "12,50", "Acme GmbH ", "www.acme.co.uk"]), st.integers(), st.floats())


@settings(max_examples=300, deadline=None)
@given(chain=st.sampled_from([*CHAINS, ["strip", "broken"], ["none", "broken"], ["broken"], ["lower", "none"]]),
       value=VALUES)
def test_direct_chain_matches_the_general_path(chain: list[str], value: Any) -> None:
    steps = _steps(chain)
    direct = _chain(steps)
    assert direct is not None
    assert _outcome(direct, value) == _outcome(_general(steps), value)


def test_a_library_error_names_the_transform_and_the_error_type_only() -> None:
    direct = _chain(_steps(["strip", "broken"]))
    assert direct is not None
    assert _outcome(direct, "secret value") == ("failed", "broken: could not convert value (ZeroDivisionError)")


def test_a_chain_with_parameters_is_left_to_the_general_path() -> None:
    assert _chain([(TRANSFORMS["truncate"], {"max_length": Param(const=3)})]) is None
