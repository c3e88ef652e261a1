"""Non-negative integers: every non-null cell of the listed columns is >= 0 and whole (R5)."""

from __future__ import annotations

from ...cells import number
from ..base import RuleKind, any_of, column_values, offending_cells, quote_name


class NonNegative(RuleKind):
    name = "non_negative"

    def predicate(self, rule) -> str:
        q = quote_name
        return any_of([f"{q(c)} < 0 OR {q(c)} <> CAST({q(c)} AS BIGINT)" for c in rule.columns])

    def explain(self, rule, values, level=None):
        vals = column_values(rule, values)
        # Most cells are non-negative ints: only the others need number() (Decimal, float, NaN).
        nums = {c: number(v) for c, v in vals.items() if v is not None and not (type(v) is int and v >= 0)}
        bad = {c: n for c, n in nums.items() if n is not None and (n < 0 or n != int(n))}
        return offending_cells(rule, bad, "统计数是非负整数,请改为实际件数。")


KIND = NonNegative()
