"""crm2's one safe-expression language: mapping expressions and scoring conditions (the latter
re-exported by sync.enrich.expressions).

Data teams write Python-like one-liners in two places: a mapping field's ``expr`` (evaluated
per record with simpleeval, a tree walker) and a scoring rule's ``when`` condition (compiled
once to a code object, because it runs for every customer). Both are checked here when their
file loads, share one :class:`ExpressionError`, and share the bounds that keep a hostile or
careless expression from hanging the run or exhausting memory:

* every operation that can grow a value is checked *before* it runs: ``**`` and ``<<`` (at most
  :data:`MAX_INT_BITS` bits), ``*`` and ``+`` on text and lists, ``replace``, ``join``, padding
  (``ljust``/``rjust``/``center``/``zfill``), ``%``-format and f-string widths (at most
  :data:`MAX_WIDTH`); every value an expression builds is at most :data:`MAX_SIZE` characters
  or items (nested ones counted);
* only whitelisted methods may be called (:data:`METHODS`), never ``format``/``format_map``;
* a mapping expression's evaluation may take at most :data:`TIME_BUDGET` seconds;
* a constant sub-expression is evaluated at load: one certain to fail (``9**9**9``, ``1/0``)
  is an error at its file:line:column, not a quarantined record a million times.

At run time a bound tripped by the record's own data raises :class:`LimitExceeded` (a
:class:`~sync.mapping.errors.TransformError`), so that record alone is quarantined with the
reason. simpleeval's own limits are kept too; ours are stricter and cover more operations.
"""

from __future__ import annotations

import ast
import operator
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import CodeType
from typing import Any, cast

from simpleeval import SimpleEval

from sync.mapping import values
from sync.mapping.errors import TransformError

MAX_SOURCE = 2_000
"""Longest expression text, in characters."""
MAX_SIZE = 100_000
"""Largest text (characters) or collection (items, nested items counted) an expression may build."""
MAX_INT_BITS = 4_096
"""Largest integer an expression may build (about 1,233 digits)."""
MAX_WIDTH = 1_000
"""Largest width or precision in a %-format or an f-string format spec."""
TIME_BUDGET = 1.0
"""Seconds one evaluation of a mapping expression may take."""


