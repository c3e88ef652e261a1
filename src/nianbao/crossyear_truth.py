"""Ground truth of the cross-year rules (R11, R12) of a synthetic corpus.

The rules are evaluated in DuckDB on the final tables of a chunk (after every injection; a chunk
holds every year of its agencies), so the truth lists exactly what fails and what cannot be
assessed, whatever made it so. Each row is then traced to the change that made it: a cross-year
break, a per-report injection in this year's or last year's cell, or a skipped year. A failure that
no change explains is a generator defect and raises.

Semantics (DOMAIN.md R11, R12): a report has a year pair when its agency (same agency and region:
the synthetic names are stable) has an earlier report in the corpus; the pair's previous report is
the one of year Y−1. R11.<applicant>: 上年结转 = last year's 结转下年度, any format. R12.rules and
R12.normative_docs: 现行有效 + 废止 = last year's 现行有效 + 制发, when this year's report is in the 2021
format and last year's is not known to be in another (missing, or its format unknown, or 2021). Either
is not assessable when last year's report is missing or an operand is blank, on either side (a table
the report lacks leaves all its cells blank). When the catalogue has R11.previous (the rule that says
why: last year's report missing, or an operand blank), it fails on those pairs and is in the truth too.
A pair's this year is a report with a table 三 (the year_pairs asset's rows); last year's is any
report of Y−1, whatever tables it has.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import duck
from . import rules as RL
from . import schema as S

FAMILIES = ("R11", "R12")
TRUTH_FILE = "_truth/crossyear.parquet"
FAILED, NOT_ASSESSABLE = "failed", "not_assessable"
BREAK_KINDS = ("carried-over-broken", "in-force-broken")  # injected by the generator to break one link
MISSING_YEAR = "missing-year"  # last year's report is not in the corpus
# Per-report changes that leave cells blank (nianbao.synth, nianbao.synth_text): a blank cell, a statutory
# table the report lacks, table 二 unreadable so the format is unknown. They explain a row not assessable.
BLANKING_KINDS = ("blank-cell", "table-missing", "format-unmatched")
APPLICANTS = tuple(a for a, _ in S.APPLICANT_COLUMNS)
IN_FORCE_RULES = {"R12.rules": "rules", "R12.normative_docs": "normative"}
PREVIOUS = "R11.previous"
SCHEMA = pa.schema(
    [
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("rule_id", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),  # failed | not_assessable
        pa.field("injected", pa.string(), nullable=False),  # the change that made it, or missing-year
        pa.field("cell", pa.string(), nullable=False),  # the changed column; prev.<column> for last year's
        pa.field("prev_report_id", pa.string()),  # last year's report; null when missing
    ]
)
CHANGES_SCHEMA = pa.schema([("report_id", pa.string()), ("column", pa.string()), ("kind", pa.string())])


def previous_rule() -> bool:
    """Whether the catalogue has R11.previous: a year pair whose last-year 结转下年度 cells are not all
    printed (its report missing, or a cell blank) fails it, as R9 fails a blank."""
    return PREVIOUS in RL.RULES_BY_ID


def operands() -> list[tuple[str, str, str]]:
    """(rule_id, 'this' | 'prev', column) of every cross-year rule."""
    out = []
    if previous_rule():  # every operand of R11 and R12, both sides
        out += [(PREVIOUS, "prev", S.app_col("carried_forward", a)) for a in APPLICANTS]
        out += [(PREVIOUS, "this", S.app_col("carried_over", a)) for a in APPLICANTS]
        for kind in IN_FORCE_RULES.values():
            out += [(PREVIOUS, "this", f"{kind}_{x}") for x in ("in_force", "issued", "repealed")]
            out.append((PREVIOUS, "prev", f"{kind}_in_force"))
    for a in APPLICANTS:
        out += [
            (f"R11.{a}", "this", S.app_col("carried_over", a)),
            (f"R11.{a}", "prev", S.app_col("carried_forward", a)),
        ]
    for rule, kind in IN_FORCE_RULES.items():
        out += [(rule, "this", f"{kind}_{x}") for x in ("in_force", "issued", "repealed")]
        out.append((rule, "prev", f"{kind}_in_force"))
    return out


def changes_table(changes: list[tuple]) -> pa.Table:
    """(report ids, column or columns, kind or kinds) triples as one table of changed cells."""
    parts = []
    for ids, column, kind in changes:
        n = len(ids)
        col = np.full(n, column, dtype=object) if isinstance(column, str) else column
        knd = np.full(n, kind, dtype=object) if isinstance(kind, str) else kind
        parts.append(
            pa.table(
                [pa.array(ids, pa.string()), pa.array(col, pa.string()), pa.array(knd, pa.string())],
                schema=CHANGES_SCHEMA,
            )
        )
    return pa.concat_tables(parts) if parts else CHANGES_SCHEMA.empty_table()


def _status(rule: str, this: list[str], prev: list[str], fails: str, where: str = "TRUE") -> str:
    blank = " OR ".join(f"{c} IS NULL" for c in (*this, *(f"prev_{c}" for c in prev)))
    return (
        f"SELECT report_id, prev_id, '{rule}' AS rule_id, CASE WHEN prev_id IS NULL OR {blank} "
        f"THEN '{NOT_ASSESSABLE}' WHEN {fails} THEN '{FAILED}' END AS status FROM pairs WHERE {where}"
    )


def sql() -> str:
    """Every (report, cross-year rule) that fails or is not assessable, with the change that made it."""
    prev_cols = [S.app_col("carried_forward", a) for a in APPLICANTS] + [
        f"{k}_in_force" for k in IN_FORCE_RULES.values()
    ]
    selects = [
        _status(
            f"R11.{a}",
            [S.app_col("carried_over", a)],
            [S.app_col("carried_forward", a)],
            f"{S.app_col('carried_over', a)} <> prev_{S.app_col('carried_forward', a)}",
        )
        for a in APPLICANTS
    ]
    # R12 compares the pair unless last year's report is known to be in the 2019 format.
    compared = f"format_version = '{S.FORMAT_2021}' AND coalesce(prev_version, '{S.FORMAT_2021}') = '{S.FORMAT_2021}'"
    r12_this = {k: [f"{k}_in_force", f"{k}_issued", f"{k}_repealed"] for k in IN_FORCE_RULES.values()}
    for rule, k in IN_FORCE_RULES.items():
        fails = f"{k}_in_force + {k}_repealed <> prev_{k}_in_force + {k}_issued"
        selects.append(_status(rule, r12_this[k], [f"{k}_in_force"], fails, compared))
    if previous_rule():
        blank = " OR ".join(
            [
                f"prev_{S.app_col('carried_forward', a)} IS NULL OR {S.app_col('carried_over', a)} IS NULL"
                for a in APPLICANTS
            ]
            + [
                f"({compared} AND ({' OR '.join(f'{c} IS NULL' for c in (*cols, f'prev_{k}_in_force'))}))"
                for k, cols in r12_this.items()
            ]
        )
        selects.append(
            f"SELECT report_id, prev_id, '{PREVIOUS}' AS rule_id, CASE WHEN prev_id IS NULL OR {blank} "
            f"THEN '{FAILED}' END AS status FROM pairs"
        )
    kinds = ", ".join(f"'{k}'" for k in BREAK_KINDS)
    blanking = ", ".join(f"'{k}'" for k in BLANKING_KINDS)
    return f"""
