"""Conditions over measures, as data teams write them in scoring.yml, checked once and compiled.

A condition is a small Python-like expression such as ``days_since_last_order >= 365 and
orders_total > 0``. It is parsed once, checked against a whitelist of syntax (comparisons,
and/or/not, arithmetic, numbers, strings, ``None``, ``min``/``max``/``abs``) and compiled to a
code object, so judging a million customers costs one ``eval`` each with no interpreter of our
own in the loop. The whitelist is what makes ``eval`` safe here: no attribute access, no
subscripts, no calls except the three pure functions, and no builtins in scope.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from types import CodeType
from typing import Any

_FUNCTIONS: dict[str, Any] = {"min": min, "max": max, "abs": abs}


def _known(fn: Any) -> Any:
    """An operator that gives None (unknown) when an operand is None, instead of failing."""
    return lambda a, b: None if a is None or b is None else fn(a, b)


# Comparisons and arithmetic are rewritten into these, so a measure without data makes its
# own comparison false without hiding the rest of the condition ("x < 5 or y == 0").
_OPERATORS: dict[str, Any] = {
    "_lt": _known(operator.lt), "_le": _known(operator.le), "_gt": _known(operator.gt),
    "_ge": _known(operator.ge), "_add": _known(operator.add), "_sub": _known(operator.sub),
    "_mul": _known(operator.mul), "_div": _known(lambda a, b: None if b == 0 else a / b),
}
_OP_NAMES = {ast.Lt: "_lt", ast.LtE: "_le", ast.Gt: "_gt", ast.GtE: "_ge",
             ast.Add: "_add", ast.Sub: "_sub", ast.Mult: "_mul", ast.Div: "_div"}
_GLOBALS: dict[str, Any] = {"__builtins__": {}, **_FUNCTIONS, **_OPERATORS}

_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Name, ast.Load, ast.Constant, ast.Call,
)


class ExpressionError(ValueError):
    """A condition that does not parse or uses syntax outside the whitelist."""


@dataclass(frozen=True)
class Condition:
    """A compiled condition and the measure names it reads (for checks and explanations)."""

    text: str
    code: CodeType
    names: tuple[str, ...]

    def __call__(self, measures: Mapping[str, Any]) -> bool:
        """True when the condition holds; a comparison with a missing (None) measure is false."""
        try:
            return bool(eval(self.code, _GLOBALS, measures))  # the AST was whitelisted and rewritten
        except TypeError:
            return False  # e.g. a number compared with a text measure: not a match


class _Rewrite(ast.NodeTransformer):
    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        parts: list[ast.expr] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            name = _OP_NAMES.get(type(op))
            parts.append(ast.Call(ast.Name(name, ast.Load()), [left, right], []) if name
                         else ast.Compare(left, [op], [right]))
            left = right
        return parts[0] if len(parts) == 1 else ast.BoolOp(ast.And(), parts)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        return ast.Call(ast.Name(_OP_NAMES[type(node.op)], ast.Load()), [node.left, node.right], [])


def compile_condition(text: str) -> Condition:
    """Parse and check ``text``; raise ExpressionError saying what is not allowed."""
    if isinstance(text, bool):
        text = "True" if text else "False"
    source = str(text).strip()
    if not source:
        raise ExpressionError("empty condition")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"condition does not parse: {exc.msg}") from None
    names: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"'{type(node).__name__}' is not allowed in a condition")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
                raise ExpressionError("only min(...), max(...) and abs(...) may be called")
        elif isinstance(node, ast.Constant) and not isinstance(node.value, int | float | str | bool | None):
            raise ExpressionError(f"constant {node.value!r} is not allowed")
        elif isinstance(node, ast.Name) and node.id not in _FUNCTIONS and node.id not in names:
            names.append(node.id)
    rewritten = ast.fix_missing_locations(_Rewrite().visit(tree))
    return Condition(source, compile(rewritten, "<condition>", "eval"), tuple(names))
