"""What every rule kind provides, and the Explanation of one broken rule."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..cells import fmt, label
from ..datafolder import values_of

if TYPE_CHECKING:
    from ..rules import Check, Rule

FAILED, NOT_ASSESSABLE = "failed", "not_assessable"


@dataclass
class Explanation:
    """Why one report breaks one rule, in Chinese: status, message, the cells involved and the fix."""

    status: str  # failed | not_assessable
    message: str
    cells: dict[str, Any]
    fix: str
    left: float | None = None  # identities: both sides as printed
    right: float | None = None


def quote_name(column: str) -> str:
    """An SQL identifier."""
    return '"' + column.replace('"', '""') + '"'


def literal(text: str) -> str:
    """An SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def any_of(conditions: list[str]) -> str:
    """SQL: true when any condition is."""
    return "(" + " OR ".join(conditions) + ")"


class RuleKind:
    """One kind of rule. Subclasses live in their own module of nianbao.kinds, with a `gx` module beside."""

    name: str = ""
    # Identities of a family share one expectation (GX's cost is per expectation); other kinds have one each.
    grouped: bool = False
    # A blank operand leaves the rule not assessable (never a pass): findings say so for each such rule.
    needs_every_operand: bool = False
    # The rule lists the report's missing cells (R9): they make the needs_every_operand rules not assessable.
    marks_missing: bool = False

    def predicate(self, rule: Rule) -> str:
        """SQL that is TRUE exactly when a row breaks `rule` (NULL or FALSE otherwise)."""
        raise NotImplementedError

    def explain(self, rule: Rule, values: Mapping, level: str | None) -> Explanation | None:
        """Why `values` break `rule`, in Chinese; None when they do not."""
        raise NotImplementedError

    def sides(self, rule: Rule, left: float, right: float, difference: float) -> str:
        """One line on both sides of a broken rule, for the gate's verdict (identities have sides)."""
        return f"左边合计 {fmt(left)},右边合计 {fmt(right)},相差 {fmt(difference)}"

    def expectation(self, check: Check, common: dict):
        """The GX expectation of one check, with `common` (severity, meta, notes) passed through."""
        return self.gx().expectation(check, common)

    def gx(self):
        """The kind's GX module (its metric provider and expectation), imported on first use."""
        return importlib.import_module(f"{type(self).__module__}.gx")

    def modules(self) -> list[str]:
        """The modules that define this kind."""
        return [type(self).__module__, f"{type(self).__module__}.gx"]


def offending_cells(rule: Rule, bad: dict[str, Any], fix: str, note: str = "") -> Explanation | None:
    """The explanation of a cell rule: the first six offending cells with their values; None if none."""
    if not bad:
        return None
    shown = "、".join(f"{label(c)}({fmt(v)})" for c, v in list(bad.items())[:6])
    more = f" 等 {len(bad)} 格" if len(bad) > 6 else ""
    return Explanation(FAILED, f"{rule.description}{note}:{shown}{more}", bad, fix)


def column_values(rule: Rule, values: Mapping) -> dict[str, Any]:
    """The values of the rule's columns, by column."""
    return dict(zip(rule.columns, values_of(values, rule.columns)))