WITH r AS (SELECT report_id, coalesce(region, '') || '|' || agency AS k, year, format_version FROM reports),
-- A table the report lacks leaves its cells blank; only a report with a table 三 is a pair's this year.
v AS (SELECT * FROM r LEFT JOIN (SELECT *, TRUE AS has_applications FROM applications) USING (report_id)
  LEFT JOIN active_disclosure USING (report_id)),
firsts AS (SELECT k, min(year) AS first FROM r GROUP BY k),
pairs AS (
  SELECT t.*, p.report_id AS prev_id, p.format_version AS prev_version,
    {", ".join(f"p.{c} AS prev_{c}" for c in prev_cols)}
  FROM v t JOIN firsts f ON f.k = t.k AND t.year > f.first
  LEFT JOIN v p ON p.k = t.k AND p.year = t.year - 1
  WHERE t.has_applications
),
x AS (SELECT * FROM ({" UNION ALL ".join(selects)}) WHERE status IS NOT NULL),
-- The change that explains a row: a blank for a pair not assessable (and for R11.previous, which says
-- why), else a cross-year break, then any change of this year's cell, then of last year's.
y AS (
  SELECT x.*, o.side, c.kind, c.column AS changed,
    CASE WHEN x.status = '{NOT_ASSESSABLE}' OR x.rule_id = '{PREVIOUS}' THEN
           CASE WHEN c.kind IN ({blanking}) THEN 0 END
         WHEN c.kind IN ({kinds}) THEN 0 ELSE 2 END
      + (o.side = 'prev')::INT AS rank
  FROM x JOIN operands o USING (rule_id)
  LEFT JOIN changes c ON c.column = o.column
    AND c.report_id = CASE o.side WHEN 'this' THEN x.report_id ELSE x.prev_id END
),
-- Ties (a table missing blanks several operands at one rank) go to the first column by name, so the
-- same corpus always gets the same truth.
z AS (SELECT *, CASE side WHEN 'prev' THEN 'prev.' ELSE '' END || changed AS cell_changed,
  CAST(rank AS VARCHAR) || '|' || changed AS pick FROM y)
