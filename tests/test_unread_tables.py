"""Reports whose tables were not all read, and cross-year rules with a blank on either side.

- The synthetic series lacks a statutory table in some reports (R24.tables) and has table 二 unreadable,
  so no format version, in others (R25.format). Each is written as a real ingest writes such a report:
  compared here with real report 000 parsed and ingested after the same edit. A real nightly on a small
  series then finds exactly the truth, these reports' cross-year consequences included.
- R11/R12 are not assessable (reported, never passed) when an operand is blank on either side: this
  year's own 上年结转 or table 二 counts, or last year's 现行有效件数 in a partial report (R11.previous
  says why). Tiny data folders through a real nightly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from checkpoint_support import make_root, report, run_cli, write_data

from nianbao import crossyear_truth as CY
from nianbao import ingest_file, synth
from nianbao import schema as S
from nianbao import synth_text as TX
from nianbao.kinds.base import FAILED, NOT_ASSESSABLE
from nianbao.parse import parse_file

REAL_000 = Path("/work/shared/corpus/real/000.txt")
REPORT_FIELDS = ("parse_status", "parse_reason", "missing", "format_version", "format_deviations")
ONE_ROW, SUB_ROW = S.app_col(S.OTHER_SINGLE_ROW.key, "total"), S.app_col(S.OTHER_SUB_ROWS[0], "total")


def read(folder: Path, table: str) -> pa.Table:
    """A table of the data folder, or a truth file (TRUTH, CY.TRUTH_FILE)."""
    if table.endswith(".parquet"):
        return pq.read_table(folder / table)
    return pq.read_table(sorted((folder / table).glob("*.parquet")))


TRUTH = "_truth/truth.parquet"


def nightly(tmp_path: Path, data: Path) -> tuple[pd.DataFrame, dict]:
    root = make_root(tmp_path)
    proc = run_cli(root, "run", "nightly", "--data", str(data), "--no-notify")
    runs = sorted((root / "uncommitted" / "runs").glob("*-nightly"))
    assert runs, proc.stderr
    summary = json.loads((runs[-1] / "run_results.json").read_text(encoding="utf-8"))
    assert summary.get("completed"), (proc.stdout, proc.stderr)
    return pd.read_parquet(runs[-1] / "findings.parquet"), summary


# --- What a real ingest writes ----------------------------------------------------------------------


def _cut(lines: list[str], start: str, stop: str) -> list[str]:
    """The lines without the block from the line starting with `start` to the next starting with `stop`."""
    i = next(k for k, line in enumerate(lines) if line.startswith(start))
    j = next(k for k, line in enumerate(lines) if k > i and line.startswith(stop))
    return lines[:i] + lines[j:]


def _unknown_format(lines: list[str]) -> list[str]:
    """Table 二 without its headers (no format can be told from it), (六) printed as one row."""
    kept = [line for line in lines if not line.startswith(("信息内容", "第二十条"))]
    i = next(k for k, line in enumerate(kept) if line.startswith("(六)其他处理"))
    return [*kept[:i], "(六)其他处理 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |", *kept[i + len(S.OTHER_SUB_ROWS) :]]


# (case, the edit of real report 000 (2021 format, (六) as three sub-rows), synthetic kind, its cell)
UNREAD = [
    ("table-4-missing", lambda ls: _cut(ls, "四、政府信息公开行政复议", "五、"), TX.TABLE_MISSING, "review_litigation"),
    (
        "table-3-missing",
        lambda ls: _cut(ls, "三、收到和处理", "四、政府信息公开行政复议"),
        TX.TABLE_MISSING,
        "applications",
    ),
    ("table-2-missing", lambda ls: _cut(ls, "二、主动公开", "三、收到和处理"), TX.TABLE_MISSING, "active_disclosure"),
    ("format-unknown", _unknown_format, TX.FORMAT_UNMATCHED, "active_disclosure"),
]


def _shape(reports_row: dict, tables: dict[str, dict | None]) -> dict:
    """What an ingest records of a report whose tables were not all read."""
    apps = tables["applications"]
    return {
        **{f: reports_row[f] for f in REPORT_FIELDS},
        "tables": sorted(t for t, row in tables.items() if row is not None),
        "(六)": None
        if apps is None
        else ("one row" if apps[SUB_ROW] is None and apps[ONE_ROW] is not None else "sub-rows"),
    }


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """60 agencies x 2019-2025, text errors at 5 % a kind: a few of each unread-table kind."""
    out = tmp_path_factory.mktemp("unread") / "data"
    summary = synth.generate_series(60, out, seed=5, text_error_rate=0.05)
    return out, summary


@pytest.mark.parametrize("case,edit,kind,cell", UNREAD, ids=[u[0] for u in UNREAD])
def test_synthetic_report_is_what_a_real_ingest_writes(series, tmp_path, case, edit, kind, cell):
    path = tmp_path / f"{case}.txt"
    path.write_text("\n".join(edit(REAL_000.read_text(encoding="utf-8").split("\n"))), encoding="utf-8")
    rows = ingest_file.report_rows(parse_file(path))
    real = _shape(rows["reports"][0], {t: (rows[t] or [None])[0] for t in synth.STATUTORY})

    out, _ = series
    truth = read(out, TRUTH).filter(pc.equal(read(out, TRUTH)["injected"], kind)).to_pylist()
    ids = {t["report_id"] for t in truth if t["cell"] == cell}
    reports = {r["report_id"]: r for r in read(out, "reports").to_pylist() if r["report_id"] in ids}
    tables = {
        t: {r["report_id"]: r for r in read(out, t).to_pylist() if r["report_id"] in ids} for t in synth.STATUTORY
    }
    shapes = [_shape(r, {t: tables[t].get(rid) for t in synth.STATUTORY}) for rid, r in reports.items()]
    # Real report 000 is a 2021 report printing (六) as three sub-rows: the synthetic ones like it.
    like_000 = [s for s in shapes if s["format_version"] in (S.FORMAT_2021, None) and s["(六)"] != "one row"]
    if kind == TX.FORMAT_UNMATCHED:
        like_000 = shapes  # (六) as one row whatever the report printed before
    assert like_000, f"no synthetic {kind} of {cell} in the series"
    assert all(s == real for s in like_000), (real, like_000[:2])


# --- The nightly against the truth --------------------------------------------------------------------


@pytest.fixture(scope="module")
def series_nightly(series, tmp_path_factory):
    out, _ = series
    findings, summary = nightly(tmp_path_factory.mktemp("unread-run"), out)
    return findings, summary


def _pairs(rows, status: str | None = None) -> set[tuple[str, str]]:
    return {(r["report_id"], r["rule_id"]) for r in rows if status is None or r["status"] == status}


def test_nightly_finds_exactly_the_truth(series, series_nightly):
    """Every failing (report, rule) of the nightly is in the truth and the reverse; the cross-year rules'
    not-assessable rows too; and the run explains every finding (no problem recorded)."""
    out, _ = series
    findings, summary = series_nightly
    assert not summary["problems"], summary["problems"][:3]
    rows = findings[["report_id", "rule_id", "status"]].to_dict("records")
    assert _pairs(rows, FAILED) == _pairs(read(out, TRUTH).to_pylist())
    crossyear = read(out, CY.TRUTH_FILE).to_pylist()
    found_na = {p for p in _pairs(rows, NOT_ASSESSABLE) if p[1].split(".")[0] in CY.FAMILIES}
    assert found_na == _pairs(crossyear, NOT_ASSESSABLE)


@pytest.mark.parametrize(
    "kind,rules",
    [
        (TX.TABLE_MISSING, {"R24.tables"}),
        (TX.FORMAT_UNMATCHED, {"R24.tables", "R25.format"}),
    ],
)
def test_each_unread_table_kind_is_found_with_its_cross_year_consequences(series, series_nightly, kind, rules):
    """The report itself fails R24.tables (and R25.format); the pairs it is part of (the next year's, or
    its own when table 二 is what it lacks) are not assessable, with R11.previous saying why."""
    out, summary = series
    findings, _ = series_nightly
    found = findings[["report_id", "rule_id", "status"]].to_dict("records")
    truth = [t for t in read(out, TRUTH).to_pylist() if t["injected"] == kind]
    own = [t for t in truth if t["rule_id"][:3] not in CY.FAMILIES]  # the others: the next year's R11.previous
    assert summary.injections[kind] == len({t["report_id"] for t in own}) > 0
    assert {t["rule_id"] for t in own} == rules
    crossyear = [t for t in read(out, CY.TRUTH_FILE).to_pylist() if t["injected"] == kind]
    assert crossyear, f"no year pair touched by {kind}"
    assert {t["rule_id"] for t in crossyear if t["status"] == FAILED} == {CY.PREVIOUS}
    assert _pairs(truth) | _pairs(crossyear) <= _pairs(found)


# --- R11/R12 with a blank on either side -----------------------------------------------------------------


def _pair(region: str, this_edits: dict, prev_edits: dict | None = None, prev_version: str = S.FORMAT_2021):
    """An agency's reports of 2021 and 2022 (all zeros: every identity holds), with edits (None: blank)."""
    agency = "财政局"
    return [
        report(agency, region, "county_department", 2021, prev_version, prev_edits),
        report(agency, region, "county_department", 2022, S.FORMAT_2021, this_edits),
    ]


