"""Zero for levels: rows whose level is one of `levels` have 0 (or a blank) in every listed column (R10)."""

from __future__ import annotations

from ... import schema as S
from ...cells import number
from ..base import RuleKind, any_of, column_values, literal, offending_cells, quote_name


class ZeroForLevels(RuleKind):
    name = "zero_for_levels"

    def predicate(self, rule) -> str:
        levels = ", ".join(literal(x) for x in rule.params["levels"])
        nonzero = any_of([f"{quote_name(c)} <> 0" for c in rule.columns])
        return f"({quote_name(rule.params['level_column'])} IN ({levels}) AND {nonzero})"

    def explain(self, rule, values, level=None):
        if level not in rule.params.get("levels", []):
            return None
        nums = {c: number(v) for c, v in column_values(rule, values).items() if v is not None}
        bad = {c: n for c, n in nums.items() if n not in (None, 0)}
        fix = "本机关无权制定规章,“规章”各项应为 0;如填的是行政规范性文件,请移到“行政规范性文件”一行。"
        return offending_cells(rule, bad, fix, f"(本机关层级:{S.LEVELS.get(level, level)})")


KIND = ZeroForLevels()