SELECT report_id, rule_id, status,
  CASE WHEN prev_id IS NULL THEN '{MISSING_YEAR}' ELSE arg_min(kind, pick) END AS injected,
  CASE WHEN prev_id IS NULL THEN '' ELSE arg_min(cell_changed, pick) END AS cell,
  prev_id AS prev_report_id
FROM z
GROUP BY report_id, rule_id, status, prev_id
ORDER BY report_id, rule_id
"""


def evaluate(tables: dict[str, pa.Table], changes: pa.Table) -> pa.Table:
    """The cross-year truth of one chunk's final tables; raises when a row has no change to explain it."""
    ops = operands()
    con = duck.connect()
    try:
        # only the operands: a CTE read twice is materialised, and table 三 has 190 columns
        used = {o[2] for o in ops}
        for name in ("applications", "active_disclosure"):
            con.register(name, tables[name].select(["report_id", *(c for c in tables[name].column_names if c in used)]))
        con.register("reports", tables["reports"].select(["report_id", "agency", "region", "year", "format_version"]))
        con.register("changes", changes)
        con.register(
            "operands",
            pa.table({"rule_id": [o[0] for o in ops], "side": [o[1] for o in ops], "column": [o[2] for o in ops]}),
        )
        found = con.sql(sql()).to_arrow_table()
    finally:
        con.close()
    unexplained = pc.is_null(found["injected"])
    if pc.any(unexplained).as_py():
        row = found.filter(unexplained).slice(0, 1).to_pylist()[0]
        raise RuntimeError(
            f"synth: {row['rule_id']} is {row['status']} on {row['report_id']} but nothing was injected there"
        )
    return found.cast(SCHEMA)


def failures(crossyear: pa.Table) -> pa.Table:
    """The failed rows, as (report_id, rule_id, injected, cell): the rows of the main truth table."""
    return crossyear.filter(pc.equal(crossyear["status"], FAILED)).select(["report_id", "rule_id", "injected", "cell"])


def count(crossyear: pa.Table, injected: str) -> int:
    """Reports with a row that one kind of change made (e.g. the reports after a skipped year)."""
    return pc.count_distinct(crossyear.filter(pc.equal(crossyear["injected"], injected))["report_id"]).as_py()


def by_status(crossyear: pa.Table) -> dict[str, int]:
    """Row counts per family and status, e.g. {'R11 failed': 12, 'R11 not_assessable': 40}."""
    out: dict[str, int] = {}
    for rule, status in zip(crossyear["rule_id"].to_pylist(), crossyear["status"].to_pylist()):
        key = f"{rule.split('.')[0]} {status}"
        out[key] = out.get(key, 0) + 1
    return out
