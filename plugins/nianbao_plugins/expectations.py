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
from typing import ClassVar, List, Literal, Tuple

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


def _any(conditions) -> object:
    return functools.reduce(operator.or_, conditions)


def _numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Float view of count columns so NaN, pd.NA and Decimal behave alike in pandas."""
    return frame.apply(pd.to_numeric, errors="coerce").astype("float64")


def _spark():
    from pyspark.sql import functions as F

    return F


# --- Metric providers -------------------------------------------------------------------------


class RowIdentities(MulticolumnMapMetricProvider):
    """Every identity holds: sum(left) <op> sum(right), alt_column standing in for alt_group when all of
    it is null. One metric for a whole rule family, so GX builds one metric graph, not one per rule."""

    condition_metric_name = "nianbao.row_identities"
    condition_domain_keys = DOMAIN_KEYS
    condition_value_keys = ("identities",)

    @staticmethod
    def _parts(col, zero, when_all_null, is_null, identity):
        """(lhs is null, rhs is null, the comparison) of one identity; a row passes when any is true."""
        alt_group = identity.get("alt_group") or ()
        terms = [col(c) for c in identity["right"] if c not in alt_group]
        if alt_group:
            group = [col(c) for c in alt_group]
            terms.append(when_all_null(group, col(identity["alt_column"]), _add(group, zero)))
        lhs, rhs = _add([col(c) for c in identity["left"]], zero), _add(terms, zero)
        return is_null(lhs), is_null(rhs), OPS[identity.get("op", "==")](lhs, rhs)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, identities, **kwargs):
        df = _numbers(column_list)
        zero = pd.Series(0.0, index=df.index)

        def when_all_null(group, alt, total):
            return alt.where(pd.concat(group, axis=1).isna().all(axis=1), total)

        return _all([_any(RowIdentities._parts(df.__getitem__, zero, when_all_null, pd.Series.isna, i))
                     for i in identities])

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list, identities, **kwargs):
        def when_all_null(group, alt, total):
            return sa.case((_all([g.is_(None) for g in group]), alt), else_=total)

        is_null = lambda x: x.is_(None)  # noqa: E731
        return sa.and_(*[sa.or_(*RowIdentities._parts(sa.column, sa.literal(0), when_all_null, is_null, i))
                         for i in identities])

    @multicolumn_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_list, identities, **kwargs):
        F = _spark()

        def when_all_null(group, alt, total):
            return F.when(_all([g.isNull() for g in group]), alt).otherwise(total)

        checks = [_any(RowIdentities._parts(F.col, F.lit(0), when_all_null, lambda x: x.isNull(), i))
                  for i in identities]
        # least() over booleans is a flat AND (see NonNegativeIntegers._spark); every check is non-null.
        return F.least(*checks) if len(checks) > 1 else checks[0]


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
            string_template={"template": "$check_id $description", "params": {
                "check_id": meta.get("check_id", cls.__name__), "description": meta.get("description", "")}},
        )]


class ExpectRowIdentities(_RuleExpectation):
    """Each row satisfies every identity of a rule family; a null operand makes that identity not assessable."""

    identities: List[dict]

    map_metric: ClassVar[str] = RowIdentities.condition_metric_name
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", *RowIdentities.condition_value_keys)


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
