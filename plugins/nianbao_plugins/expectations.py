"""The custom expectations of the nianbao suites: four general row-wise checks, each engine-portable.

Each expectation is a MulticolumnMapExpectation backed by one condition metric with a pandas, a
SQLAlchemy and a Spark implementation. A null cell never fails a row here: a missing cell is
reported by ExpectCellsToBePresent (R9), and an identity with a missing operand is "not
assessable" rather than passed or failed, so the null test is written into every condition
instead of relying on each engine's NULL semantics.
"""
from __future__ import annotations

import functools
import operator
from typing import ClassVar, List, Literal, Optional, Tuple

import numpy as np
import pandas as pd
import sqlalchemy as sa
from great_expectations.execution_engine import (
    PandasExecutionEngine,
    SparkDFExecutionEngine,
    SqlAlchemyExecutionEngine,
)
from great_expectations.expectations.expectation import MulticolumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    MulticolumnMapMetricProvider,
    multicolumn_condition_partial,
)
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer

OPS = {"==": operator.eq, "<=": operator.le, ">=": operator.ge}
DOMAIN_KEYS = ("batch_id", "table", "column_list", "row_condition", "condition_parser", "ignore_row_if")


def _add(terms: list, zero):
    """Sum of terms (0 for none); null when any term is null, on every engine."""
    return functools.reduce(operator.add, terms) if terms else zero


def _all(conditions: list):
    return functools.reduce(operator.and_, conditions)


