"""The hand-written lower bound: every rule of rules.RULES compiled into ONE DuckDB query.

It reads each table's Parquet files (one snapshot of the data folder) once per statutory table and
returns every (report_id, rule_id) failure, with the rule predicates of nianbao.violations (the
semantics of the GX suites). Rows are scoped like the suites' assets: a rule applies to the format
versions of the suites that hold it (table 四: every row), level comes from `reports`, and a
statutory table without files has nothing to check. The derived assets (the year pairs, the report
text) are read from their SELECTs (nianbao.derived) over views of the same files, their inputs built once.
The benchmark compares the nightly GX run against it, for speed and for results.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from . import datafolder, derived, duck
from . import rules as RL
from . import schema as S
from . import violations as V

PREFIX = "lb_"  # the views the year pairs' SELECT reads (failures() makes them)


def suite_versions(rule: RL.Rule) -> tuple[str, ...] | None:
    """Format versions of the rows the rule's suites validate; None when a suite takes every row."""
    versions = [v for t, v in RL.ALL_SUITES.values() if t == rule.table and (v is None or v in rule.versions)]
    return None if None in versions else tuple(versions)


def _scope(rule: RL.Rule) -> str:
    """The rule's format versions as an SQL condition prefix ('' when it applies to every row)."""
    versions = suite_versions(rule)
    return f"format_version IN ({', '.join(V.literal(v) for v in versions)}) AND " if versions is not None else ""


def _source(snapshot: datafolder.Snapshot, table: str) -> str | None:
    """read_parquet over the table's files; None for a statutory table without files (nothing to check)."""
    source = snapshot.source(table)
    if source is None and table == "reports":
        raise FileNotFoundError(f"{snapshot.data_dir / table}: no Parquet files; not a nianbao data folder")
    return source


def sql(data_dir) -> str:
    """The single query: one SELECT per statutory table, each row's failed rule ids unnested."""
    snapshot = datafolder.open_snapshot(Path(data_dir).resolve())
    tables = dict.fromkeys(r.table for r in RL.RULES)
    selects = []
    levels = f"SELECT DISTINCT report_id, level FROM {_source(snapshot, 'reports')}"
    for table in tables:
        if table in RL.DERIVED_SUITES:
            source = f"({derived.select(table, [], PREFIX)}) AS a"
        else:
            source = _source(snapshot, table)
        if source is None:
            continue
        rules = [r for r in RL.RULES if r.table == table]
        if any(r.kind == "zero_for_levels" for r in rules):
            source += " LEFT JOIN levels USING (report_id)"
        selects.append(f"SELECT report_id, unnest({V.failed_rules(rules, _scope)}) AS rule_id\nFROM {source}")
    if not selects:
        selects.append("SELECT NULL::VARCHAR AS report_id, NULL::VARCHAR AS rule_id WHERE false")
    return (
        f"WITH levels AS ({levels})\nSELECT DISTINCT report_id, rule_id FROM (\n"
        + "\nUNION ALL\n".join(selects)
        + "\n)"
    )


def failures(data_dir, *, threads: int | None = None) -> pa.Table:
    """Every (report_id, rule_id) failure in the data folder, as a pyarrow Table."""
    con = duck.connect(config={"threads": threads} if threads else {})
    try:
        _pair_views(con, datafolder.open_snapshot(Path(data_dir).resolve()))
        return con.sql(sql(data_dir)).to_arrow_table()
    finally:
        con.close()


def _pair_views(con, snapshot: datafolder.Snapshot) -> None:
    """The views lb_<table> the derived assets' SELECTs read, and their input tables (nianbao.derived)."""
    for table in derived.TABLES:
        source = snapshot.source(table)
        if source is None:
            con.register(f"{PREFIX}{table}_empty", S.TABLE_SCHEMAS[table].empty_table())
            source = f"{PREFIX}{table}_empty"
        con.execute(f"CREATE OR REPLACE VIEW {PREFIX}{table} AS SELECT * FROM {source}")
    derived.build_inputs(con, PREFIX)
