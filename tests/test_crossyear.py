"""R11/R12 across years: agency keys, the year_pairs asset on every engine, and real published series.

The real series are ingested with a manifest (agency, region, year, level per file), so what is
checked here does not rest on reading metadata from the pages. Every finding below was checked by
hand against the printed page (its HTML table); the comment beside it says what the pages print.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import gx_fixtures as GF
import pandas as pd
import pytest
from checkpoint_support import base_reports, make_root, report, run_cli, write_data
from test_engines import pg_url  # noqa: F401  the PostgreSQL server fixture

from nianbao import agency_key as K
from nianbao import engines as E
from nianbao import localise
from nianbao import rules as R
from nianbao import schema as S
from nianbao.kinds.base import FAILED, NOT_ASSESSABLE

CORPUS = Path("/work/shared/corpus")
CROSS_YEAR = r"^R1[12]\."
R11_IDS = [f"R11.{c}" for c, _ in S.APPLICANT_COLUMNS]


# --- agency keys ------------------------------------------------------------------------------------

SAME_AGENCY = [
    # (agency, region) pairs that must link
    (("淮安市洪泽区财政局", "淮安市洪泽区"), ("洪泽区财政局", "淮安市洪泽区")),
    (("淮安市洪泽区财政局", "淮安市洪泽区"), ("财政局", "淮安市洪泽区")),
    (("江苏省淮安市洪泽区财政局", "江苏省淮安市洪泽区"), ("洪泽区财政局", "江苏省淮安市洪泽区")),
    (("某市人民政府办公厅", "浙江省温州市"), ("某市人民政府办公室", "浙江省温州市")),
    (("洪泽区 财政局", "淮安市洪泽区"), ("洪泽区财政局", "淮安市洪泽区")),  # a space
    (("ＡＢＣ开发区管委会", "淮安市洪泽区"), ("ABC开发区管委会", "淮安市洪泽区")),  # full-width letters
    (("平潭综合实验区公安局", "福建省平潭综合实验区"), ("公安局", "福建省平潭综合实验区")),
    (("淮安市洪泽区财政局", None), ("洪泽区财政局", "淮安市洪泽区")),  # region read from the name
]
OTHER_AGENCY = [
    (("洪泽区财政局", "淮安市洪泽区"), ("洪泽区税务局", "淮安市洪泽区")),
    (("朝阳区财政局", "北京市朝阳区"), ("朝阳区财政局", "长春市朝阳区")),
    (("淮安市财政局", "淮安市"), ("淮安市洪泽区财政局", "淮安市洪泽区")),
    (("某市人民政府", "浙江省温州市"), ("某市人民政府办公室", "浙江省温州市")),
]


@pytest.mark.parametrize(("one", "other"), SAME_AGENCY)
def test_one_agency_has_one_key(one, other):
    assert K.agency_key(*one) == K.agency_key(*other) is not None


@pytest.mark.parametrize(("one", "other"), OTHER_AGENCY)
def test_two_agencies_have_two_keys(one, other):
    assert K.agency_key(*one) != K.agency_key(*other)


def _link(*reports):
    return K.link(K.Report(f"R{i}", a, r, y) for i, (a, r, y) in enumerate(reports))


@pytest.mark.parametrize(
    ("reports", "linked", "ambiguous"),
    [
        # one agency over two years, its name with and without the region
        ([("淮安市洪泽区财政局", "淮安市洪泽区", 2022), ("洪泽区财政局", "淮安市洪泽区", 2023)], {"R0", "R1"}, {}),
        # two reports of one year with one key: neither is linked
        (
            [
                ("洪泽区财政局", "淮安市洪泽区", 2022),
                ("淮安市洪泽区财政局", "淮安市洪泽区", 2023),
                ("洪泽区财政局", "淮安市洪泽区", 2023),
            ],
            {"R0"},
            {"R1": K.SAME_YEAR, "R2": K.SAME_YEAR},
        ),
        # a name without region that fits one region's agency takes its key
        ([("财政局", "淮安市洪泽区", 2022), ("洪泽区财政局", None, 2023)], {"R0", "R1"}, {}),
        # ... and one that fits two regions' agencies is a guess: not linked
        (
            [("财政局", "北京市朝阳区", 2022), ("财政局", "长春市朝阳区", 2022), ("朝阳区财政局", None, 2023)],
            {"R0", "R1"},
            {"R2": K.TWO_AGENCIES},
        ),
    ],
)
def test_links_are_never_guessed(reports, linked, ambiguous):
    links = _link(*reports)
    assert {r for r, k in links.keys.items() if k is not None} == linked
    assert {a["report_id"]: a["reason"] for a in links.ambiguous} == ambiguous
    keys = [links.keys[r] for r in sorted(linked)]
    if len(reports) == 2:
        assert keys[0] == keys[1]


def test_localisation_ignores_the_year_pairs():
    assert not any(localise.localised_rule(r.id) for r in R.rules_for_suite("year_pairs"))
    assert all(r.table != "year_pairs" for v in S.FORMAT_VERSIONS for b in localise.blocks(v) for r in b.rules)


# --- synthetic pairs on every engine ------------------------------------------------------------------


def _a(year, agency, edits=None, version=S.FORMAT_2021):
    return report(agency, "江苏省淮安市洪泽区", "county_department", year, version, edits)


def _b(year, agency, edits=None, version=S.FORMAT_2021):
    return report(agency, "浙江省温州市", "city_department", year, version, edits)


def _carry(over: int, forward: int, new: int = 5) -> dict:
    """Table 三 person and total columns: new + carried over = 5 settled + carried forward (R1, R7 hold)."""
    cells = {}
    for c in ("person", "total"):
        cells.update({f"new_{c}": 5 + forward - over, f"carried_over_{c}": over, f"carried_forward_{c}": forward})
    return cells


def _docs(issued, repealed, in_force) -> dict:
    return {"normative_issued": issued, "normative_repealed": repealed, "normative_in_force": in_force}


SYNTHETIC = [
    # A: 2021 carries 2 forward, 2022 (named with its city) prints 1 carried over; 2023 is missing.
    _a(2021, "洪泽区财政局", {"applications": _carry(0, 2), "active_disclosure": _docs(3, 0, 10)}),
    _a(2022, "淮安市洪泽区财政局", {"applications": _carry(1, 0), "active_disclosure": _docs(2, 1, 11)}),
    _a(2024, "洪泽区财政局", {"applications": _carry(0, 0), "active_disclosure": _docs(0, 0, 11)}),
    # B: 2020 in the 2019 format (R12 does not apply to 2021), 2022's 现行有效 does not follow 2021's.
    _b(2020, "某市人民政府办公厅", version=S.FORMAT_2019),
    _b(2021, "某市人民政府办公室", {"active_disclosure": _docs(0, 0, 99)}),
    _b(2022, "某市人民政府办公厅", {"active_disclosure": _docs(1, 0, 90)}),
    # C: two reports of 2022 with one key: never paired, listed as ambiguous.
    _b(2021, "交通运输局"),
    _b(2022, "交通运输局"),
    _b(2022, "温州市交通运输局"),
]
RID = {(r["agency"], r["year"]): r["report_id"] for r in SYNTHETIC}
A22, A24 = RID[("淮安市洪泽区财政局", 2022)], RID[("洪泽区财政局", 2024)]
B22 = RID[("某市人民政府办公厅", 2022)]
# GX's verdicts on the year_pairs suite: (report, check)
SYNTHETIC_CHECKS = {(A22, "R11"), (A24, "R11.previous"), (B22, "R12")}
SYNTHETIC_FINDINGS = sorted(
    [
        (A22, "R11.person", FAILED),
        (A22, "R11.total", FAILED),
        (A24, "R11.previous", FAILED),
        *[(A24, r, NOT_ASSESSABLE) for r in R11_IDS],
        (A24, "R12.rules", NOT_ASSESSABLE),
        (A24, "R12.normative_docs", NOT_ASSESSABLE),
        (B22, "R12.normative_docs", FAILED),
    ]
)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return write_data(tmp_path_factory.mktemp("pairs") / "data", SYNTHETIC)


@pytest.fixture(scope="module")
def ctx():
    from nianbao.context import get_context

    return get_context()


def _year_pairs_checks(ctx, engine, data, work, **kw) -> set:
    got = GF.run_suites(ctx, engine, data, work, suites={"year_pairs"}, **kw)
    assert got.rows == {"year_pairs": 4}  # A 2022, A 2024, B 2021, B 2022; C's 2022 reports unpaired
    return got.checks


@pytest.mark.parametrize("engine", ["duckdb", "pandas", "sqlite"])
def test_year_pairs_fail_the_same_on_every_engine(engine, ctx, synthetic, tmp_path):
    kw = {"db_url": f"sqlite:///{tmp_path / 'nianbao.db'}"} if engine == "sqlite" else {}
    assert _year_pairs_checks(ctx, "sql" if engine == "sqlite" else engine, synthetic, tmp_path, **kw) == (
        SYNTHETIC_CHECKS
    )


@pytest.mark.postgres
def test_year_pairs_on_postgresql(ctx, synthetic, tmp_path, pg_url):  # noqa: F811
    """$NIANBAO_PG_URL, else a throwaway server (test_engines' fixture), else skipped."""
    assert _year_pairs_checks(ctx, "sql", synthetic, tmp_path, db_url=pg_url) == SYNTHETIC_CHECKS


@pytest.mark.spark
def test_year_pairs_on_spark(ctx, synthetic, tmp_path):
    assert _year_pairs_checks(ctx, "spark", synthetic, tmp_path) == SYNTHETIC_CHECKS


def _nightly(tmp_path, data, *args) -> tuple[pd.DataFrame, dict]:
    root = make_root(tmp_path)
    proc = run_cli(root, "run", "nightly", "--data", str(data), "--no-notify", *args)
    runs = sorted((root / "uncommitted" / "runs").glob("*-nightly"))
    assert runs, proc.stderr
    summary = json.loads((runs[-1] / "run_results.json").read_text(encoding="utf-8"))
    assert summary.get("completed"), (proc.stdout, proc.stderr)
    assert not summary["problems"], summary["problems"]
    return pd.read_parquet(runs[-1] / "findings.parquet"), summary


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
def test_nightly_findings_of_synthetic_pairs(engine, synthetic, tmp_path):
    args = ("--engine", "sql", "--db-url", f"sqlite:///{tmp_path / 'n.db'}") if engine == "sqlite" else ()
    findings, summary = _nightly(tmp_path, synthetic, *args)
    ours = findings[findings.rule_id.str.match(CROSS_YEAR)]
    assert sorted(zip(ours.report_id, ours.rule_id, ours.status)) == SYNTHETIC_FINDINGS
    assert set(findings.rule_id) == set(ours.rule_id)  # the fixture breaks nothing else
    person = ours[(ours.report_id == A22) & (ours.rule_id == "R11.person")].iloc[0]
    assert json.loads(person.cells) == {"carried_over_person": 1, "prev_carried_forward_person": 2, "prev_year": 2021}
    assert "2022 年报告" in person.message and "2021 年报告" in person.message
    na = ours[(ours.report_id == A24) & (ours.status == NOT_ASSESSABLE)]
    assert all("上年(2023 年)报告缺失" in m for m in na.message)
    ambiguous = summary["derived_assets"]["year_pairs"]["ambiguous"]
    assert {a["report_id"] for a in ambiguous} == {RID[("交通运输局", 2022)], RID[("温州市交通运输局", 2022)]}
    assert {a["reason"] for a in ambiguous} == {K.SAME_YEAR}


@pytest.mark.parametrize(
    "where",
    [{"report_ids": [A22, B22]}, {"year": [2022]}, {"agency": ["财政局"], "year": [2022, 2024]}, {"region": ["浙江"]}],
    ids=repr,
)
def test_a_selection_picks_its_rows_of_the_whole_asset(where, synthetic, tmp_path):
    """The year pairs of a selection (an incremental night's reports, --select) are the whole asset's
    rows of the selected reports, last year's reports read outside the selection."""

    def rows(prepared) -> dict:
        cur = prepared.keepalive.execute("SELECT * FROM year_pairs")
        names = [d[0] for d in cur.description]
        return {r[0]: dict(zip(names, r)) for r in cur.fetchall()}

    def picked(rid: str, agency: str, region: str, year: int) -> bool:
        return (
            rid in where.get("report_ids", [rid])
            and year in where.get("year", [year])
            and all(a in agency for a in where.get("agency", []))
            and all(region.startswith(p) for p in where.get("region", []))
        )

    every = E.prepare("duckdb", synthetic, work_dir=tmp_path / "all")
    some = E.prepare("duckdb", synthetic, work_dir=tmp_path / "some", where=where)
    try:
        query = "SELECT report_id, agency, region, year FROM nb_reports"
        meta = {r: (a, g, y) for r, a, g, y in every.keepalive.execute(query).fetchall()}
        whole, part = rows(every), rows(some)
        expected = {rid for rid in whole if picked(rid, *meta[rid])}
        assert expected and expected < set(whole)
        assert part == {rid: whole[rid] for rid in expected}
    finally:
        every.close()
        some.close()


def test_a_single_year_has_no_pairs_and_no_new_findings(ctx, tmp_path):
    data = write_data(tmp_path / "data", base_reports())
    prepared = E.prepare("duckdb", data, work_dir=tmp_path / "work")
    try:
        assert prepared.keepalive.execute("SELECT count(*) FROM year_pairs").fetchone() == (0,)
        assert "year_pairs" not in set(prepared.violations["suite"].to_pylist())
    finally:
        prepared.close()
    findings, _ = _nightly(tmp_path / "run", data)
    assert not findings.rule_id.str.match(CROSS_YEAR).any()


def test_the_gate_checkpoint_has_no_year_pairs():
    from nianbao import generate

    names = [v["name"] for v in generate.checkpoint_config("gate")["validation_definitions"]]
    assert names == list(R.SUITES) and "year_pairs" not in names
    assert "year_pairs" in [v["name"] for v in generate.checkpoint_config("nightly")["validation_definitions"]]


# --- real published series ----------------------------------------------------------------------------

DEPARTMENTS = {"gaj": "平潭综合实验区公安局", "jtj": "平潭综合实验区交通与建设局", "hzs": "平潭综合实验区行政审批局"}
PINGTAN = "平潭综合实验区管委会"


@pytest.fixture(scope="module")
def real_series(tmp_path_factory):
    from nianbao.ingest import ingest

    base = tmp_path_factory.mktemp("series")
    files = sorted((CORPUS / "html-series").glob("*.html")) + sorted((CORPUS / "html").glob("pingtan-*.html"))
    with open(base / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["file", "agency", "region", "year", "level"])
        for f in files:
            dept, year = f.stem.split("-")
            agency = DEPARTMENTS.get(dept, PINGTAN)
            out.writerow([f, agency, "福建省平潭综合实验区", year, "city" if agency == PINGTAN else "city_department"])
    ingest(files, base / "data", manifest=base / "manifest.csv", workers=1)
    return _nightly(base / "run", base / "data")


def _docs_cells(in_force, repealed, prev_in_force, issued, prev_year):
    return {
        "normative_in_force": in_force,
        "normative_repealed": repealed,
        "prev_normative_in_force": prev_in_force,
        "normative_issued": issued,
        "prev_year": prev_year,
    }


def _not_assessable(agency, year):
    """R11 in every column and R12 twice, not assessable: last year's report missing or rejected."""
    return [(agency, year, r, NOT_ASSESSABLE) for r in (*R11_IDS, "R12.rules", "R12.normative_docs")]


REAL_FAILED = [
    # gaj-2022 行政规范性文件 prints 4 / 1 / 7; gaj-2021 prints 现行有效 2: 2 + 4 − 1 = 5, not 7.
    (DEPARTMENTS["gaj"], 2022, "R12.normative_docs", _docs_cells(7, 1, 2, 4, 2021)),
    # hzs-2023 prints 5 / 4 / 16; hzs-2022 prints 现行有效 25: 25 + 5 − 4 = 26, not 16.
    (DEPARTMENTS["hzs"], 2023, "R12.normative_docs", _docs_cells(16, 4, 25, 5, 2022)),
    # hzs-2024 prints 15 / 6 / 21; hzs-2023 prints 16: 16 + 15 − 6 = 25, not 21.
    (DEPARTMENTS["hzs"], 2024, "R12.normative_docs", _docs_cells(21, 6, 16, 15, 2023)),
    # jtj-2024 prints 3 / 1 / 23; jtj-2023 prints 15: 15 + 3 − 1 = 17, not 23. (jtj-2023: 16 + 5 − 6 = 15 holds.)
    (DEPARTMENTS["jtj"], 2024, "R12.normative_docs", _docs_cells(23, 1, 15, 3, 2023)),
    # pingtan-2023 prints 77 / 132 / 470; pingtan-2022 prints 698: 698 + 77 − 132 = 643, not 470.
    (PINGTAN, 2023, "R12.normative_docs", _docs_cells(470, 132, 698, 77, 2022)),
    # pingtan-2024 prints 62 / 33 / 440; pingtan-2023 prints 470: 470 + 62 − 33 = 499, not 440.
    (PINGTAN, 2024, "R12.normative_docs", _docs_cells(440, 33, 470, 62, 2023)),
    # pingtan-2025 prints 58 / 45 / 546; pingtan-2024 prints 440: 440 + 58 − 45 = 453, not 546.
    (PINGTAN, 2025, "R12.normative_docs", _docs_cells(546, 45, 440, 58, 2024)),
    # gaj-2021's previous year: gaj-2020.html is a page of links without the report (rejected).
    (DEPARTMENTS["gaj"], 2021, "R11.previous", None),
    # gaj-2024's previous year: the series has no gaj-2023.
    (DEPARTMENTS["gaj"], 2024, "R11.previous", None),
]
# Passing, by hand: every 上年结转 row equals last year's 结转下年度继续办理 (gaj 2021 → 2022: 1 and 1 in
# 自然人 and 总计; pingtan 2021 → 2022: 1 and 1; all others 0), and pingtan 2022: 665 + 88 − 55 = 698.


def test_real_series_findings(real_series):
    findings, summary = real_series
    ours = findings[findings.rule_id.str.match(CROSS_YEAR)]
    got = sorted(zip(ours.agency, ours.year, ours.rule_id, ours.status))
    expected = [(a, y, r, FAILED) for a, y, r, _ in REAL_FAILED]
    expected += _not_assessable(DEPARTMENTS["gaj"], 2021) + _not_assessable(DEPARTMENTS["gaj"], 2024)
    assert got == sorted(expected)
    for agency, year, rule, cells in REAL_FAILED:
        row = ours[(ours.agency == agency) & (ours.year == year) & (ours.rule_id == rule)].iloc[0]
        if cells is not None:
            assert json.loads(row.cells) == cells, (agency, year)
            assert f"{year} 年报告" in row.message and f"{year - 1} 年报告" in row.message
    na = ours[ours.status == NOT_ASSESSABLE]
    assert all("上年(2020 年)报告不完整" in m for m in na[na.year == 2021].message)
    assert all("上年(2023 年)报告缺失" in m for m in na[na.year == 2024].message)
    assert summary["derived_assets"]["year_pairs"]["ambiguous"] == []
