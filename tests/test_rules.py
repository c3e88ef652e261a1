"""Every rule id: a passing and a failing example as real Parquet, validated by the real suites on DuckDB.

Each case writes its own small Parquet fixture (one file per table) into one data folder; the
suites run once over the folder (gx_fixtures.run_suites asserts, per expectation, that GX failed
exactly the rows the violations table lists for its rules). For every rule id the failing
report_ids must be exactly the examples that state they fail it, GX's expectation for the rule
(its family for an identity) must fail the report, and the finding's explanation must carry the
report's cells (and, for an identity, both sides). Every identity also gets a "blank" example: its
failing example with one operand left blank, which must not fail the identity (not assessable) but
must fail R9.

Clean report (tests/gx_fixtures.py), table 三 column i = 1..6 (自然人 … 其他): 新收 i+4, 上年结转 2,
(一)予以公开 i, (二)(三)1 (四)1 (五)1 (六)1 each 1, (七)总计 i+5, 结转下年度 1; the 总计 column sums them
(新收 45, 结转 12, 予以公开 21, 总计 51, 结转下年度 6). Table 四: 行政复议 3+1+0+1=5, 直接起诉 2+0+0+0=2,
复议后起诉 1+1+0+0=2. Table 二 (2021): 规章 1/0/5 for a 设区的市; fee 12.5 万元.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

import gx_fixtures as F
import pytest

from nianbao import findings as FND
from nianbao import rules as R
from nianbao import schema as S
from nianbao.cells import number
from nianbao.context import get_context

V19, V21 = S.FORMAT_2019, S.FORMAT_2021
PARTS = dict(zip(S.APPLICANT_PARTS, range(1, 7)))
APP_TOTALS = {
    "new": 45,
    "carried_over": 12,
    "granted": 21,
    "partly_granted": 6,
    "withheld_1": 6,
    "unable_1": 6,
    "not_processed_1": 6,
    "other_1": 6,
    "total": 51,
    "carried_forward": 6,
}
COLUMN_TOTAL_RULE = {
    "new": {"R1.total"},
    "carried_over": {"R1.total"},
    "carried_forward": {"R1.total"},
    "total": {"R1.total", "R2.total"},
}
SINGLE_OTHER_ROW = {
    **{S.app_col(f"other_{k}", c): None for k in (1, 2, 3) for c, _ in S.APPLICANT_COLUMNS},
    **{S.app_col("other", p): 1 for p in S.APPLICANT_PARTS},
    "other_total": 6,
}


@dataclass
class Case:
    rule_id: str
    fail: dict  # cells changed in the failing example
    fails: set  # every rule the failing example fails (rule_id among them)
    sides: tuple | None = None  # identity: (left, right) on the failing example
    passing: dict = field(default_factory=dict)
    passing_fails: set = field(default_factory=set)  # e.g. R9 when the passing example has a blank
    version: str = V21
    pass_version: str | None = None


def _cases() -> list[Case]:
    c = []
    for p, i in PARTS.items():
        balanced = {
            f"carried_over_{p}": 3,
            f"carried_forward_{p}": 2,
            "carried_over_total": 13,
            "carried_forward_total": 7,
        }
        c.append(
            Case(
                f"R1.{p}",
                {f"new_{p}": i + 5, "new_total": 46},
                {f"R1.{p}", "R1.total"},
                (i + 7, i + 6),
                passing={"new_person": None} if p == "person" else balanced,
                passing_fails={"R9.applications"} if p == "person" else set(),
            )
        )
    c.append(
        Case(
            "R1.total",
            {"carried_over_total": 13},
            {"R1.total", "R3.carried_over"},
            (58, 57),
            passing={
                "carried_over_person": 3,
                "carried_forward_person": 2,
                "carried_over_total": 13,
                "carried_forward_total": 7,
            },
        )
    )
    r2_passing = {
        "person": (SINGLE_OTHER_ROW, set(), None),
        "business": ({}, set(), V19),
        "research": ({"other_2_research": None}, {"R9.applications"}, None),
    }
    for p, i in PARTS.items():
        passing, passing_fails, pass_version = r2_passing.get(p, ({}, set(), None))
        if p == "legal":  # (六)其他处理 printed as one row: the single cell stands in for the sub-rows
            c.append(
                Case(
                    "R2.legal",
                    {"other_legal": 2, "other_total": 7},
                    {"R2.legal", "R2.total"},
                    (10, 11),
                    version=V19,
                    pass_version=V19,
                )
            )
            continue
        c.append(
            Case(
                f"R2.{p}",
                {f"granted_{p}": i + 1, "granted_total": 22},
                {f"R2.{p}", "R2.total"},
                (i + 5, i + 6),
                passing=passing,
                passing_fails=passing_fails,
                pass_version=pass_version,
            )
        )
    c.append(Case("R2.total", {"other_3_total": 1}, {"R2.total", "R3.other_3"}, (51, 52)))
    for row in (*S.APPLICATION_ROW_KEYS_SUBROWS, "other"):
        total = 6 if row == "other" else APP_TOTALS.get(row, 0)
        also = COLUMN_TOTAL_RULE.get(row, {"R2.total"})
        c.append(
            Case(
                f"R3.{row}",
                {f"{row}_total": total + 1},
                {f"R3.{row}", *also},
                (total + 1, total),
                version=V19 if row == "other" else V21,
            )
        )
    c += [
        Case(
            "R4.review",
            {"review_upheld": 10, "review_corrected": 1, "review_other": 0, "review_pending": 0, "review_total": 0},
            {"R4.review"},
            (0, 11),
            passing={"review_pending": None},
            passing_fails={"R9.review_litigation"},
        ),
        Case("R4.litigation_direct", {"litigation_direct_total": 3}, {"R4.litigation_direct"}, (3, 2)),
        Case(
            "R4.litigation_after_review", {"litigation_after_review_total": 0}, {"R4.litigation_after_review"}, (0, 2)
        ),
        Case(
            "R5.applications",
            {"withheld_2_person": -1, "withheld_3_person": 1, "withheld_2_total": -1, "withheld_3_total": 1},
            {"R5.applications"},
            passing={"withheld_2_person": None},
            passing_fails={"R9.applications"},
        ),
        Case("R5.review_litigation", {"review_other": -1, "review_upheld": 4}, {"R5.review_litigation"}),
        Case(
            "R5.active_disclosure",
            {"licensing_decisions": -3},
            {"R5.active_disclosure"},
            passing={c_: Decimal(0) if c_ in S.DECIMAL_COLUMNS else 0 for _, _, c_, _ in S.ACTIVE_2021},
        ),
        Case(
            "R5.active_disclosure_2019", {"v2019_punishment_decisions": -1}, {"R5.active_disclosure_2019"}, version=V19
        ),
        Case(
            "R6.non_negative",
            {"fees_10k_yuan": Decimal("-0.5")},
            {"R6.non_negative"},
            passing={"fees_10k_yuan": Decimal("0")},
        ),
        Case(
            "R6.magnitude",
            {"fees_10k_yuan": Decimal("250000")},
            {"R6.magnitude"},
            passing={"fees_10k_yuan": Decimal("100000")},
        ),
    ]
    for p, i in PARTS.items():
        c.append(
            Case(
                f"R7.{p}",
                {f"carried_forward_{p}": 20, "carried_forward_total": 25},
                {f"R7.{p}", f"R1.{p}", "R1.total"},
                (20, i + 6),
                passing={"carried_forward_person": None} if p == "person" else {},
                passing_fails={"R9.applications"} if p == "person" else set(),
            )
        )
    c.append(Case("R7.total", {"carried_forward_total": 60}, {"R7.total", "R1.total", "R3.carried_forward"}, (60, 57)))
    for item in ("licensing", "other_services", "punishment", "enforcement", "fees"):
        c.append(
            Case(
                f"R8.{item}",
                {f"v2019_{item}_prev_items": 2, f"v2019_{item}_change": -5},
                {f"R8.{item}"},
                (-3, 0),
                passing={f"v2019_{item}_prev_items": 3, f"v2019_{item}_change": -3},
                version=V19,
            )
        )
    c += [
        Case("R9.applications", {"unable_3_legal": None}, {"R9.applications"}, passing=SINGLE_OTHER_ROW),
        Case("R9.review_litigation", {"litigation_direct_other": None}, {"R9.review_litigation"}),
        Case("R9.active_disclosure", {"enforcement_decisions": None}, {"R9.active_disclosure"}),
        Case(
            "R9.active_disclosure_2019", {"v2019_procurement_amount": None}, {"R9.active_disclosure_2019"}, version=V19
        ),
        Case(
            "R10.rules",
            {"level": "county"},
            {"R10.rules"},
            passing={"level": "township", "rules_issued": 0, "rules_repealed": 0, "rules_in_force": 0},
        ),
        Case(
            "R10.rules_2019",
            {"level": "township"},
            {"R10.rules_2019"},
            version=V19,
            passing={
                "level": "county",
                "v2019_rules_made": 0,
                "v2019_rules_published": 0,
                "v2019_rules_published_total": 0,
            },
        ),
    ]
    return c


CASES = _cases()
R9_OF = {
    ("applications", V21): "R9.applications",
    ("applications", V19): "R9.applications",
    ("review_litigation", V21): "R9.review_litigation",
    ("review_litigation", V19): "R9.review_litigation",
    ("active_disclosure", V19): "R9.active_disclosure_2019",
}


def blank_example(case: Case) -> dict:
    """The failing example with one operand of the identity left blank."""
    rule = R.RULES_BY_ID[case.rule_id]
    plain = [c for c in (*rule.left, *rule.right) if c not in rule.alt_group]
    column = next((c for c in plain if c not in case.fail), plain[0])
    return {**case.fail, column: None}


def examples() -> list[tuple[str, Case, str, dict, str]]:
    """(report name, case, kind, changes, version) of every example."""
    out = []
    for case in CASES:
        out.append((f"{case.rule_id}-fail", case, "fail", case.fail, case.version))
        out.append((f"{case.rule_id}-pass", case, "pass", case.passing, case.pass_version or case.version))
        if R.RULES_BY_ID[case.rule_id].kind == "identity":
            out.append((f"{case.rule_id}-blank", case, "blank", blank_example(case), case.version))
    return out


def _rid(name: str) -> str:
    return F.report(name)["reports"]["report_id"]


@pytest.fixture(scope="module")
def failures(tmp_path_factory):
    """gx_fixtures.SuiteRun of one DuckDB run over every example: {(report_id, rule_id): row}, .checks."""
    data = tmp_path_factory.mktemp("rules") / "data"
    by_case: dict[str, list] = {}
    for name, case, _, changes, version in examples():
        by_case.setdefault(case.rule_id, []).append(F.report(name, version=version, changes=changes))
    for rule_id, reports in by_case.items():
        F.write_reports(data, f"case-{rule_id}", reports)
    ctx = get_context()
    return F.run_suites(ctx, "duckdb", data, data.parent / "work")


def test_every_rule_has_a_case():
    """Every rule of the table suites here; the derived suites' rules (one agency's years, the text) in
    tests/test_crossyear.py and tests/test_report_text.py, with rows built from several reports."""
    assert sorted(c.rule_id for c in CASES) == sorted(r.id for r in R.RULES if r.table not in R.DERIVED_SUITES)


def _failed_rules(failures, name: str) -> set:
    rid = _rid(name)
    return {rule for (r, rule) in failures if r == rid}


def _same(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None
    return a == b


@pytest.mark.parametrize("case", CASES, ids=[c.rule_id for c in CASES])
def test_rule(case, failures):
    assert _failed_rules(failures, f"{case.rule_id}-fail") == case.fails
    assert _failed_rules(failures, f"{case.rule_id}-pass") == case.passing_fails
    rid = _rid(f"{case.rule_id}-fail")
    # GX itself failed the report on the rule's expectation (the family's, for an identity).
    assert (rid, F.CHECK_OF_RULE[case.rule_id]) in failures.checks
    assert {c for r, c in failures.checks if r == rid} == {F.CHECK_OF_RULE[x] for x in case.fails}
    row = failures[(rid, case.rule_id)]
    rule = R.RULES_BY_ID[case.rule_id]
    reported = {c: v for c, v in case.fail.items() if c in (*rule.operands, rule.params.get("level_column"))}
    assert reported, "the failing example must change a cell the rule reads"
    assert all(_same(row[c], v) for c, v in reported.items()), (row, reported)
    # The finding explains the failure from those cells: expected against printed.
    ex = FND.explain(rule, row, row["level"])
    assert ex is not None and ex.status == FND.FAILED, ex
    assert ex.cells and all(_same(row[c], v) or number(row[c]) == v for c, v in ex.cells.items()), ex.cells
    if rule.kind == "identity":
        assert (ex.left, ex.right) == case.sides
    elif rule.kind == "zero_for_levels":  # the level changed: the 规章 cells it makes wrong
        assert set(ex.cells) <= set(rule.columns) and all(v != 0 for v in ex.cells.values()), ex.cells
    else:  # only cells the example changed are named
        assert set(ex.cells) <= set(reported), (ex.cells, reported)


@pytest.mark.parametrize(
    "case", [c for c in CASES if R.RULES_BY_ID[c.rule_id].kind == "identity"], ids=lambda c: c.rule_id
)
def test_blank_operand_is_not_a_failure(case, failures):
    failed = _failed_rules(failures, f"{case.rule_id}-blank")
    rule = R.RULES_BY_ID[case.rule_id]
    assert case.rule_id not in failed
    assert R9_OF[(rule.table, case.version)] in failed


def test_failing_report_ids_are_exact(failures):
    """Per rule id, the failing reports among the pass/fail examples are exactly those stated."""
    stated = {(_rid(f"{c.rule_id}-fail"), r) for c in CASES for r in c.fails}
    stated |= {(_rid(f"{c.rule_id}-pass"), r) for c in CASES for r in c.passing_fails}
    blank = {_rid(f"{c.rule_id}-blank") for c in CASES}
    assert {k for k in failures if k[0] not in blank} == stated


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_a_fraction_in_a_count_fails_r5(engine, tmp_path):
    """Counts are int64 in the contract; a producer that writes 0.5 anyway is caught by R5."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "data"
    F.write_reports(data, "fraction", [F.report("fraction")])
    rep = F.report("fraction", changes={"withheld_2_person": 0.5})
    schema = S.APPLICATIONS_SCHEMA.set(
        S.APPLICATIONS_SCHEMA.get_field_index("withheld_2_person"), pa.field("withheld_2_person", pa.float64())
    )
    pq.write_table(
        pa.Table.from_pylist([rep["applications"]], schema=schema), data / "applications" / "fraction.parquet"
    )
    found = F.run_suites(get_context(), engine, data, tmp_path / "work", suites={"applications_2021"})
    rid = rep["reports"]["report_id"]
    # 0.5 in 自然人·(三)2 also unbalances its column (R2.person) and its row (R3.withheld_2).
    assert set(found) == {(rid, "R5.applications"), (rid, "R2.person"), (rid, "R3.withheld_2")}
    assert found.checks == {(rid, "R5.applications"), (rid, "R2"), (rid, "R3")}
    row = found[(rid, "R5.applications")]
    assert row["withheld_2_person"] == 0.5
    assert FND.explain(R.RULES_BY_ID["R5.applications"], row).cells == {"withheld_2_person": 0.5}
