"""At most: a count or share the run derived from the report's text stays at or below `max_value`
(R24–R25 missing parts, R27 an empty 五, R30 copied text); a blank is no finding. The message names
the row's fields its template lists (the missing sections, the other report, the shares)."""

from __future__ import annotations

from ..base import FAILED, Explanation, RuleKind, quote_name
from ..text_agrees import fields


class AtMost(RuleKind):
    name = "at_most"

    def predicate(self, rule) -> str:
        (column,) = rule.columns
        return f"({quote_name(column)} > {rule.params['max_value']})"

    def explain(self, rule, values, level=None) -> Explanation | None:
        (column,) = rule.columns
        value = values.get(column)
        if value is None or value <= rule.params["max_value"]:
            return None
        names = rule.params.get("fields", ())
        message = rule.params["message"].format_map(fields(values, (column, *names)))
        cells = {column: value, **{n: values.get(n) for n in rule.params.get("cells", ())}}
        return Explanation(FAILED, f"{rule.description}:{message}", cells, rule.params["fix"])

    def modules(self) -> list[str]:
        return [*super().modules(), "nianbao.kinds.text_agrees"]


KIND = AtMost()
