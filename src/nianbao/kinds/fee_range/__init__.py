"""Fee range: the fee (万元) lies within [min_value, max_value] (R6); either bound may be absent."""

from __future__ import annotations

from ...cells import number
from ..base import RuleKind, any_of, column_values, offending_cells, quote_name


class FeeRange(RuleKind):
    name = "fee_range"

    def predicate(self, rule) -> str:
        c, low, high = quote_name(rule.columns[0]), rule.params.get("min_value"), rule.params.get("max_value")
        return any_of(([f"{c} < {low}"] if low is not None else []) + ([f"{c} > {high}"] if high is not None else []))

    def explain(self, rule, values, level=None):
        lo, hi = rule.params.get("min_value"), rule.params.get("max_value")
        nums = {c: number(v) for c, v in column_values(rule, values).items() if v is not None}
        bad = {
            c: n
            for c, n in nums.items()
            if n is not None and ((lo is not None and n < lo) or (hi is not None and n > hi))
        }
        fix = "收费金额单位为万元,请确认是否误以“元”填报。" if hi is not None else "收费金额不能为负数,请核对。"
        return offending_cells(rule, bad, fix)


KIND = FeeRange()