def _numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Float view of count columns so NaN, pd.NA and Decimal behave alike in pandas."""
    return frame.apply(pd.to_numeric, errors="coerce").astype("float64")


def _spark():
    from pyspark.sql import functions as F

    return F


# --- Metric providers -------------------------------------------------------------------------


class RowIdentity(MulticolumnMapMetricProvider):
    """sum(left) <op> sum(right), alt_column standing in for alt_group when all of it is null."""

    condition_metric_name = "nianbao.row_identity"
    condition_domain_keys = DOMAIN_KEYS
    condition_value_keys = ("left", "right", "op", "alt_group", "alt_column")

    @staticmethod
    def _right_terms(col, right, alt_group, alt_column, when_all_null):
        """Right-hand terms, the alt group replaced by one term that falls back to alt_column."""
        terms = [col(c) for c in right if c not in alt_group]
        if alt_group:
            group = [col(c) for c in alt_group]
            terms.append(when_all_null(group, col(alt_column), _add(group, 0)))
        return terms

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, left, right, op="==", alt_group=(), alt_column=None, **kwargs):
        df = _numbers(column_list)

        def when_all_null(group, alt, total):
            return alt.where(pd.concat(group, axis=1).isna().all(axis=1), total)

        zero = pd.Series(0.0, index=df.index)
        lhs = _add([df[c] for c in left], zero)
        rhs = _add(RowIdentity._right_terms(df.__getitem__, right, alt_group, alt_column, when_all_null), zero)
        return lhs.isna() | rhs.isna() | OPS[op](lhs, rhs)

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list, left, right, op="==", alt_group=(), alt_column=None, **kwargs):
        def when_all_null(group, alt, total):
            return sa.case((_all([g.is_(None) for g in group]), alt), else_=total)

        lhs = _add([sa.column(c) for c in left], sa.literal(0))
        rhs = _add(RowIdentity._right_terms(sa.column, right, alt_group, alt_column, when_all_null), sa.literal(0))
        return sa.or_(lhs.is_(None), rhs.is_(None), OPS[op](lhs, rhs))

    @multicolumn_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_list, left, right, op="==", alt_group=(), alt_column=None, **kwargs):
        F = _spark()

        def when_all_null(group, alt, total):
            return F.when(_all([g.isNull() for g in group]), alt).otherwise(total)

        lhs = _add([F.col(c) for c in left], F.lit(0))
        rhs = _add(RowIdentity._right_terms(F.col, right, alt_group, alt_column, when_all_null), F.lit(0))
        return lhs.isNull() | rhs.isNull() | OPS[op](lhs, rhs)


class NonNegativeIntegers(MulticolumnMapMetricProvider):
    """Every non-null cell of the row is >= 0 and integral."""

    condition_metric_name = "nianbao.non_negative_integers"
    condition_domain_keys = DOMAIN_KEYS

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):
        df = _numbers(column_list)
        return (df.isna() | ((df >= 0) & (df == np.floor(df)))).all(axis=1)

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list, **kwargs):
        # CAST to BIGINT rounds (DuckDB, PostgreSQL) or truncates (SQLite): a fraction never survives it.
        return sa.and_(*[sa.or_(c.is_(None), sa.and_(c >= 0, c == sa.cast(c, sa.BigInteger)))
                         for c in column_list])

    @multicolumn_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_list, **kwargs):
        # One flat least() (it skips nulls) instead of a deep chain of ANDs: Spark's planner pays per
        # tree level, and integral columns cannot hold a fraction.
        from pyspark.sql.types import IntegralType

        F = _spark()
        fractional = [f.name for f in column_list.schema.fields if not isinstance(f.dataType, IntegralType)]
        whole = [F.col(c) == F.col(c).cast("bigint") for c in fractional]
        return F.coalesce(_all([F.least(*[F.col(c) for c in column_list.columns]) >= 0, *whole]), F.lit(True))


class CellsPresent(MulticolumnMapMetricProvider):
    """Every required cell is non-null; each alternative is met by its whole group or its single cell."""

    condition_metric_name = "nianbao.cells_present"
    condition_domain_keys = DOMAIN_KEYS
    condition_value_keys = ("required", "alternatives")

    @staticmethod
    def _condition(present, required, alternatives, combine=_all):
        checks = [present(c) for c in required]
        checks += [_all([present(g) for g in a["group"]]) | present(a["single"]) for a in alternatives]
        return combine(checks)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, required, alternatives=(), **kwargs):
        return CellsPresent._condition(lambda c: column_list[c].notna(), required, alternatives)

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list, required, alternatives=(), **kwargs):
        return CellsPresent._condition(lambda c: sa.column(c).is_not(None), required, alternatives)

    @multicolumn_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_list, required, alternatives=(), **kwargs):
        F = _spark()
        # least() over booleans is a flat AND (see NonNegativeIntegers._spark).
        flat_and = lambda checks: F.least(*checks) if len(checks) > 1 else checks[0]  # noqa: E731
        return CellsPresent._condition(lambda c: F.col(c).isNotNull(), required, alternatives, flat_and)


class ZeroForLevels(MulticolumnMapMetricProvider):
    """When the level column is one of `levels`, every non-null listed cell is 0."""

    condition_metric_name = "nianbao.zero_for_levels"
    condition_domain_keys = DOMAIN_KEYS
    condition_value_keys = ("columns", "level_column", "levels")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, columns, level_column, levels, **kwargs):
        df = _numbers(column_list[list(columns)])
        return ~column_list[level_column].isin(list(levels)) | (df.isna() | (df == 0)).all(axis=1)

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list, columns, level_column, levels, **kwargs):
        level = sa.column(level_column)
        zeros = sa.and_(*[sa.or_(sa.column(c).is_(None), sa.column(c) == 0) for c in columns])
        return sa.or_(level.is_(None), level.not_in(list(levels)), zeros)

    @multicolumn_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_list, columns, level_column, levels, **kwargs):
        F = _spark()
        level = F.col(level_column)
        zeros = _all([F.col(c).isNull() | (F.col(c) == 0) for c in columns])
        return level.isNull() | ~level.isin(list(levels)) | zeros


# --- Expectations -----------------------------------------------------------------------------


class _RuleExpectation(MulticolumnMapExpectation):
    """Common ground: nulls are handled by the condition, and Data Docs show the rule id in Chinese."""

    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"
    domain_keys: ClassVar[Tuple[str, ...]] = DOMAIN_KEYS

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration=None, result=None, runtime_configuration=None, **kwargs):
        meta = (configuration.meta if configuration else None) or {}
        return [RenderedStringTemplateContent(
            content_block_type="string_template",
            string_template={"template": "$rule_id $description", "params": {
                "rule_id": meta.get("rule_id", cls.__name__), "description": meta.get("description", "")}},
        )]


class ExpectRowIdentity(_RuleExpectation):
    """Each row satisfies sum(left) <op> sum(right); a null operand makes the row not assessable."""

    left: List[str]
    right: List[str] = []
    op: Literal["==", "<=", ">="] = "=="
    alt_group: List[str] = []
    alt_column: Optional[str] = None

    map_metric: ClassVar[str] = RowIdentity.condition_metric_name
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", *RowIdentity.condition_value_keys)


class ExpectCountsToBeNonNegativeIntegers(_RuleExpectation):
    """Every non-null cell in column_list is a non-negative integer."""

    map_metric: ClassVar[str] = NonNegativeIntegers.condition_metric_name
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly",)


class ExpectCellsToBePresent(_RuleExpectation):
    """Every required cell is filled; an alternative is filled by all of its group or by its single cell."""

    required: List[str]
    alternatives: List[dict] = []

    map_metric: ClassVar[str] = CellsPresent.condition_metric_name
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", *CellsPresent.condition_value_keys)


class ExpectZeroForLevels(_RuleExpectation):
    """Rows whose level is in `levels` have 0 (or a blank) in every listed column."""

    columns: List[str]
    level_column: str
    levels: List[str]

    map_metric: ClassVar[str] = ZeroForLevels.condition_metric_name
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", *ZeroForLevels.condition_value_keys)
