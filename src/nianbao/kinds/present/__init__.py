"""Cells present: every listed cell is printed (R9); an alternative is met by its whole group or its
single cell ((六)其他处理 printed as three sub-rows or as one row). Blank, “/”, “—”, “无” are missing."""

from __future__ import annotations

from ..base import RuleKind, any_of, column_values, offending_cells, quote_name


class Present(RuleKind):
    name = "present"
    marks_missing = True

    def predicate(self, rule) -> str:
        q = quote_name
        missing = [f"{q(c)} IS NULL" for c in rule.columns]
        for alt in rule.params.get("alternatives", []):
            group = " AND ".join(f"{q(c)} IS NOT NULL" for c in alt["group"])
            missing.append(f"NOT (({group}) OR {q(alt['single'])} IS NOT NULL)")
        return any_of(missing)

    def explain(self, rule, values, level=None):
        bad = {c: None for c, v in column_values(rule, values).items() if v is None}
        for alt in rule.params.get("alternatives", []):
            if values.get(alt["single"]) is None and any(values.get(g) is None for g in alt["group"]):
                bad.update({g: None for g in alt["group"] if values.get(g) is None})
        return offending_cells(rule, bad, "每一格都要填写数字:没有发生的填 0,不要留空或填“/”“—”“无”。")


KIND = Present()
