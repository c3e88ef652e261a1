"""GX half of the present kind: the metric provider (pandas, SQLAlchemy, Spark) and its expectation."""

from __future__ import annotations

from typing import ClassVar, List, Tuple

import sqlalchemy as sa
from great_expectations.execution_engine import (
    PandasExecutionEngine,
    SparkDFExecutionEngine,
    SqlAlchemyExecutionEngine,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    MulticolumnMapMetricProvider,
    multicolumn_condition_partial,
)

from .._gx import DOMAIN_KEYS, RuleExpectation, all_of, flat_and, spark_functions


class CellsPresent(MulticolumnMapMetricProvider):
    """Every required cell is non-null; each alternative is met by its whole group or its single cell."""

    condition_metric_name = "nianbao.cells_present"
    condition_domain_keys = DOMAIN_KEYS
    condition_value_keys = ("required", "alternatives")

    @staticmethod
    def _condition(present, required, alternatives, combine=all_of):
        checks = [present(c) for c in required]
        checks += [all_of([present(g) for g in a["group"]]) | present(a["single"]) for a in alternatives]
        return combine(checks)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, required, alternatives=(), **kwargs):
        return CellsPresent._condition(lambda c: column_list[c].notna(), required, alternatives)

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list, required, alternatives=(), **kwargs):
        return CellsPresent._condition(lambda c: sa.column(c).is_not(None), required, alternatives)

    @multicolumn_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_list, required, alternatives=(), **kwargs):
        F = spark_functions()
        return CellsPresent._condition(lambda c: F.col(c).isNotNull(), required, alternatives, flat_and)


class ExpectCellsToBePresent(RuleExpectation):
    """Every required cell is filled; an alternative is filled by all of its group or by its single cell."""

    required: List[str]
    alternatives: List[dict] = []  # noqa: RUF012  a pydantic field: each expectation gets its own copy

    map_metric: ClassVar[str] = CellsPresent.condition_metric_name
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", *CellsPresent.condition_value_keys)


def expectation(check, common: dict):
    """One expectation for one rule."""
    (rule,) = check.rules
    return ExpectCellsToBePresent(
        column_list=list(rule.operands),
        required=list(rule.columns),
        alternatives=rule.params.get("alternatives", []),
        ignore_row_if="never",
        **common,
    )
