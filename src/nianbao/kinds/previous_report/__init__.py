"""Previous report present (R11.previous): last year's cells the cross-year rules read are printed.

Checked like R9 (the present kind's SQL predicate and GX metric) on the year_pairs asset; it marks the
report's cross-year identities not assessable, and says why in Chinese: last year's report is missing,
rejected, or partial with those cells blank."""

from __future__ import annotations

from ...cells import label
from ..base import FAILED, Explanation, column_values
from ..cross_year import previous_problem
from ..present import Present


class PreviousReport(Present):
    name = "previous_report"

    def explain(self, rule, values, level=None) -> Explanation | None:
        blank = {c: None for c, v in column_values(rule, values).items() if v is None}
        if not blank:
            return None
        cells = {**blank, "prev_year": values.get("prev_year")}
        status = values.get("prev_status") or "missing"
        detail = "" if status in ("missing", "rejected") else ":" + "、".join(label(c) for c in blank)
        return Explanation(
            FAILED,
            f"{previous_problem(values)}{detail};跨年度勾稽关系(R11、R12)无法核验",
            cells,
            "导入上年报告(或补齐其表三“结转下年度继续办理”一行),使两年数据的衔接可以核验。",
        )

    def modules(self) -> list[str]:
        return [*super().modules(), "nianbao.kinds.present", "nianbao.kinds.present.gx"]


KIND = PreviousReport()
