"""GX half of the identity kind: the metric provider (pandas, SQLAlchemy, Spark) and its expectation."""

from __future__ import annotations

import operator
from typing import ClassVar, List, Tuple

import pandas as pd
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

from .._gx import DOMAIN_KEYS, RuleExpectation, add, all_of, any_of, flat_and, numbers, spark_functions

OPS = {"==": operator.eq, "<=": operator.le, ">=": operator.ge}


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
            terms.append(when_all_null(group, col(identity["alt_column"]), add(group, zero)))
        lhs, rhs = add([col(c) for c in identity["left"]], zero), add(terms, zero)
        return is_null(lhs), is_null(rhs), OPS[identity.get("op", "==")](lhs, rhs)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, identities, **kwargs):
        df = numbers(column_list)
        zero = pd.Series(0.0, index=df.index)

        def when_all_null(group, alt, total):
            return alt.where(pd.concat(group, axis=1).isna().all(axis=1), total)

        return all_of(
            [any_of(RowIdentities._parts(df.__getitem__, zero, when_all_null, pd.Series.isna, i)) for i in identities]
        )

    @multicolumn_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_list, identities, **kwargs):
        def when_all_null(group, alt, total):
            return sa.case((all_of([g.is_(None) for g in group]), alt), else_=total)

        def is_null(x):
            return x.is_(None)

        return sa.and_(
            *[sa.or_(*RowIdentities._parts(sa.column, sa.literal(0), when_all_null, is_null, i)) for i in identities]
        )

    @multicolumn_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_list, identities, **kwargs):
        F = spark_functions()

        def when_all_null(group, alt, total):
            return F.when(all_of([g.isNull() for g in group]), alt).otherwise(total)

        # Every check is non-null, so a flat least() is their AND.
        return flat_and(
            [any_of(RowIdentities._parts(F.col, F.lit(0), when_all_null, lambda x: x.isNull(), i)) for i in identities]
        )


class ExpectRowIdentities(RuleExpectation):
    """Each row satisfies every identity of a rule family; a null operand makes that identity not assessable."""

    identities: List[dict]

    map_metric: ClassVar[str] = RowIdentities.condition_metric_name
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", *RowIdentities.condition_value_keys)


def _identity(rule) -> dict:
    out = {"rule_id": rule.id, "left": list(rule.left), "right": list(rule.right), "op": rule.op}
    if rule.alt_group:
        out.update(alt_group=list(rule.alt_group), alt_column=rule.alt_column)
    return out


def expectation(check, common: dict):
    """One expectation for a whole family of identities."""
    columns = list(dict.fromkeys(c for r in check.rules for c in r.operands))
    return ExpectRowIdentities(
        column_list=columns, identities=[_identity(r) for r in check.rules], ignore_row_if="never", **common
    )