class ExpressionError(ValueError):
    """An expression that does not parse, uses something outside the safe subset, or must fail.

    ``offset`` is the 0-based position of the fault in the expression text (0 when unknown)."""

    def __init__(self, message: str, offset: int = 0, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.offset, self.hint = message, offset, hint


class LimitExceeded(TransformError):
    """A bound of the expression language was reached; the message names it, never the data."""


# -- bounded operations (shared by both kinds of expression) -------------------------------------

def size_of(value: Any, limit: int = MAX_SIZE) -> int:
    """Characters of text plus items of collections, nested ones counted; stops past ``limit``."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            stack.extend(item)
        if total > limit:
            break
    return total


def checked(value: Any) -> Any:
    """``value``, if within the bounds on size and integer width."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > MAX_INT_BITS:
            raise LimitExceeded(f"expression result too large (over {MAX_INT_BITS:,} bits)")
    elif isinstance(value, str | bytes | list | tuple | dict | set | frozenset) and size_of(value) > MAX_SIZE:
        raise LimitExceeded(f"expression result too large (over {MAX_SIZE:,} characters or items)")
    return value


def _too_big(what: str) -> LimitExceeded:
    return LimitExceeded(f"{what} too large (limit {MAX_SIZE:,} characters or items)")


def safe_pow(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool):
        if b > 0 and abs(a) > 1 and max(abs(a).bit_length() - 1, 1) * b > MAX_INT_BITS:
            raise LimitExceeded(f"power too large (over {MAX_INT_BITS:,} bits)")
    # mypy joins abs() over int | Decimal | float to object
    elif isinstance(b, int | Decimal | float) and abs(b) > MAX_INT_BITS:  # type: ignore[operator]
        raise LimitExceeded(f"exponent too large (limit {MAX_INT_BITS:,})")
    return checked(a**b)


def safe_lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        raise LimitExceeded(f"shift too large (over {MAX_INT_BITS:,} bits)")
    return a << b


def _repeat_size(seq: Any, times: Any) -> bool:
    return isinstance(times, int) and times > 0 and size_of(seq) * times > MAX_SIZE


def safe_mul(a: Any, b: Any) -> Any:
    if (isinstance(a, str | bytes | list | tuple) and _repeat_size(a, b)) or \
            (isinstance(b, str | bytes | list | tuple) and _repeat_size(b, a)):
        raise _too_big("repetition")
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
        raise LimitExceeded(f"product too large (over {MAX_INT_BITS:,} bits)")
    return a * b


def safe_add(a: Any, b: Any) -> Any:
    if isinstance(a, str | bytes | list | tuple) and isinstance(b, str | bytes | list | tuple) \
            and size_of(a) + size_of(b) > MAX_SIZE:
        raise _too_big("concatenation")
    return checked(a + b)


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")


def check_percent_format(template: str) -> None:
    """Refuse a %-format whose widths could build a huge string (or are taken from the data)."""
    for width, precision in _PERCENT_SPEC.findall(template):
        for number in (width, precision):
            if number == "*" or (number and int(number) > MAX_WIDTH):
                raise LimitExceeded(f"format width too large (limit {MAX_WIDTH:,})")


def safe_mod(a: Any, b: Any) -> Any:
    if isinstance(a, str):
        check_percent_format(a)
        return checked(a % b)
    return a % b


_FORMAT_SPEC = re.compile(r"^(?:.?[<>=^])?[-+ ]?[#z]?0?(\d*)[,_]?(?:\.(\d+))?[a-zA-Z%]?$")


def check_format_spec(spec: str) -> None:
    """Refuse a format spec (``{x:>20}``) whose width or precision passes :data:`MAX_WIDTH`."""
    found = _FORMAT_SPEC.match(spec)
    if not found:
        raise LimitExceeded("format spec not understood")
    if any(n and int(n) > MAX_WIDTH for n in found.groups()):
        raise LimitExceeded(f"format width too large (limit {MAX_WIDTH:,})")


def _width(width: Any) -> None:
    if isinstance(width, int) and width > MAX_SIZE:
        raise _too_big("padding")


def _pad(name: str) -> Callable[..., Any]:
    def pad(text: Any, width: Any, *rest: Any) -> Any:
        _width(width)
        return getattr(text, name)(width, *rest)
    return pad


def _replace(text: Any, old: Any, new: Any, count: Any = -1) -> Any:
    if isinstance(text, str | bytes) and isinstance(old, str | bytes) and isinstance(new, str | bytes):
        # mixed str/bytes raises TypeError here just as text.replace() would
        hits = text.count(old) if old else len(text) + 1  # type: ignore[arg-type]
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        if len(text) + hits * max(len(new) - len(old), 0) > MAX_SIZE:
            raise _too_big("replace result")
    return text.replace(old, new, count)


def _join(sep: Any, items: Any) -> Any:
    items = list(items)
    if isinstance(sep, str | bytes) and size_of(items) + len(sep) * max(len(items) - 1, 0) > MAX_SIZE:
        raise _too_big("join result")
    return sep.join(items)


def _expandtabs(text: Any, tabsize: Any = 8) -> Any:
    if isinstance(text, str) and isinstance(tabsize, int) and len(text) + text.count("\t") * tabsize > MAX_SIZE:
        raise _too_big("expandtabs result")
    return text.expandtabs(tabsize)


def _plain(name: str) -> Callable[..., Any]:
    return lambda obj, *args, **kwargs: getattr(obj, name)(*args, **kwargs)


_GUARDED: dict[str, Callable[..., Any]] = {
    "replace": _replace, "join": _join, "expandtabs": _expandtabs,
    **{name: _pad(name) for name in ("ljust", "rjust", "center", "zfill")},
}
METHODS: dict[str, Callable[..., Any]] = {
    **{name: _plain(name) for name in (
        "strip", "lstrip", "rstrip", "lower", "upper", "title", "capitalize", "casefold", "swapcase",
        "startswith", "endswith", "find", "rfind", "index", "rindex", "count", "split", "rsplit", "splitlines",
        "partition", "rpartition", "removeprefix", "removesuffix", "isdigit", "isalpha", "isalnum", "isspace",
        "isnumeric", "isdecimal", "islower", "isupper", "istitle", "get", "keys", "values", "items",
        "quantize", "normalize", "is_finite", "is_nan", "to_integral_value", "isoformat", "date", "weekday",
        "isoweekday", "strftime", "timestamp")},
    **_GUARDED,
}
"""The methods an expression may call, by name; those that can grow a value are bounded."""


# -- mapping expressions (simpleeval, per record) -------------------------------------------------

def _coalesce(*args: Any) -> Any:
    return next((a for a in args if a is not None and a != ""), None)


def _concat(*args: Any, sep: str = "") -> str:
    parts = [str(a) for a in args if a is not None and a != ""]
    return _join(str(sep), parts)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else values.to_decimal(value)


def _int(value: Any) -> int | None:
    return None if value is None else checked(values.to_int(value))


def _str(value: Any = "") -> str:
    return checked(str(value))


def _round(number: Any, digits: Any = None) -> Any:
    if isinstance(digits, int) and abs(digits) > MAX_WIDTH:
        raise LimitExceeded(f"round() digits too large (limit {MAX_WIDTH:,})")
    return round(number) if digits is None else round(number, digits)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "Decimal": _decimal, "decimal": _decimal, "int": _int, "str": _str, "bool": values.to_bool,
    "len": len, "abs": abs, "round": _round, "min": min, "max": max,
    "coalesce": _coalesce, "concat": _concat,
    "date": values.to_date, "datetime": values.to_datetime,
}
_NOT_NAMES = {"value"}
_UNSUPPORTED = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.NamedExpr,
                ast.Await, ast.Yield, ast.YieldFrom, ast.Starred)
