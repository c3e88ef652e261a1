"""GX half of the text_agrees kind: GX's own ExpectColumnPairValuesToBeEqual, no metric provider of ours."""

from __future__ import annotations

import great_expectations.expectations as gxe


def expectation(check, common: dict):
    """One expectation for one rule: the text's number equals the tables', rows with either blank ignored."""
    (rule,) = check.rules
    (a,), (b,) = rule.left, rule.right
    return gxe.ExpectColumnPairValuesToBeEqual(
        column_A=a, column_B=b, ignore_row_if="either_value_is_missing", **common
    )
