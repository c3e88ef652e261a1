"""Text agrees: a number the report's text states equals the one its tables (or its metadata) hold
(R17–R19, R23). Only a number the text states clearly is compared (nianbao.text_facts): a blank on
either side is no finding, since most reports do not state every number."""

from __future__ import annotations

from ...cells import fmt
from ..base import FAILED, Explanation, RuleKind, quote_name


class _Blank(dict):
    """Template fields: a missing one prints as nothing."""

    def __missing__(self, key):
        return ""


def _shown(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else fmt(value)  # a quoted sentence stays as printed


def fields(values, names) -> _Blank:
    """The row's values a message template names, as text."""
    return _Blank({n: _shown(values.get(n)) for n in names})


class TextAgrees(RuleKind):
    name = "text_agrees"

    def predicate(self, rule) -> str:
        (a,), (b,) = rule.left, rule.right
        return f"({quote_name(a)} IS NOT NULL AND {quote_name(b)} IS NOT NULL AND {quote_name(a)} <> {quote_name(b)})"

    def explain(self, rule, values, level=None) -> Explanation | None:
        (a,), (b,) = rule.left, rule.right
        stated, held = values.get(a), values.get(b)
        if stated is None or held is None or stated == held:
            return None
        shown = fields(values, rule.params.get("fields", ()))
        shown.update(stated=fmt(stated), table=fmt(held))
        message = rule.params["message"].format_map(shown)
        return Explanation(FAILED, f"{rule.description}:{message}", {a: stated, b: held}, rule.params["fix"])

    def sides(self, rule, left, right, difference) -> str:
        return f"正文 {fmt(left)},表格 {fmt(right)}"


KIND = TextAgrees()
