"""The hand-written lower bound: every rule of rules.RULES compiled into ONE DuckDB query.

It reads DATA/<table>/*.parquet once per statutory table and returns every (report_id, rule_id)
failure, with the semantics of the GX suites (plugins/nianbao_plugins/expectations.py): a null
operand makes an identity not assessable (no failure), (六)其他处理 printed as one row stands in for
its three sub-rows when all three are null, non-negative/zero/range checks ignore nulls, R9 fails on
any missing cell. Rows are scoped like the suites' assets: a rule applies to the format versions of
the suites that hold it (table 四: every row), level comes from `reports`, and a statutory table
without files has nothing to check. The benchmark compares the nightly GX run against it, for speed
and for results.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from . import rules as RL

SQL_OPS = {"==": "=", "<=": "<=", ">=": ">="}


def _q(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sum(columns) -> str:
    return " + ".join(_q(c) for c in columns) or "0"


def _any(conditions: list[str]) -> str:
    return "(" + " OR ".join(conditions) + ")"


def violation(rule: RL.Rule) -> str:
    """SQL that is TRUE exactly when a row fails `rule` (NULL or FALSE otherwise)."""
    if rule.kind == "identity":
        rhs = _sum(c for c in rule.right if c not in rule.alt_group)
        if rule.alt_group:
            all_null = " AND ".join(f"{_q(c)} IS NULL" for c in rule.alt_group)
            rhs += f" + CASE WHEN {all_null} THEN {_q(rule.alt_column)} ELSE {_sum(rule.alt_group)} END"
        return f"NOT (({_sum(rule.left)}) {SQL_OPS[rule.op]} ({rhs}))"
    if rule.kind == "non_negative":
        return _any([f"{_q(c)} < 0 OR {_q(c)} <> CAST({_q(c)} AS BIGINT)" for c in rule.columns])
    if rule.kind == "present":
        missing = [f"{_q(c)} IS NULL" for c in rule.columns]
        for alt in rule.params.get("alternatives", []):
            group = " AND ".join(f"{_q(c)} IS NOT NULL" for c in alt["group"])
            missing.append(f"NOT (({group}) OR {_q(alt['single'])} IS NOT NULL)")
        return _any(missing)
    if rule.kind == "fee_range":
        c, low, high = _q(rule.columns[0]), rule.params.get("min_value"), rule.params.get("max_value")
        return _any(([f"{c} < {low}"] if low is not None else []) + ([f"{c} > {high}"] if high is not None else []))
    if rule.kind == "zero_for_levels":
        levels = ", ".join(_lit(x) for x in rule.params["levels"])
        nonzero = _any([f"{_q(c)} <> 0" for c in rule.columns])
        return f"({_q(rule.params['level_column'])} IN ({levels}) AND {nonzero})"
    raise ValueError(f"rule {rule.id}: kind {rule.kind!r} has no SQL")


def suite_versions(rule: RL.Rule) -> tuple[str, ...] | None:
    """Format versions of the rows the rule's suites validate; None when a suite takes every row."""
    versions = [v for t, v in RL.SUITES.values() if t == rule.table and (v is None or v in rule.versions)]
    return None if None in versions else tuple(versions)


def _case(rule: RL.Rule) -> str:
    versions = suite_versions(rule)
    scope = f"format_version IN ({', '.join(_lit(v) for v in versions)}) AND " if versions is not None else ""
    return f"CASE WHEN {scope}{violation(rule)} THEN {_lit(rule.id)} END"


def _source(data_dir: Path, table: str) -> str | None:
    """read_parquet over the table's files; None for a statutory table without files (nothing to check)."""
    folder = data_dir / table
    if not any(folder.glob("*.parquet")):
        if table == "reports":
            raise FileNotFoundError(f"{folder}: no Parquet files; not a nianbao data folder")
        return None
    return f"read_parquet({_lit(str(folder / '*.parquet'))}, union_by_name = true)"


def sql(data_dir) -> str:
    """The single query: one SELECT per statutory table, each row's failed rule ids unnested."""
    data_dir = Path(data_dir).resolve()
    tables = dict.fromkeys(r.table for r in RL.RULES)
    selects = []
    levels = f"SELECT DISTINCT report_id, level FROM {_source(data_dir, 'reports')}"
    for table in tables:
        source = _source(data_dir, table)
        if source is None:
            continue
        cases = ",\n    ".join(_case(r) for r in RL.RULES if r.table == table)
        if any(r.kind == "zero_for_levels" for r in RL.RULES if r.table == table):
            source += " LEFT JOIN levels USING (report_id)"
        failed = f"list_filter([\n    {cases}\n  ], lambda x: x IS NOT NULL)"
        selects.append(f"SELECT report_id, unnest({failed}) AS rule_id\nFROM {source}")
    if not selects:
        selects.append("SELECT NULL::VARCHAR AS report_id, NULL::VARCHAR AS rule_id WHERE false")
    return (f"WITH levels AS ({levels})\nSELECT DISTINCT report_id, rule_id FROM (\n"
            + "\nUNION ALL\n".join(selects) + "\n)")


def failures(data_dir, *, threads: int | None = None) -> pa.Table:
    """Every (report_id, rule_id) failure in the data folder, as a pyarrow Table."""
    con = duckdb.connect(config={"threads": threads} if threads else {})
    try:
        con.execute("SET enable_progress_bar = false")
        return con.sql(sql(data_dir)).to_arrow_table()
    finally:
        con.close()