_OPERATORS: dict[type, Callable[..., Any]] = {ast.Pow: safe_pow, ast.Mult: safe_mul, ast.Add: safe_add,
                                             ast.LShift: safe_lshift, ast.Mod: safe_mod}


def _as_decimal(value: Any) -> Any:
    return Decimal(repr(value)) if isinstance(value, float) else value


class _Decimals(ast.NodeTransformer):
    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        if isinstance(node.value, float):
            # simpleeval reads node.value and never compiles the tree, so any object may sit here
            return ast.copy_location(ast.Constant(Decimal(repr(node.value))), node)  # type: ignore[arg-type]
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


class _BoundedEval(SimpleEval):
    """simpleeval with crm2's bounds: operators and methods checked, every result sized, a deadline."""

    def __init__(self) -> None:
        super().__init__(functions=dict(FUNCTIONS), names={})
        self.operators.update(_OPERATORS)
        self.deadline = 0.0

    def _eval(self, node: ast.AST) -> Any:
        if time.perf_counter() > self.deadline:
            raise LimitExceeded(f"expression took longer than {TIME_BUDGET:g} s")
        return checked(super()._eval(node))

    def _eval_call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Attribute):
            method = METHODS.get(node.func.attr)
            if method is None:  # compile_expression refuses these; a safety net for trees built elsewhere
                raise LimitExceeded(f"method '{node.func.attr}' is not allowed")
            target = self._eval(node.func.value)
            args = [self._eval(a) for a in node.args]
            kwargs = {k.arg: self._eval(k.value) for k in node.keywords if k.arg}
            return method(target, *args, **kwargs)
        return super()._eval_call(node)

    def _eval_formattedvalue(self, node: ast.FormattedValue) -> Any:
        if node.format_spec is not None:
            check_format_spec(str(self._eval(node.format_spec)))
        return super()._eval_formattedvalue(node)

    def evaluate(self, text: str, tree: ast.expr, names: Any) -> Any:
        self.names = names
        self.deadline = time.perf_counter() + TIME_BUDGET
        return self.eval(text, previously_parsed=tree)


