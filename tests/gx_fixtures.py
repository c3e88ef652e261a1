"""Small hand-made reports written as real Parquet data folders, and a GX run over them.

A clean report satisfies every rule; a test case changes a few cells (a mutation) and states which
rules the changed report must fail. The numbers are chosen by hand, never computed by the checks.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from nianbao import rules as RL
from nianbao import schema as S
from nianbao import violations
from nianbao.datafolder import read_reports
from nianbao.engines import RESULT_FORMAT, attach

PARTS = S.APPLICANT_PARTS
RESULT_ROWS = S.RESULT_ROWS_SUBROWS


def clean_applications(version: str = S.FORMAT_2021) -> dict:
    """Table 三 of a clean report; 2019 prints (六)其他处理 as one row."""
    cells: dict = {}
    for i, p in enumerate(PARTS, start=1):
        results = dict.fromkeys(RESULT_ROWS, 0)
        results.update(granted=i, partly_granted=1, withheld_1=1, unable_1=1, not_processed_1=1, other_1=1)
        if version == S.FORMAT_2019:
            results.update(other_1=None, other_2=None, other_3=None)
            cells[S.app_col("other", p)] = 1
        total = i + 5
        cells.update({S.app_col(r, p): v for r, v in results.items()})
        cells.update(
            {
                S.app_col("total", p): total,
                S.app_col("carried_over", p): 2,
                S.app_col("carried_forward", p): 1,
                S.app_col("new", p): total + 1 - 2,
            }
        )
    rows = [*S.APPLICATION_ROW_KEYS_SUBROWS, "other"]
    for r in rows:
        parts = [cells.get(S.app_col(r, p)) for p in PARTS]
        cells[S.app_col(r, "total")] = None if None in parts else sum(parts)
    return cells


def clean_review() -> dict:
    """Table 四 of a clean report."""
    values = {"review": (3, 1, 0, 1), "litigation_direct": (2, 0, 0, 0), "litigation_after_review": (1, 1, 0, 0)}
    cells = {}
    for g, parts in values.items():
        cells.update({f"{g}_{o}": v for (o, _), v in zip(S.REVIEW_OUTCOMES, parts)})
        cells[f"{g}_total"] = sum(parts)
    return cells


def clean_active(version: str = S.FORMAT_2021) -> dict:
    """Table 二 of a clean report (a 设区的市 government may make 规章)."""
    if version == S.FORMAT_2021:
        return {
            "rules_issued": 1,
            "rules_repealed": 0,
            "rules_in_force": 5,
            "normative_issued": 3,
            "normative_repealed": 1,
            "normative_in_force": 20,
            "licensing_decisions": 100,
            "punishment_decisions": 50,
            "enforcement_decisions": 5,
            "fees_10k_yuan": Decimal("12.5"),
        }
    return {
        "v2019_rules_made": 1,
        "v2019_rules_published": 1,
        "v2019_rules_published_total": 5,
        "v2019_normative_made": 2,
        "v2019_normative_published": 2,
        "v2019_normative_published_total": 10,
        "v2019_licensing_prev_items": 10,
        "v2019_licensing_change": 2,
        "v2019_licensing_decisions": 30,
        "v2019_other_services_prev_items": 5,
        "v2019_other_services_change": -1,
        "v2019_other_services_decisions": 3,
        "v2019_punishment_prev_items": 8,
        "v2019_punishment_change": 0,
        "v2019_punishment_decisions": 40,
        "v2019_enforcement_prev_items": 2,
        "v2019_enforcement_change": 1,
        "v2019_enforcement_decisions": 4,
        "v2019_fees_prev_items": 3,
        "v2019_fees_change": -1,
        "v2019_procurement_items": 4,
        "v2019_procurement_amount": Decimal("12.3"),
    }


def report(
    name: str,
    *,
    version: str = S.FORMAT_2021,
    level: str = "city",
    region: str = "江苏省测试市",
    year: int = 2023,
    changes: dict | None = None,
) -> dict:
    """One report: its reports row and its three tables, with `changes` (column -> value) applied.

    A change of `level` goes to the reports row; any other column to the table that has it.
    """
    agency = f"测试机关{name}"
    rid = S.report_id_for(agency, region, year)
    tables = {
        "applications": clean_applications(version),
        "review_litigation": clean_review(),
        "active_disclosure": clean_active(version),
    }
    meta = {
        "report_id": rid,
        "agency": agency,
        "region": region,
        "level": level,
        "year": year,
        "format_version": version,
        "format_deviations": "",
        "source_file": f"{name}.txt",
        "source_sha256": "0" * 64,
        "parse_status": "parsed",
        "parse_reason": "",
        "missing": "",
        "ingested_at": None,
    }
    for column, value in (changes or {}).items():
        if column == "level":
            meta["level"] = value
            continue
        table = next(t for t in tables if column in S.TABLE_SCHEMAS[t].names)
        tables[table][column] = value
    for t in tables.values():
        t.update(report_id=rid, format_version=version)
    return {"reports": meta, **tables}


def write_reports(data_dir: Path, name: str, reports: list[dict]) -> None:
    """Write reports as one Parquet file per table, DATA/<table>/<name>.parquet."""
    for table in ("reports", "applications", "review_litigation", "active_disclosure"):
        folder = data_dir / table
        folder.mkdir(parents=True, exist_ok=True)
        rows = [r[table] for r in reports]
        pq.write_table(pa.Table.from_pylist(rows, schema=S.TABLE_SCHEMAS[table]), folder / f"{name}.parquet")


def raised(result) -> bool:
    """True when an expectation raised (GX keys metric errors by metric id)."""
    info = result.exception_info or {}
    if "raised_exception" in info:
        return bool(info["raised_exception"])
    return any(v.get("raised_exception") for v in info.values() if isinstance(v, dict))


# The production result format, but listing every failing report id (not 20) on every engine.
COMPLETE = {**RESULT_FORMAT, "result_format": "COMPLETE", "partial_unexpected_count": 1_000_000}
CHECK_OF_RULE = {r.id: c.id for suite in RL.SUITES for c in RL.checks_for_suite(suite) for r in c.rules}


def gx_failing_ids(result: dict) -> list[str]:
    """Every report id GX lists as failing: one dict per row, or (exclude_unexpected_values) one list
    per index column, as GX 1.24.1 returns them."""
    ids: list[str] = []
    for row in result.get("unexpected_index_list") or []:
        value = row["report_id"]
        ids.extend(value if isinstance(value, list) else [value])
    return ids


class SuiteRun(dict):
    """{(report_id, rule_id): the report's row} for every failure of a GX run, plus what GX found itself.

    The pairs come from the violations table of the rows GX validated (attached.violations), after
    run_suites asserted, per expectation, that GX failed exactly the rows that break its rules. The
    row is the rule's table as read back from the data folder (with the report's level), the values
    nianbao.findings explains a failure with. `checks`: {(report_id, check_id)} of GX's own
    unexpected_index_list; `rows`: {suite: rows GX validated}; `violations`: the table itself.
    """

    def __init__(self, pairs: dict, checks: set, rows: dict, violations: pa.Table):
        super().__init__(pairs)
        self.checks, self.rows, self.violations = checks, rows, violations


def run_suites(ctx, engine: str, data_dir: Path, work_dir: Path, suites=None, **kw) -> SuiteRun:
    """Validate the suites on `engine` with every failing id listed; assert that no expectation raised
    and that GX and the violations table agree, expectation by expectation; return the failures."""
    attached = attach(ctx, engine, data_dir, work_dir=work_dir, **kw)
    try:
        checks, rows, judged = set(), {}, set()
        for suite, bd in attached.items():
            if suites is not None and suite not in suites:
                continue
            result = bd.get_batch().validate(ctx.suites.get(suite), result_format=COMPLETE)
            # Every check of the suite was evaluated, once (GX does not keep the suite's order).
            assert sorted(r.expectation_config.meta["check_id"] for r in result.results) == sorted(
                c.id for c in RL.checks_for_suite(suite)
            ), suite
            for r in result.results:
                meta = r.expectation_config.meta
                assert not raised(r), (engine, suite, meta["check_id"], r.exception_info)
                rule_ids = [x["rule_id"] for x in meta["rules"]]
                ids = gx_failing_ids(r.result)
                count, expected = violations.rows_failing(attached.violations, suite, rule_ids)
                where = (engine, suite, meta["check_id"])
                # GX's ExpectColumnValuesToBeBetween counts None on an empty batch (an asset with no rows)
                assert len(ids) == len(set(ids)) == (r.result["unexpected_count"] or 0), where
                assert set(ids) == expected and len(expected) == count, (where, sorted(ids), sorted(expected))
                assert r.success is (count == 0), where
                checks.update((i, meta["check_id"]) for i in ids)
                judged.update((suite, x) for x in rule_ids)
                assert rows.setdefault(suite, r.result["element_count"]) == r.result["element_count"], where
        pairs = violations.pairs(attached.violations).to_pylist()
        found = [(p["report_id"], p["rule_id"]) for p in pairs if (p["suite"], p["rule_id"]) in judged]
        assert len(found) == len(set(found)), "a report broke a rule twice"
        reports = read_reports(data_dir, {rid for rid, _ in found}, with_text=False)
        values = {
            (rid, rule): {
                **reports[rid]["values"].get(RL.RULES_BY_ID[rule].table, {}),
                "level": reports[rid]["meta"].get("level"),
            }
            for rid, rule in found
        }
        return SuiteRun(values, checks, rows, attached.violations)
    finally:
        attached.prepared.close()
