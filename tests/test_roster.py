"""Roster and deadline: a roster with a published, a late, a missing and a rejected agency.

Each gets the right finding (R28 late, R29 missing) or none, the rejected report is listed with its
reason, and the landing page shows them all.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nianbao import datafolder, ingest, roster
from nianbao import schema as S
from tests.checkpoint_support import base_reports, make_root, run_cli, write_data

MISSING_AGENCY = "杭州市交通运输局"
REJECTED_AGENCY = "宁波市民政局"


def _rejected_row() -> dict:
    row = dict.fromkeys(S.TABLE_SCHEMAS["reports"].names)
    row.update(
        report_id=S.report_id_for(REJECTED_AGENCY, "浙江省宁波市", 2023),
        agency=REJECTED_AGENCY,
        region="浙江省宁波市",
        level="city_department",
        year=2023,
        format_version=S.FORMAT_2021,
        format_deviations="",
        source_file="fixture/rejected.pdf",
        parse_status="rejected",
        parse_reason="扫描件,没有文字层",
        missing="",
    )
    return row


@pytest.fixture(scope="module")
def roster_run(tmp_path_factory):
    root = make_root(tmp_path_factory.mktemp("roster"))
    data = write_data(root / "data", base_reports())
    pq.write_table(
        pa.Table.from_pylist([_rejected_row()], schema=S.TABLE_SCHEMAS["reports"]),
        data / "reports" / "rejected.parquet",
    )
    (data / "roster.csv").write_text(
        "agency,region,level,year,published\n"
        "西湖区人民政府,浙江省杭州市西湖区,county,2023,2024-03-31\n"  # on the last day: in time
        "苏州市财政局,江苏省苏州市,city_department,2023,2024-02-15\n"  # a department: due 1月31日
        f"{MISSING_AGENCY},浙江省杭州市,city_department,2023,\n"
        f"{REJECTED_AGENCY},浙江省宁波市,city_department,2023,2024-01-20\n",
        encoding="utf-8",
    )
    proc = run_cli(root, "run", "nightly")
    run_id = json.loads((root / "uncommitted" / "runs" / "latest.json").read_text())["run_id"]
    run = root / "uncommitted" / "runs" / run_id
    return {
        "proc": proc,
        "findings": pq.read_table(run / "findings.parquet").to_pandas(),
        "summary": json.loads((run / "run_results.json").read_text()),
        "landing": (root / "uncommitted" / "data_docs" / "local_site" / "nianbao" / "index.html").read_text(),
        "site": root / "uncommitted" / "data_docs" / "local_site" / "nianbao",
    }


def test_deadlines():
    assert roster.deadline("city_department", 2023) == date(2024, 1, 31)
    assert roster.deadline("county", 2023) == date(2024, 3, 31)


def test_each_roster_agency_gets_the_right_finding(roster_run):
    f = roster_run["findings"]
    assert roster_run["proc"].returncode == 2, roster_run["proc"].stderr
    roster_findings = f[f.rule_id.isin([roster.MISSING, roster.LATE])]
    got = {(r.agency, r.rule_id) for r in roster_findings.itertuples()}
    assert got == {(MISSING_AGENCY, roster.MISSING), ("苏州市财政局", roster.LATE)}
    missing = roster_findings[roster_findings.rule_id == roster.MISSING].iloc[0]
    assert missing.report_id == S.report_id_for(MISSING_AGENCY, "浙江省杭州市", 2023)
    assert S.REPORT_ID_PATTERN.match(missing.report_id)
    assert (missing.severity, missing.status) == ("error", "failed") and "未发布" in missing.message
    late = roster_findings[roster_findings.rule_id == roster.LATE].iloc[0]
    assert "2024年1月31日" in late.message and json.loads(late.cells)["published"] == "2024-02-15"
    assert roster_run["summary"]["roster"] == {
        "file": roster_run["summary"]["roster"]["file"],
        "agencies": 4,
        "missing": 1,
        "late": 1,
        "unreadable": 1,
    }


def test_landing_page_lists_roster(roster_run):
    page = roster_run["landing"]
    section = page.split('<section id="roster">')[1].split("</section>")[0]
    assert 'id="kpi-unpublished">1<' in section and 'id="kpi-late">1<' in section
    assert MISSING_AGENCY in section and "未发布" in section and "未按时发布" in section
    assert REJECTED_AGENCY in section and "拒收" in section and "扫描件,没有文字层" in section
    assert "西湖区人民政府" not in section  # published in time: nothing to say
    missing_id = S.report_id_for(MISSING_AGENCY, "浙江省杭州市", 2023)
    assert (roster_run["site"] / "agencies" / f"{missing_id}.html").is_file()


# --- The publication date ingest read off the page itself (no `published` column in the roster).

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _page_with_pub_date(src: Path, day: str) -> bytes:
    """A real department page with its PubDate meta line set to `day` (everything else as published)."""
    html = src.read_text(encoding="utf-8")
    changed = re.sub(r'(<meta name="PubDate" content=")[^"]*"', rf'\g<1>{day} 10:00"', html, count=1)
    assert changed != html
    return changed.encode("utf-8")


def test_r28_from_the_reports_own_publication_date(tmp_path):
    """A roster without a published column: R28 from the date ingest read off the page (PubDate), R29 with
    the roster's level. jtj-2023 as published (2024-01-30, a department's deadline 1月31日) is in time; the
    same bureau's 2022 page, its PubDate set to 2023-02-20, is late."""
    src, out = tmp_path / "src", tmp_path / "data"
    src.mkdir()
    shutil.copy(CORPUS / "html-series" / "jtj-2023.html", src / "jtj-2023.html")
    (src / "jtj-2022.html").write_bytes(_page_with_pub_date(CORPUS / "html-series" / "jtj-2022.html", "2023-02-20"))
    ingest.ingest([src], out, workers=1)
    (reports,) = datafolder.as_snapshot(out).files("reports")
    published = pq.read_table(reports, columns=["year", "published"]).to_pydict()
    assert dict(zip(published["year"], published["published"])) == {2022: date(2023, 2, 20), 2023: date(2024, 1, 30)}
    bureau = "平潭综合实验区交通与建设局"
    path = tmp_path / "roster.csv"
    path.write_text(
        "agency,region,level,year\n"
        f"{bureau},,city_department,2022\n"
        f"{bureau},,city_department,2023\n"
        f"{MISSING_AGENCY},浙江省杭州市,city_department,2023\n",
        encoding="utf-8",
    )
    result = roster.check("run-1", path, datafolder.as_snapshot(out), lambda rule, severity: True)
    got = {(r[2], r[4], r[5]) for r in result.rows}
    assert got == {(bureau, 2022, roster.LATE), (MISSING_AGENCY, 2023, roster.MISSING)}
    late = next(r for r in result.rows if r[5] == roster.LATE)
    assert json.loads(late[9]) == {"published": "2023-02-20", "deadline": "2023-01-31"}
    missing_id = S.report_id_for(MISSING_AGENCY, "浙江省杭州市", 2023)
    assert result.levels[missing_id] == "city_department"  # R29: no report to take a level from
    section = roster.section_html(result)
    row = section.split(f'agencies/{missing_id}.html">')[1].split("</tr>")[0]
    assert "<td>市级政府部门</td>" in row


