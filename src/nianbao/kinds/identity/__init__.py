"""Identities: sum(left) <op> sum(right) on one row (R1–R4, R7, R8), op one of ==, <=, >=.

When every column of `alt_group` is blank, `alt_column` stands in for their sum: (六)其他处理
printed as one row instead of three sub-rows. A blank operand makes the identity not assessable.
"""

from __future__ import annotations

import operator

from ... import schema as S
from ...cells import fmt, label, number, short_labels
from ...datafolder import values_of
from ..base import FAILED, NOT_ASSESSABLE, Explanation, RuleKind, quote_name

SQL_OPS = {"==": "=", "<=": "<=", ">=": ">="}
HOLDS = {"==": operator.eq, "<=": operator.le, ">=": operator.ge}


def _sum(columns) -> str:
    return " + ".join(quote_name(c) for c in columns) or "0"


def _terms(cols, cells: dict, names: dict[str, str]) -> str:
    return " + ".join(f"{names[c]} {fmt(cells[c])}" for c in cols)


def effective_right(rule, values) -> tuple[str, ...]:
    """Right operands, the (六) sub-rows replaced by their single row when all of them are blank."""
    if rule.alt_group and all(values.get(c) is None for c in rule.alt_group):
        return (*tuple(c for c in rule.right if c not in rule.alt_group), rule.alt_column)
    return rule.right


def printed_right(rule, values) -> tuple[str, ...]:
    """Right operands as the report's format prints them, for naming blanks: when (六) is blank both
    as sub-rows and as one row, a 2021 report is missing its three sub-rows, not the 2019 single row."""
    right = effective_right(rule, values)
    if (
        rule.alt_column in right
        and values.get(rule.alt_column) is None
        and values.get("format_version") != S.FORMAT_2019
    ):
        return (*tuple(c for c in right if c != rule.alt_column), *rule.alt_group)
    return right


def _numbers(values, columns: tuple[str, ...]) -> dict:
    """number() of each column's value (ints, nearly every cell, as they are; a night explains 300,000)."""
    return {c: v if type(v) is int else number(v) for c, v in zip(columns, values_of(values, columns))}


class Identity(RuleKind):
    name = "identity"
    grouped = True
    needs_every_operand = True

    def predicate(self, rule) -> str:
        rhs = _sum(c for c in rule.right if c not in rule.alt_group)
        if rule.alt_group:
            all_null = " AND ".join(f"{quote_name(c)} IS NULL" for c in rule.alt_group)
            rhs += f" + CASE WHEN {all_null} THEN {quote_name(rule.alt_column)} ELSE {_sum(rule.alt_group)} END"
        return f"NOT (({_sum(rule.left)}) {SQL_OPS[rule.op]} ({rhs}))"

    def explain(self, rule, values, level=None) -> Explanation | None:
        right = printed_right(rule, values)
        operands = (*rule.left, *right)
        cells = _numbers(values, operands)
        missing = [c for c in operands if cells[c] is None]
        if missing:
            return Explanation(
                NOT_ASSESSABLE,
                f"{rule.description}:无法核验,缺少 {'、'.join(label(c) for c in missing)}",
                cells,
                "填写缺失的单元格(没有发生的填 0),使该勾稽关系可以核验。",
            )
        left = sum(cells[c] for c in rule.left)
        rsum = sum(cells[c] for c in right)
        if HOLDS[rule.op](left, rsum):
            return None
        names = short_labels(operands)
        diff = left - rsum
        if rule.op == ">=" and not right:
            msg = f"{rule.description}:{_terms(rule.left, cells, names)} = {fmt(left)},小于 0"
            fix = "核对上一年项目数量与本年增/减,两者之和不能为负。"
        elif rule.op == "<=":
            msg = (
                f"{rule.description}:{_terms(rule.left, cells, names)},大于 {_terms(right, cells, names)} = {fmt(rsum)}"
            )
            fix = "结转下年度继续办理的申请数不能超过本年新收与上年结转之和,请核对这几格。"
        elif len(rule.left) == 1:
            name = label(rule.left[0])
            msg = (
                f"{rule.description}:应为 {_terms(right, cells, names)} = {fmt(rsum)},"
                f"印刷为 {fmt(left)}(相差 {fmt(diff)})"
            )
            negative = [c for c in right if cells[c] < 0]
            if negative:  # never advise a negative count (R5): the negative operand is the error to fix first
                fix = f"「{label(negative[0])}」为负数,统计数不能为负:先改正该格,再核对「{name}」。"
            else:
                fix = f"核对「{name}」和各分项:分项无误时,「{name}」应改为 {fmt(rsum)}。"
        else:
            msg = (
                f"{rule.description}:左边 {_terms(rule.left, cells, names)} = {fmt(left)},"
                f"右边 {_terms(right, cells, names)} = {fmt(rsum)}(相差 {fmt(diff)})"
            )
            fix = "核对这几格,使等式两边相等(第一项加第二项之和,等于第三项加第四项之和)。"
        return Explanation(FAILED, msg, cells, fix, float(left), float(rsum))

    def sides(self, rule, left, right, difference) -> str:
        if len(rule.left) == 1 and rule.op == "==":
            return f"应为 {fmt(right)}(各分项之和),印刷为 {fmt(left)},相差 {fmt(difference)}"
        return super().sides(rule, left, right, difference)


KIND = Identity()
