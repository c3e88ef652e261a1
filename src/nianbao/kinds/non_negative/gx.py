"""GX half of the non_negative kind: the metric provider (pandas, SQLAlchemy, Spark) and its expectation."""

from __future__ import annotations

from typing import ClassVar, Tuple

import numpy as np
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


class NonNegativeIntegers(MulticolumnMapMetricProvider):
    """Every non-null cell of the row is >= 0 and integral."""

    condition_metric_name = "nianbao.non_negative_integers"
    condition_domain_keys = DOMAIN_KEYS

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):
        df = numbers(column_list)
        return (df.isna() | ((df >= 0) & (df == np.floor(df)))).all(axis=1)

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list, **kwargs):
        # CAST to BIGINT rounds (DuckDB, PostgreSQL) or truncates (SQLite): a fraction never survives it.
        return sa.and_(*[sa.or_(c.is_(None), sa.and_(c >= 0, c == sa.cast(c, sa.BigInteger))) for c in column_list])

    @multicolumn_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_list, **kwargs):
        # One flat least() (it skips nulls) instead of a deep chain of ANDs: Spark's planner pays per
        # tree level, and integral columns cannot hold a fraction.
        from pyspark.sql.types import IntegralType

        F = spark_functions()
        fractional = [f.name for f in column_list.schema.fields if not isinstance(f.dataType, IntegralType)]
        whole = [F.col(c) == F.col(c).cast("bigint") for c in fractional]
        return F.coalesce(all_of([F.least(*[F.col(c) for c in column_list.columns]) >= 0, *whole]), F.lit(True))


class ExpectCountsToBeNonNegativeIntegers(RuleExpectation):
    """Every non-null cell in column_list is a non-negative integer."""

    map_metric: ClassVar[str] = NonNegativeIntegers.condition_metric_name
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly",)


def expectation(check, common: dict):
    """One expectation for one rule."""
    (rule,) = check.rules
    return ExpectCountsToBeNonNegativeIntegers(column_list=list(rule.columns), ignore_row_if="never", **common)
