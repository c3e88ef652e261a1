"""Exports for a notice: `nianbao export` (XLSX, CSV) and `nianbao notice` (.docx) from one real run.

The run is the nightly fixture plus two 深圳市 agencies: one whose name begins with `=` (a formula if a
spreadsheet evaluated it) and whose report prints a negative number (a cell beginning with `-`), and one
on the roster that published nothing (R29). The browser test of the landing page's download uses the
same run (export_run).
"""

from __future__ import annotations

import atexit
import csv
import functools
import json
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
from checkpoint_support import base_reports, edited, make_root, report, run_cli, write_data
from docx import Document

from nianbao import export_rows as X
from nianbao import exports

FORMULA_AGENCY = '=HYPERLINK("http://example.invalid","点此")局'
CITY = "广东省深圳市"
MISSING_AGENCY = "深圳市交通运输局"


@functools.cache
def export_run() -> dict:
    """One `nianbao run nightly` with a roster, shared by these tests and the browser's download test."""
    base = Path(tempfile.mkdtemp(prefix="nianbao-export-"))
    atexit.register(shutil.rmtree, base, True)
    root = make_root(base)
    reports = [
        *base_reports(),
        report(
            FORMULA_AGENCY,
            "广东省深圳市福田区",
            "county",
            2023,
            edits={"applications": {"new_person": -2}, "review_litigation": {"review_total": 3}},
        ),
    ]
    data = write_data(root / "data", reports)
    lines = ["agency,region,level,year"]
    lines += [f'"{r["agency"].replace(chr(34), chr(34) * 2)}",{r["region"]},{r["level"]},{r["year"]}' for r in reports]
    lines.append(f"{MISSING_AGENCY},{CITY},city_department,2023")
    (data / "roster.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run_cli(root, "run", "nightly")
    assert proc.returncode == 2, proc.stderr[-3000:]
    runs = root / "uncommitted" / "runs"
    return {
        "root": root,
        "data": data,
        "run": (runs / "latest").resolve(),
        "site": root / "uncommitted" / "data_docs" / "local_site",
    }


def expected_findings(region: str | None = None) -> pd.DataFrame:
    """The run's findings an export of `region` must hold: every one not waived, none other."""
    findings = pd.read_parquet(export_run()["run"] / "findings.parquet")
    findings = findings[~findings.waived.fillna(False)]
    if region:
        findings = findings[findings.region.fillna("").str.startswith(region)]
    return findings


def keys(rows) -> list[tuple]:
    """(agency, rule, message) per row: what identifies a finding in an export."""
    return sorted((r[0], r[4], r[5]) for r in rows)


def test_xlsx_export_has_exactly_the_filtered_findings_and_no_formula(tmp_path):
    run = export_run()
    out = tmp_path / "深圳.xlsx"
    proc = run_cli(run["root"], "export", "--run", "latest", "--region", CITY, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    sheet = openpyxl.load_workbook(out).active
    header, *body = [tuple(c.value for c in row) for row in sheet.iter_rows()]
    assert header == X.HEADERS
    want = expected_findings(CITY)
    assert keys(body) == sorted(zip(want.agency, want.rule_id, want.message))
    assert {r[0] for r in body} == {FORMULA_AGENCY, MISSING_AGENCY, "南山区人民政府"}
    # Inert: the `=` name and the `-2` printed value are text cells, never formulas.
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
    named = [row for row in sheet.iter_rows(min_row=2) if row[0].value == FORMULA_AGENCY]
    assert named and all(r[0].data_type == "s" for r in named)
    assert any(str(r[7].value or "").startswith("-2") for r in named)
    # Columns: level in Chinese, year a number, the localisation's proposal where there is one.
    nanshan = [r for r in body if r[0] == "南山区人民政府"]
    assert nanshan and all(r[1] == "广东省深圳市南山区" and r[2] == "县级人民政府" and r[3] == 2023 for r in nanshan)
    # An unpublished agency (R29) has no report to read its level from: the roster's is exported.
    assert [r[2] for r in body if r[0] == MISSING_AGENCY] == ["市级政府部门"]
    assert any("→" in (r[9] or "") for r in body), body

    # --rule narrows to one family; --year to one year.
    out2 = tmp_path / "r4.xlsx"
    proc = run_cli(run["root"], "export", "--rule", "R4", "--year", "2023", "--out", str(out2))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [tuple(c.value for c in r) for r in openpyxl.load_workbook(out2).active.iter_rows(min_row=2)]
    want = expected_findings()
    want = want[want.rule_id.str.startswith("R4.") & (want.year == 2023)]
    assert rows and keys(rows) == sorted(zip(want.agency, want.rule_id, want.message))


def test_csv_export_is_excel_utf8_and_inert(tmp_path):
    run = export_run()
    out = tmp_path / "深圳.csv"
    proc = run_cli(run["root"], "export", "--region", CITY, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel opens it as UTF-8
    header, *body = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert tuple(header) == X.HEADERS
    assert "'" + FORMULA_AGENCY in {r[0] for r in body}
    for row in body:
        for value in row:
            assert not value.startswith(X.FORMULA_START), value
    want = expected_findings(CITY)
    shown = [(r[0].removeprefix("'"), *r[1:]) for r in body]
    assert keys(shown) == sorted(zip(want.agency, want.rule_id, want.message))
    assert any(r[7].startswith("'-2") for r in body)


def test_notice_has_counts_agency_table_and_one_appendix_per_agency(tmp_path):
    run = export_run()
    out = tmp_path / "通报.docx"
    proc = run_cli(
        run["root"], "notice", "--data", str(run["data"]), "--region", CITY, "--year", "2023", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = Document(str(out))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert f"关于{CITY}2023年度" in text
    want = expected_findings(CITY)
    want = want[want.year == 2023]
    agencies = list(dict.fromkeys(want.sort_values(["region", "agency"]).agency))
    counts, listed, *appendices = doc.tables
    got = {r.cells[0].text: int(r.cells[1].text) for r in counts.rows[1:]}
    types = [exports.problem_type(r, s) for r, s in zip(want.rule_id, want.status)]
    assert got == {t: types.count(t) for t in set(types)}
    assert got["未发布"] == 1 and got["勾稽关系错误"] >= 2
    assert sorted(r.cells[1].text for r in listed.rows[1:]) == sorted(agencies)
    headings = [p.text for p in doc.paragraphs if p.text.startswith("附件") and p.text.endswith(" 整改清单")]
    assert len(headings) == len(appendices) == len(agencies)
    for heading, table in zip(headings, appendices):
        agency = heading.split(" ", 1)[1].removesuffix(" 整改清单")
        mine = want[want.agency == agency]
        assert sorted(r.cells[0].text for r in table.rows[1:]) == sorted(mine.rule_id)
    # The cell to correct in 南山区's report, printed and proposed.
    nanshan = appendices[[h.split(" ", 1)[1] for h in headings].index("南山区人民政府 整改清单")]
    assert any("→" in r.cells[4].text for r in nanshan.rows[1:])


def test_export_refuses_a_bad_output_name(tmp_path):
    proc = run_cli(export_run()["root"], "export", "--out", str(tmp_path / "x.pdf"))
    assert proc.returncode != 0 and ".xlsx" in proc.stderr


def test_inert_prefixes_only_formula_starts():
    assert [X.inert(v) for v in ("=1+1", "+1", "-3", "@x", "局", "", None)] == [
        "'=1+1",
        "'+1",
        "'-3",
        "'@x",
        "局",
        "",
        "",
    ]
    assert json.loads(json.dumps(X.HEADERS, ensure_ascii=False))[0] == "单位"


def test_export_of_resolved_findings_lists_what_was_corrected_since_the_last_run(tmp_path):
    root = make_root(tmp_path)
    write_data(root / "data", base_reports())
    assert run_cli(root, "run", "nightly").returncode == 2
    first = pd.read_parquet((root / "uncommitted" / "runs" / "latest" / "findings.parquet").resolve())
    fixed = edited(base_reports(), "苏州市财政局", "active_disclosure", {"fees_10k_yuan": Decimal("29.2322")})
    write_data(root / "data", fixed)
    assert run_cli(root, "run", "nightly").returncode == 2
    out = tmp_path / "已整改.xlsx"
    proc = run_cli(root, "export", "--resolved", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["已整改"]
    header, *body = [tuple(c.value for c in row) for row in book.active.iter_rows()]
    assert header == X.HEADERS
    gone = first[first.agency == "苏州市财政局"]
    assert not gone.empty and keys(body) == sorted(zip(gone.agency, gone.rule_id, gone.message))
    assert "已整改" in proc.stdout
