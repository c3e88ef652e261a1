"""GX half of the zero_for_levels kind: the metric provider (pandas, SQLAlchemy, Spark) and its expectation."""

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

from .._gx import DOMAIN_KEYS, RuleExpectation, all_of, numbers, spark_functions


class ZeroForLevelsMetric(MulticolumnMapMetricProvider):
    """When the level column is one of `levels`, every non-null listed cell is 0."""

    condition_metric_name = "nianbao.zero_for_levels"
    condition_domain_keys = DOMAIN_KEYS
    condition_value_keys = ("columns", "level_column", "levels")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, columns, level_column, levels, **kwargs):
        df = numbers(column_list[list(columns)])
        return ~column_list[level_column].isin(list(levels)) | (df.isna() | (df == 0)).all(axis=1)

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list, columns, level_column, levels, **kwargs):
        level = sa.column(level_column)
        zeros = sa.and_(*[sa.or_(sa.column(c).is_(None), sa.column(c) == 0) for c in columns])
        return sa.or_(level.is_(None), level.not_in(list(levels)), zeros)

    @multicolumn_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_list, columns, level_column, levels, **kwargs):
        F = spark_functions()
        level = F.col(level_column)
        zeros = all_of([F.col(c).isNull() | (F.col(c) == 0) for c in columns])
        return level.isNull() | ~level.isin(list(levels)) | zeros


class ExpectZeroForLevels(RuleExpectation):
    """Rows whose level is in `levels` have 0 (or a blank) in every listed column."""

    columns: List[str]
    level_column: str
    levels: List[str]

    map_metric: ClassVar[str] = ZeroForLevelsMetric.condition_metric_name
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", *ZeroForLevelsMetric.condition_value_keys)


def expectation(check, common: dict):
    """One expectation for one rule; the level column is read beside the rule's columns."""
    (rule,) = check.rules
    level = rule.params["level_column"]
    return ExpectZeroForLevels(
        column_list=[*rule.columns, level],
        columns=list(rule.columns),
        level_column=level,
        levels=list(rule.params["levels"]),
        ignore_row_if="never",
        **common,
    )
