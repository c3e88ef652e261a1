"""GX half of the fee_range kind: GX's own ExpectColumnValuesToBeBetween, no metric provider of ours."""

from __future__ import annotations

import great_expectations.expectations as gxe


def expectation(check, common: dict):
    """One expectation for one rule, on its single column."""
    (rule,) = check.rules
    (column,) = rule.columns
    bounds = {k: rule.params[k] for k in ("min_value", "max_value") if k in rule.params}
    return gxe.ExpectColumnValuesToBeBetween(column=column, **bounds, **common)
