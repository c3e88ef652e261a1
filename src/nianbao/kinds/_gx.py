"""What the kinds' GX modules share: null-safe arithmetic on every engine, and the expectation base.

Each kind's expectation is a MulticolumnMapExpectation backed by one condition metric with a pandas,
a SQLAlchemy and a Spark implementation. A null cell never fails a row here: a missing cell is
reported by the `present` kind (R9), and an identity with a missing operand is "not assessable"
rather than passed or failed, so the null test is written into every condition instead of relying
on each engine's NULL semantics.
"""

from __future__ import annotations

import functools
import operator
from typing import ClassVar, Literal, Tuple

import pandas as pd
from great_expectations.expectations.expectation import MulticolumnMapExpectation
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer

DOMAIN_KEYS = ("batch_id", "table", "column_list", "row_condition", "condition_parser", "ignore_row_if")


def add(terms: list, zero):
    """Sum of terms (0 for none); null when any term is null, on every engine."""
    return functools.reduce(operator.add, terms) if terms else zero


def all_of(conditions: list):
    """AND of the conditions, on every engine."""
    return functools.reduce(operator.and_, conditions)


def any_of(conditions) -> object:
    """OR of the conditions, on every engine."""
    return functools.reduce(operator.or_, conditions)


def numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Float view of count columns so NaN, pd.NA and Decimal behave alike in pandas."""
    return frame.apply(pd.to_numeric, errors="coerce").astype("float64")


def spark_functions():
    """pyspark.sql.functions, imported only on the Spark engine."""
    from pyspark.sql import functions

    return functions


def flat_and(checks: list):
    """Spark: least() over booleans is a flat AND (a deep chain of ANDs costs Spark's planner per level)."""
    return spark_functions().least(*checks) if len(checks) > 1 else checks[0]


class _RuleExpectation(MulticolumnMapExpectation):
    """Common ground: nulls are handled by the condition, and Data Docs show the rule id in Chinese."""

    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"
    domain_keys: ClassVar[Tuple[str, ...]] = DOMAIN_KEYS

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration=None, result=None, runtime_configuration=None, **kwargs):
        meta = (configuration.meta if configuration else None) or {}
        return [
            RenderedStringTemplateContent(
                content_block_type="string_template",
                string_template={
                    "template": "$check_id $description",
                    "params": {
                        "check_id": meta.get("check_id", cls.__name__),
                        "description": meta.get("description", ""),
                    },
                },
            )
        ]


RuleExpectation = _RuleExpectation
