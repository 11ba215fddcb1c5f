"""The expression escape hatch: Python-like one-liners evaluated safely with simpleeval.

Checked once when the mapping loads — syntax, no names or attributes starting with '_', only
whitelisted functions, no lambdas or comprehensions — so a bad expression is reported with its
file position instead of failing on the millionth record. Decimal-safe: number literals with a
fraction and float inputs become Decimal, so ``Amount * 1.1`` never rounds money through a float.
Evaluation is pure: there is nothing in scope that does I/O or imports.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simpleeval import SimpleEval

from sync.mapping import values
from sync.mapping.errors import TransformError


class ExpressionError(ValueError):
    """An expression that does not parse or uses something outside the safe subset."""

    def __init__(self, message: str, offset: int = 0, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.offset, self.hint = message, offset, hint


def _coalesce(*args: Any) -> Any:
    return next((a for a in args if a is not None and a != ""), None)


def _concat(*args: Any, sep: str = "") -> str:
    return sep.join(str(a) for a in args if a is not None and a != "")


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else values.to_decimal(value)


def _int(value: Any) -> int | None:
    return None if value is None else values.to_int(value)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "Decimal": _decimal, "decimal": _decimal, "int": _int, "str": str, "bool": values.to_bool,
    "len": len, "abs": abs, "round": round, "min": min, "max": max,
    "coalesce": _coalesce, "concat": _concat,
    "date": values.to_date, "datetime": values.to_datetime,
}
_NOT_NAMES = {"value"}
_FORBIDDEN_METHODS = {"format", "format_map", "mro"}
_UNSUPPORTED = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.NamedExpr,
                ast.Await, ast.Yield, ast.YieldFrom, ast.Starred)


def _as_decimal(value: Any) -> Any:
    return Decimal(repr(value)) if isinstance(value, float) else value


class _Decimals(ast.NodeTransformer):
    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        if isinstance(node.value, float):
            # simpleeval reads node.value and never compiles the tree, so any object may sit here
            return ast.copy_location(ast.Constant(Decimal(repr(node.value))), node)
        return node


class _Names:
    """Record fields by name for simpleeval; a field absent from this record reads as None."""

    __slots__ = ("record", "value")

    def __init__(self, record: dict[str, Any], value: Any) -> None:
        self.record, self.value = record, value

    def __getitem__(self, name: str) -> Any:
        if name == "value":
            return _as_decimal(self.value)
        return _as_decimal(self.record.get(name))


@dataclass
class Expression:
    text: str
    tree: ast.expr
    names: tuple[str, ...]
    """Source fields the expression reads (for the catalog check)."""

    def __post_init__(self) -> None:
        self._evaluator = SimpleEval(functions=dict(FUNCTIONS), names={})

    def evaluate(self, record: dict[str, Any], value: Any = None) -> Any:
        """The result; raises TransformError (without record data) when evaluation fails."""
        self._evaluator.names = _Names(record, value)
        try:
            return self._evaluator.eval(self.text, previously_parsed=self.tree)
        except TransformError:
            raise
        except Exception as exc:  # data-dependent failures (None + 1, bad types): a reason, not a crash
            raise TransformError(f"expression failed ({type(exc).__name__})") from None


def compile_expression(text: str) -> Expression:
    """Parse and check ``text``; raise ExpressionError with the 0-based offset of the fault."""
    if not text.strip():
        raise ExpressionError("empty expression")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        offset = max((exc.offset or 1) - 1, 0) if (exc.lineno or 1) == 1 else 0
        raise ExpressionError(f"invalid expression syntax: {exc.msg}", offset,
                              "expressions are one Python-like line, e.g. \"Amount * 1.1 if Amount else None\"") \
            from None
    names: list[str] = []
    for node in ast.walk(tree):
        offset = getattr(node, "col_offset", 0)
        if isinstance(node, _UNSUPPORTED):
            raise ExpressionError(f"{type(node).__name__} is not allowed in expressions", offset)
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise ExpressionError(f"name '{node.id}' is not allowed (names starting with '_' are private)",
                                      offset)
            if node.id not in FUNCTIONS and node.id not in _NOT_NAMES and node.id not in names:
                names.append(node.id)
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_") or node.attr in _FORBIDDEN_METHODS:
                raise ExpressionError(f"attribute '{node.attr}' is not allowed", node.end_col_offset
                                      - len(node.attr) if node.end_col_offset else offset)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in FUNCTIONS
              and not node.func.id.startswith("_")):
            from sync.yamlconf import did_you_mean

            raise ExpressionError(f"unknown function '{node.func.id}'", offset,
                                  did_you_mean(node.func.id, sorted(FUNCTIONS)))
    # a name used only as a called function is not a field
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    body = _Decimals().visit(tree).body
    return Expression(text, body, tuple(n for n in names if n not in called))
