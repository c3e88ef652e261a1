"""The derived assets: suites whose rows are built from several tables, not read from one.

- year_pairs (R11, R12): each report beside its agency's report of the year before (nianbao.year_pairs);
- report_text (R17–R19, R23–R25, R27, R30, R31): what each report's text states, its parts, its
  near-duplicates and its other versions, beside its tables' totals (nianbao.report_text).

`inputs(con, prefix)` makes, in DuckDB and once per run, the tables a SELECT reads beside the <prefix>
views of the data folder, and returns what run_results.json records of them; `select(conditions,
prefix)` is the SELECT. The engines materialise it like any asset (a DuckDB table, a Parquet file, a
TABLE in the sql engine's database); the lower bound runs the same SELECT.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from . import agency_key, report_text, year_pairs
from . import rules as R


@dataclass(frozen=True)
class DerivedAsset:
    inputs: Callable[[object, str, tuple | None], dict]  # (con, prefix, agency keys made earlier or None)
    select: Callable[[list[str], str], str]


DERIVED = {
    year_pairs.TABLE: DerivedAsset(
        lambda con, prefix, keys: agency_key.build_keys(con, prefix, year_pairs.KEYS_TABLE, keys), year_pairs.sql
    ),
    # After year_pairs: the text's comparison with the agency's previous report reads its agency keys.
    report_text.TABLE: DerivedAsset(
        lambda con, prefix, keys: report_text.build_facts(con, prefix, year_pairs.KEYS_TABLE), report_text.sql
    ),
}
assert list(DERIVED) == list(R.DERIVED_SUITES), "every derived suite of the catalogue has its asset, in order"
# The data folder's tables the SELECTs read, as <prefix><table> views.
TABLES = ("reports", "applications", "active_disclosure", "review_litigation", "sections", "versions")


def build_inputs(con, prefix: str, agency_keys: tuple | None = None) -> dict:
    """Build every derived asset's input tables; what each records for run_results.json, with the
    seconds it took (the agency keys, the text read in Python: what these rules add to a night).
    agency_keys: (table, record) of build_keys over the same reports, made earlier in the run (an
    incremental nightly hashes its reports with them): loaded, not built again."""
    out = {}
    for suite, asset in DERIVED.items():
        start = time.perf_counter()
        out[suite] = {**asset.inputs(con, prefix, agency_keys), "seconds": round(time.perf_counter() - start, 3)}
    return out


def select(suite: str, conditions: list[str], prefix: str) -> str:
    return DERIVED[suite].select(conditions, prefix)
