"""GX half of the at_most kind: GX's own ExpectColumnValuesToBeBetween with an upper bound."""

from __future__ import annotations

import great_expectations.expectations as gxe


def expectation(check, common: dict):
    """One expectation for one rule, on its single column (GX ignores blanks, as the kind does)."""
    (rule,) = check.rules
    (column,) = rule.columns
    return gxe.ExpectColumnValuesToBeBetween(column=column, max_value=rule.params["max_value"], **common)