@dataclass
class Expression:
    """A checked mapping expression; :meth:`evaluate` runs it on one record."""

    text: str
    tree: ast.expr
    names: tuple[str, ...]
    """Source fields the expression reads (for the catalog check)."""

    def __post_init__(self) -> None:
        self._evaluator = _BoundedEval()

    def evaluate(self, record: dict[str, Any], value: Any = None) -> Any:
        """The result; raises TransformError (without record data) when evaluation fails."""
        try:
            return self._evaluator.evaluate(self.text, self.tree, _Names(record, value))
        except LimitExceeded as exc:
            raise TransformError(f"expression stopped: {exc}") from None
        except TransformError:
            raise
        except Exception as exc:  # data-dependent failures (None + 1, bad types): a reason, not a crash
            raise TransformError(f"expression failed ({type(exc).__name__})") from None


def compile_expression(text: str) -> Expression:
    """Parse and check ``text``; raise ExpressionError with the 0-based offset of the fault."""
    if not text.strip():
        raise ExpressionError("empty expression")
    if len(text) > MAX_SOURCE:
        raise ExpressionError(f"expression longer than {MAX_SOURCE:,} characters", MAX_SOURCE)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        offset = max((exc.offset or 1) - 1, 0) if (exc.lineno or 1) == 1 else 0
        raise ExpressionError(f"invalid expression syntax: {exc.msg}", offset,
                              "expressions are one Python-like line, e.g. \"Amount * 1.1 if Amount else None\"") \
            from None
    names: list[str] = []
    # left to right, so the first fault reported is the first one a reader meets
    for node in sorted(ast.walk(tree), key=lambda n: (getattr(n, "col_offset", 0), getattr(n, "end_col_offset", 0))):
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
            where = node.end_col_offset - len(node.attr) if node.end_col_offset else offset
            if node.attr.startswith("_"):
                raise ExpressionError(f"attribute '{node.attr}' is not allowed", where)
            if node.attr not in METHODS:
                from sync.yamlconf import did_you_mean

                raise ExpressionError(f"attribute '{node.attr}' is not allowed", where,
                                      did_you_mean(node.attr, sorted(METHODS)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in FUNCTIONS
              and not node.func.id.startswith("_")):
            from sync.yamlconf import did_you_mean

            raise ExpressionError(f"unknown function '{node.func.id}'", offset,
                                  did_you_mean(node.func.id, sorted(FUNCTIONS)))
    # a name used only as a called function is not a field
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    body = _Decimals().visit(tree).body
    _fold_constants(body, lambda node: _BoundedEval().evaluate(text, cast(ast.expr, node), {}), set(FUNCTIONS))
    _check_constant_widths(body, text)
    return Expression(text, body, tuple(n for n in names if n not in called))


def _check_constant_widths(tree: ast.AST, text: str) -> None:
    """Padding to a constant width beyond the bound fails for every record: say so at load."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args
                and node.func.attr in ("ljust", "rjust", "center", "zfill")
                and _is_constant(node.args[0], set(FUNCTIONS))):
            try:
                width = _BoundedEval().evaluate(text, node.args[0], {})
                _width(width)
            except LimitExceeded as exc:
                raise ExpressionError(f"this part always fails: {exc}", node.args[0].col_offset) from None
            except Exception:
                return  # not a number: fails per record with its reason


def _is_constant(node: ast.AST, functions: set[str]) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id not in functions:
            return False
        if isinstance(sub, ast.Name) and sub.id in {"date", "datetime"}:
            return False  # 'now'-like results are not constants worth folding
    return True


def _fold_constants(node: ast.AST, evaluate: Callable[[ast.AST], Any], functions: set[str]) -> None:
    """Evaluate every largest constant sub-expression once; one that fails is a load error.

    A bare literal cannot fail and is skipped; ``9**9**9`` or ``'x' * 10**9`` fail here, with the
    offset of the sub-expression, instead of on every record."""
    if isinstance(node, ast.Constant | ast.Name):
        return
    if isinstance(node, ast.expr) and _is_constant(node, functions):
        try:
            evaluate(node)
        except LimitExceeded as exc:
            raise ExpressionError(f"this part always fails: {exc}", getattr(node, "col_offset", 0)) from None
        except TransformError:
            return  # a function refusing a constant argument is reported per record by the mapping
        except Exception as exc:
            raise ExpressionError(f"this part always fails ({type(exc).__name__})",
                                  getattr(node, "col_offset", 0)) from None
        return
    for child in ast.iter_child_nodes(node):
        _fold_constants(child, evaluate, functions)


# -- scoring conditions (compiled once, run per customer) -----------------------------------------

_CONDITION_FUNCTIONS: dict[str, Any] = {"min": min, "max": max, "abs": abs}


def _known(fn: Any) -> Any:
    """An operator that gives None (unknown) when an operand is None, instead of failing."""
    return lambda a, b: None if a is None or b is None else fn(a, b)


# Comparisons and arithmetic are rewritten into these, so a measure without data makes its
# own comparison false without hiding the rest of the condition ("x < 5 or y == 0").
_CONDITION_OPERATORS: dict[str, Any] = {
    "_lt": _known(operator.lt), "_le": _known(operator.le), "_gt": _known(operator.gt),
    "_ge": _known(operator.ge), "_add": _known(safe_add), "_sub": _known(operator.sub),
    "_mul": _known(safe_mul), "_div": _known(lambda a, b: None if b == 0 else a / b),
}
_OP_NAMES = {ast.Lt: "_lt", ast.LtE: "_le", ast.Gt: "_gt", ast.GtE: "_ge",
             ast.Add: "_add", ast.Sub: "_sub", ast.Mult: "_mul", ast.Div: "_div"}
_GLOBALS: dict[str, Any] = {"__builtins__": {}, **_CONDITION_FUNCTIONS, **_CONDITION_OPERATORS}

_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Name, ast.Load, ast.Constant, ast.Call,
)


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
        except (TypeError, LimitExceeded):
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
    if len(source) > MAX_SOURCE:
        raise ExpressionError(f"condition longer than {MAX_SOURCE:,} characters", MAX_SOURCE)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"condition does not parse: {exc.msg}") from None
    names: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"'{type(node).__name__}' is not allowed in a condition",
                                  getattr(node, "col_offset", 0))
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _CONDITION_FUNCTIONS or node.keywords:
                raise ExpressionError("only min(...), max(...) and abs(...) may be called", node.col_offset)
        elif isinstance(node, ast.Constant) and not isinstance(node.value, int | float | str | bool | None):
            raise ExpressionError(f"constant {node.value!r} is not allowed", node.col_offset)
        elif isinstance(node, ast.Name) and node.id not in _CONDITION_FUNCTIONS and node.id not in names:
            names.append(node.id)
    rewritten = ast.fix_missing_locations(_Rewrite().visit(tree))

    def evaluate(node: ast.AST) -> Any:
        # whitelisted above
        return eval(compile(ast.Expression(cast(ast.expr, node)), "<condition>", "eval"), _GLOBALS, {})

    _fold_constants(rewritten.body, evaluate, set(_CONDITION_FUNCTIONS) | set(_CONDITION_OPERATORS))
    return Condition(source, compile(rewritten, "<condition>", "eval"), tuple(names))
