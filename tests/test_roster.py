"""Roster and deadline: a roster with a published, a late, a missing and a rejected agency.

Each gets the right finding (R28 late, R29 missing) or none, the rejected report is listed with its
reason, and the landing page shows them all.
"""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nianbao import roster
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
