"""Cross-year identities (R11, R12): an identity over one agency's reports of adjacent years, read on
the year_pairs asset (nianbao.year_pairs). Checked like an identity (the same SQL predicate and GX
metric); explained with both years named, and not assessable when last year's report is missing or
incomplete (R11.previous lists those), never passed. R12 applies only when both years are in the 2021
format: a pair with a 2019-format year is no finding at all."""

from __future__ import annotations

from ... import schema as S
from ...cells import fmt, label
from ..base import FAILED, NOT_ASSESSABLE, Explanation
from ..identity import Identity, _numbers

PREV_STATUS_ZH = {
    "missing": "缺失(数据中没有该年度报告)",
    "rejected": "不完整(拒收,未能读出表格)",
    "partial": "不完整(部分解析)",
    "parsed": "不完整(相关单元格空白)",
}


def previous_problem(values) -> str:
    """Why last year's cells are blank, in Chinese: 上年(2023 年)报告缺失 / 不完整 …"""
    status = values.get("prev_status") or "missing"
    return f"上年({fmt(values.get('prev_year'))} 年)报告{PREV_STATUS_ZH.get(status, '不完整')}"


def applies(rule, values) -> bool:
    """R12 compares two 2021-format reports: not this year's in another format, nor last year's in 2019's."""
    if S.FORMAT_2021 not in rule.versions or S.FORMAT_2019 in rule.versions:
        return True
    if values.get("format_version") != S.FORMAT_2021:
        return False
    prev = values.get("prev_format_version")
    return prev in (None, S.FORMAT_2021)


class CrossYear(Identity):
    name = "cross_year"

    def explain(self, rule, values, level=None) -> Explanation | None:
        if not applies(rule, values):
            return None
        operands = (*rule.left, *rule.right)
        cells = {**_numbers(values, operands), "prev_year": values.get("prev_year")}
        year = values.get("prev_year") + 1 if values.get("prev_year") is not None else None
        missing = [c for c in operands if cells[c] is None]
        if missing:
            prev_blank = any(c.startswith("prev_") for c in missing)
            why = previous_problem(values) if prev_blank else f"缺少 {'、'.join(label(c) for c in missing)}"
            return Explanation(
                NOT_ASSESSABLE,
                f"{rule.description}:无法核验,{why}",
                cells,
                "补齐上年报告(或其缺失的单元格)后,才能核验两年数据的衔接。"
                if prev_blank
                else "填写缺失的单元格(没有发生的填 0),使该勾稽关系可以核验。",
            )
        left = sum(cells[c] for c in rule.left)
        right = sum(cells[c] for c in rule.right)
        if left == right:
            return None
        this, prev = f"{fmt(year)} 年报告", f"{fmt(values.get('prev_year'))} 年报告"
        if len(rule.left) == 1:  # R11: one cell of each year
            (a,), (b,) = rule.left, rule.right
            msg = (
                f"{rule.description}:{this}印刷“上年结转” {fmt(cells[a])},"
                f"{prev}印刷“结转下年度继续办理” {fmt(cells[b])}(相差 {fmt(left - right)})"
            )
            fix = f"核对两年报告:{this}的“上年结转”应等于{prev}的“结转下年度继续办理”({fmt(cells[b])})。"
            printed, expected = cells[a], cells[b]
        else:  # R12: in_force + repealed = prev_in_force + issued
            in_force, repealed = rule.left
            prev_in_force, issued = rule.right
            expected = cells[prev_in_force] + cells[issued] - cells[repealed]
            msg = (
                f"{rule.description}:应为 {prev}现行有效 {fmt(cells[prev_in_force])} + 本年制发 {fmt(cells[issued])}"
                f" − 本年废止 {fmt(cells[repealed])} = {fmt(expected)},{this}印刷现行有效 {fmt(cells[in_force])}"
                f"(相差 {fmt(cells[in_force] - expected)})"
            )
            fix = "核对本年制发、废止件数和现行有效件数;如上年报告的现行有效件数有误,请在报告中说明。"
            printed = cells[in_force]
        # Both sides as one cell of this year's report: printed against what last year's report implies
        # (R12's 现行有效 = last year's + 制发 − 废止), so exports' 应为 is the number the cell should hold.
        return Explanation(FAILED, msg, cells, fix, float(printed), float(expected))

    def sides(self, rule, left, right, difference) -> str:
        return f"应为 {fmt(right)}(按上年报告推算),印刷为 {fmt(left)},相差 {fmt(difference)}"

    def modules(self) -> list[str]:
        return [*super().modules(), "nianbao.kinds.identity", "nianbao.kinds.identity.gx"]


KIND = CrossYear()