def test_published_date_values():
    """What a reports column read through pandas may hold, as a day; absent values as None."""
    assert roster._date(date(2023, 2, 20)) == date(2023, 2, 20)
    assert roster._date(pd.Timestamp("2023-02-20")) == date(2023, 2, 20)
    assert roster._date("2023-02-20") == date(2023, 2, 20)
    assert all(roster._date(v) is None for v in (None, float("nan"), pd.NaT, "不详"))


def test_r28_without_a_roster_from_dates_and_levels_as_printed(tmp_path):
    """No roster: R28 of every report whose page dates it. A department's report published on 2月20日 is
    late (due 1月31日); one of unknown level is late only after 3月31日 (department or government, it
    was due by then), never between the two deadlines. A real nightly run lists it like any finding."""
    root = make_root(tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    pages = {"jtj-2022": "2023-02-20", "jtj-2023": "2024-02-15", "hzs-2023": "2024-04-02", "hzs-2022": "2023-01-09"}
    for name, day in pages.items():
        (src / f"{name}.html").write_bytes(_page_with_pub_date(CORPUS / "html-series" / f"{name}.html", day))
    (src / "manifest.csv").write_text(
        "file,agency,region,year,level\njtj-2022.html,,,,city_department\nhzs-2022.html,,,,city_department\n",
        encoding="utf-8",
    )
    data = root / "data"
    ingest.ingest([src / f"{n}.html" for n in pages], data, workers=1, manifest=src / "manifest.csv")
    result = roster.check("run-1", None, datafolder.as_snapshot(data), lambda rule, severity: True)
    assert result.summary == {} and result.levels == {}
    late = {(r[2], r[4]): json.loads(r[9]) for r in result.rows}
    assert {k: v["deadline"] for k, v in late.items()} == {
        ("平潭综合实验区交通与建设局", 2022): "2023-01-31",
        ("平潭综合实验区行政审批局", 2023): "2024-03-31",
    }
    assert all(r[5] == roster.LATE for r in result.rows)

    proc = run_cli(root, "run", "nightly")
    assert proc.returncode in (1, 2), proc.stderr[-3000:]
    run = (root / "uncommitted" / "runs" / "latest").resolve()
    findings = pq.read_table(run / "findings.parquet").to_pandas()
    assert {(r.agency, r.year) for r in findings[findings.rule_id == roster.LATE].itertuples()} == set(late)
    assert "roster" not in json.loads((run / "run_results.json").read_text())


@pytest.mark.parametrize(
    "level, year, published, late",
    [
        ("county_department", 2024, date(2025, 1, 31), False),  # on the day
        ("county_department", 2024, date(2025, 2, 1), True),
        ("county_government", 2023, date(2024, 3, 30), False),  # a leap year's 3月30日
        ("county_government", 2023, date(2024, 3, 31), False),
        ("county_government", 2023, date(2024, 4, 1), True),
        ("county_government", 2024, date(2025, 3, 31), False),
        (None, 2024, date(2025, 2, 15), False),  # level unknown: only the later deadline
        (None, 2024, date(2025, 4, 1), True),
        ("county_department", 2024, None, False),  # no date printed: never late
        ("county_department", 2024, date(2024, 12, 1), False),
    ],
)
def test_r28_off_the_roster_at_the_deadlines(level, year, published, late):
    """Off the roster, R28 from the report's own date: the whole table filtered at once, then each report
    checked against its deadline (nianbao.roster._late_off_roster), to the day, in leap years too."""
    data = pd.DataFrame(
        {
            "report_id": ["R0000000000000001", "R0000000000000002"],
            "agency": ["甲局", "乙局"],
            "region": ["江苏省", "江苏省"],
            "level": [level, level],
            "year": [year, year],
            "published": [published, published],
        }
    )
    rows = roster._late_off_roster("run", data, {"R0000000000000002"}, lambda *_: True)  # 乙局 is on the roster
    assert [r[1] for r in rows] == (["R0000000000000001"] if late else [])
