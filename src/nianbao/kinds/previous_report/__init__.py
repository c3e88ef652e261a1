"""Previous report present (R11.previous): the cells the cross-year rules read are printed, last year's
and this year's.

Checked like R9 (the present kind's SQL predicate and GX metric, alternatives included) on the year_pairs
asset; it marks the report's cross-year identities not assessable, and says why in Chinese: last year's
report is missing, rejected, or partial with those cells blank; or this year's cells are blank (R9 names
them too)."""

from __future__ import annotations

from ...cells import label
from ..base import FAILED, Explanation, column_values
from ..cross_year import previous_problem
from ..present import Present


class PreviousReport(Present):
    name = "previous_report"

    def explain(self, rule, values, level=None) -> Explanation | None:
        blank = [c for c, v in column_values(rule, values).items() if v is None]
        for alt in rule.params.get("alternatives", []):
            if values.get(alt["single"]) is None:
                blank += [c for c in alt["group"] if values.get(c) is None]
        if not blank:
            return None
        cells = {**dict.fromkeys(blank), "prev_year": values.get("prev_year")}
        prev = [c for c in blank if c.startswith("prev_")]
        this = [c for c in blank if not c.startswith("prev_")]
        why, fix = [], []
        if prev:
            status = values.get("prev_status") or "missing"
            detail = "" if status in ("missing", "rejected") else ":" + "、".join(label(c) for c in prev)
            why.append(f"{previous_problem(values)}{detail}")
            fix.append("导入上年报告(或补齐其缺失的单元格)")
        if this:
            why.append("本年报告空白:" + "、".join(label(c) for c in this))
            fix.append("填写本年报告空白的单元格(没有发生的填 0)")
        return Explanation(
            FAILED,
            f"{';'.join(why)};跨年度勾稽关系(R11、R12)无法核验",
            cells,
            f"{',并'.join(fix)},使两年数据的衔接可以核验。",
        )

    def modules(self) -> list[str]:
        return [*super().modules(), "nianbao.kinds.present", "nianbao.kinds.present.gx"]


KIND = PreviousReport()