NA = NOT_ASSESSABLE
# (case, this year's edits, last year's edits, last year's format, last year's status,
#  the cross-year findings of this year's report: rule -> status)
BLANKS = [
    (
        "this-year-carried-over-blank",
        {"applications": {"carried_over_person": None}},
        None,
        S.FORMAT_2021,
        "parsed",
        {"R11.previous": FAILED, "R11.person": NA},
    ),
    (
        "this-year-issued-blank",
        {"active_disclosure": {"normative_issued": None}},
        None,
        S.FORMAT_2021,
        "parsed",
        {"R11.previous": FAILED, "R12.normative_docs": NA},
    ),
    (
        "prev-partial-in-force-blank",
        {},
        {"active_disclosure": {"rules_in_force": None}},
        S.FORMAT_2021,
        "partial",
        {"R11.previous": FAILED, "R12.rules": NA},
    ),
    ("prev-2019-format-not-compared", {}, None, S.FORMAT_2019, "parsed", {}),
    ("both-printed", {}, None, S.FORMAT_2021, "parsed", {}),
]
REGIONS = {case[0]: f"浙江省测试市{i}区" for i, case in enumerate(BLANKS)}


@pytest.fixture(scope="module")
def blanks_nightly(tmp_path_factory):
    base = tmp_path_factory.mktemp("blanks")
    reports = [r for case, this, prev, version, _, _ in BLANKS for r in _pair(REGIONS[case], this, prev, version)]
    data = write_data(base / "data", reports)
    # last year's report as ingest records a partial parse (nianbao.parse.core: the rows not read)
    path = data / "reports" / "fixture.parquet"
    rows = pq.read_table(path).to_pylist()
    partial = {S.report_id_for("财政局", REGIONS[c[0]], 2021) for c in BLANKS if c[4] == "partial"}
    for r in rows:
        if r["report_id"] in partial:
            r.update(
                parse_status="partial", parse_reason="tables-incomplete: 缺少 active.rules", missing="active.rules"
            )
    pq.write_table(pa.Table.from_pylist(rows, schema=S.TABLE_SCHEMAS["reports"]), path)
    findings, summary = nightly(base, data)
    assert not summary["problems"], summary["problems"][:3]
    return findings


@pytest.mark.parametrize("case,this,prev,version,status,expected", BLANKS, ids=[b[0] for b in BLANKS])
def test_a_blank_on_either_side_leaves_the_pair_not_assessable(
    blanks_nightly, case, this, prev, version, status, expected
):
    rid = S.report_id_for("财政局", REGIONS[case], 2022)
    ours = blanks_nightly[(blanks_nightly.report_id == rid) & blanks_nightly.rule_id.str.match(r"^R1[12]\.")]
    assert dict(zip(ours.rule_id, ours.status)) == expected
    if expected:
        why = ours[ours.rule_id == CY.PREVIOUS].iloc[0].message
        side = "上年(2021 年)报告不完整(部分解析)" if prev else "本年报告空白"
        assert side in why and "无法核验" in why, why
