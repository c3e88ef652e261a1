"""The GX 1.24.1 column-name speed-up answers exactly what GX's own function answers."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from great_expectations import exceptions as gx_exceptions
from great_expectations.expectations.metrics import util

import nianbao_plugins  # noqa: F401  applies the fixes
from nianbao import report_text, year_pairs
from nianbao import schema as S
from nianbao.paths import EXPECTATIONS_DIR
from nianbao_plugins import compat

FAST = util._verify_column_names_exist_and_get_normalized_typed_column_names_map
ORIGINAL = FAST.original


def _column_lists():
    for path in sorted(EXPECTATIONS_DIR.glob("*.json")):
        for exp in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            kwargs = exp["kwargs"]
            yield kwargs.get("column_list") or [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]


BATCH = [
    *S.TABLE_SCHEMAS["applications"].names,
    *S.TABLE_SCHEMAS["active_disclosure"].names,
    *S.TABLE_SCHEMAS["review_litigation"].names,
    "agency",
    "region",
    "year",
    "level",
    *year_pairs.COLUMNS,
    *report_text.ASSET_COLUMNS,
]


def test_fix_is_applied():
    assert compat.column_fix_applied()


@pytest.mark.parametrize("columns", list(_column_lists()))
def test_same_mapping_as_gx_for_every_expectation(columns):
    assert FAST(column_names=columns, batch_columns_list=BATCH) == ORIGINAL(
        column_names=columns, batch_columns_list=BATCH
    )
    assert FAST(column_names=columns, batch_columns_list=BATCH, verify_only=True) is None


@pytest.mark.parametrize(
    "names, batch",
    [
        (["NEW_PERSON", "new_person"], ["new_person", "New_Person"]),  # casefold: the first column wins
        ("review_total", ["review_total"]),  # a single name, not a list
        (['"review_total"'], ["review_total"]),  # quoted by the user: GX's path
        (["a.b"], ["`a.b`"]),  # Spark's backticked names: GX's path
        (["total"], [sa.sql.quoted_name("TOTAL", quote=True), "total"]),  # quoted_name batch column: GX's path
    ],
)
def test_same_answer_on_the_edge_cases(names, batch):
    assert FAST(column_names=names, batch_columns_list=batch) == ORIGINAL(column_names=names, batch_columns_list=batch)


def test_missing_column_raises_what_gx_raises():
    with pytest.raises(gx_exceptions.InvalidMetricAccessorDomainKwargsKeyError, match="not_a_column"):
        FAST(column_names=["review_total", "not_a_column"], batch_columns_list=BATCH)


def test_fixes_refuse_other_gx_versions():
    for apply in (compat.apply_column_fix, compat.apply_configuration_fix, compat.apply_duckdb_fix):
        with pytest.raises(compat.IncompatibleGXVersion, match=r"1\.24\.1"):
            apply(version="1.25.0")
