"""Conditions over measures, as data teams write them in scoring.yml (``days_since_last_order >=
365 and orders_total > 0``).

They are one half of crm2's one safe-expression language, which lives in
:mod:`sync.mapping.expressions` with the mapping expressions: the same :class:`ExpressionError`,
the same bounds on what an expression may build, the same load-time check of constant parts.
This module keeps the names scoring code imports.
"""

from __future__ import annotations

from sync.mapping.expressions import Condition, ExpressionError, LimitExceeded, compile_condition

__all__ = ["Condition", "ExpressionError", "LimitExceeded", "compile_condition"]
