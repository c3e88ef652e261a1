"""Waivers: a reviewed waivers.yml acknowledges findings for the values printed; runs and the gate apply it.

Real runs through the CLI on a private root (checkpoint_support): the root's waivers.yml is the file
`nianbao waive` writes and every run reads.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml
from checkpoint_support import edited, make_root, report, run_cli, write_data

from nianbao import schema as S
from nianbao import waivers as W
from nianbao.exitcodes import ExitCode
from nianbao.paths import ROOT

PINGTAN = ROOT.parent / "shared" / "corpus" / "html" / "pingtan-2024.html"

COUNTY = ("西湖区人民政府", "浙江省杭州市西湖区", 2023)
TOWN = ("某镇人民政府", "浙江省温州市某县某镇", 2023)
COUNTY_ID, TOWN_ID = S.report_id_for(*COUNTY), S.report_id_for(*TOWN)


def _reports(county_rules: int = 1) -> list[dict]:
    """Two reports whose only finding is an R10 warning: a county and a township printing 规章."""
    return [
        report(*COUNTY[:2], "county", 2023, edits={"active_disclosure": {"rules_issued": county_rules}}),
        report(*TOWN[:2], "township", 2023, edits={"active_disclosure": {"rules_in_force": 2}}),
        report("某区财政局", "浙江省杭州市某区", "county_department", 2023),  # clean
    ]


def _latest(root: Path) -> tuple[pd.DataFrame, dict]:
    latest = root / "uncommitted" / "runs" / "latest"
    summary = json.loads((latest / "run_results.json").read_text(encoding="utf-8"))
    return pd.read_parquet(latest / "findings.parquet"), summary


def _waive(root: Path, rid: str, rule: str, expires: str, *extra: str):
    return run_cli(
        root,
        "waive",
        "--report", rid,
        "--rule", rule,
        "--reason", "本单位为经授权的规章制定机关,数字无误",
        "--approved-by", "省政务公开办 张三",
        "--expires", expires,
        *extra,
    )  # fmt: skip


def test_waived_r10_warnings_change_the_exit_code_until_values_change_or_the_waiver_expires(tmp_path):
    root = make_root(tmp_path)
    data = write_data(root / "data", _reports())
    first = run_cli(root, "run", "nightly")
    assert first.returncode == ExitCode.WARNINGS, first.stderr[-3000:]
    findings, _ = _latest(root)
    assert set(zip(findings.report_id, findings.rule_id)) == {(COUNTY_ID, "R10.rules"), (TOWN_ID, "R10.rules")}
    assert not findings.waived.any()

    # A waiver only for a finding the run reported.
    refused = _waive(root, COUNTY_ID, "R4.review", "2027-03-31")
    assert refused.returncode == ExitCode.USAGE
    assert "没有报告" in refused.stderr and "R4.review" in refused.stderr and "R10.rules" in refused.stderr
    assert not (root / "waivers.yml").exists()

    assert _waive(root, COUNTY_ID, "R10.rules", "2027-03-31").returncode == ExitCode.OK
    added = _waive(root, TOWN_ID, "R10.rules", "2027-06-30")
    assert added.returncode == ExitCode.OK, added.stderr
    assert "已添加豁免" in added.stdout
    doc = yaml.safe_load((root / "waivers.yml").read_text(encoding="utf-8"))
    assert [(w["report_id"], w["cells"]) for w in doc["waivers"]] == [
        (COUNTY_ID, {"rules_issued": 1}),
        (TOWN_ID, {"rules_in_force": 2}),
    ]
    assert doc["waivers"][0]["expires"] == date(2027, 3, 31) and doc["waivers"][0]["approved_by"] == "省政务公开办 张三"
    again = _waive(root, COUNTY_ID, "R10.rules", "2027-12-31")
    assert again.returncode == ExitCode.USAGE and "第 1 条" in again.stderr

    # Both warnings waived: the nightly passes; the findings stay, marked, with the reason.
    second = run_cli(root, "run", "nightly")
    assert second.returncode == ExitCode.OK, second.stdout + second.stderr[-3000:]
    findings, summary = _latest(root)
    assert findings.waived.all() and findings.waiver_reason.str.contains("规章制定机关").all()
    assert summary["counts"]["by_severity"] == {"error": 0, "warn": 0} and summary["counts"]["waived"] == 2
    assert summary["counts"]["failing_reports"] == 0 and summary["waivers"]["notices"] == []
    site = root / "uncommitted" / "data_docs" / "local_site" / "nianbao"
    landing = (site / "index.html").read_text(encoding="utf-8")
    assert 'id="waived"' in landing and "已豁免" in landing and "规章制定机关" in landing
    page = (site / "agencies" / f"{COUNTY_ID}.html").read_text(encoding="utf-8")
    assert "已豁免" in page and "豁免理由:本单位为经授权的规章制定机关" in page

    # The county now prints another number (the waiver lapses); the township's waiver has expired.
    write_data(data, edited(_reports(), COUNTY[0], "active_disclosure", {"rules_issued": 3}))
    path = root / "waivers.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("2027-06-30", "2020-01-01"), encoding="utf-8")
    third = run_cli(root, "run", "nightly")
    assert third.returncode == ExitCode.WARNINGS, third.stderr[-3000:]
    findings, summary = _latest(root)
    assert not findings.waived.any() and len(findings) == 2
    assert summary["counts"]["by_severity"]["warn"] == 2 and summary["counts"]["waived"] == 0
    notices = {(n["code"], n["report_id"]): n["message"] for n in summary["waivers"]["notices"]}
    assert set(notices) == {(W.LAPSED, COUNTY_ID), (W.EXPIRED, TOWN_ID)}
    assert "rules_issued=1" in notices[(W.LAPSED, COUNTY_ID)] and "rules_issued=3" in notices[(W.LAPSED, COUNTY_ID)]
    assert "2020-01-01 过期" in notices[(W.EXPIRED, TOWN_ID)] and "第 2 条" in notices[(W.EXPIRED, TOWN_ID)]
    assert "2020-01-01 过期" in third.stderr
    landing = (site / "index.html").read_text(encoding="utf-8")
    assert "豁免清单需要复核" in landing and "2020-01-01 过期" in landing


def test_gate_verdict_follows_the_waiver(tmp_path):
    """A county draft printing 规章 2: a warning; waived, the gate passes and shows it as 已豁免."""
    if not PINGTAN.is_file():
        pytest.skip(f"corpus missing: {PINGTAN}")
    html = PINGTAN.read_text(encoding="utf-8")
    cell = html.index(">0</p>", html.index("规章</p></td>"))  # 规章 本年制发件数, printed 0
    draft = tmp_path / "draft.html"
    draft.write_text(html[:cell] + ">2</p>" + html[cell + len(">0</p>") :], encoding="utf-8")
    meta = ("平潭综合实验区管委会", "福建省平潭综合实验区", "2024")
    args = ("gate", str(draft), "--agency", meta[0], "--region", meta[1], "--year", meta[2], "--level", "county")
    root = make_root(tmp_path)

    before = run_cli(root, *args)
    assert before.returncode == ExitCode.WARNINGS, before.stdout + before.stderr[-3000:]
    assert "结论:通过(有警告)" in before.stdout and "[R10.rules]" in before.stdout
    rid = S.report_id_for(meta[0], meta[1], int(meta[2]))
    assert _waive(root, rid, "R10.rules", "2027-03-31").returncode == ExitCode.OK  # the gate's run is `latest`

    after = run_cli(root, *args)
    assert after.returncode == ExitCode.OK, after.stdout + after.stderr[-3000:]
    assert "结论:通过:所有规则均已满足" in after.stdout
    assert "已豁免:[R10.rules]" in after.stdout and "豁免理由:本单位为经授权的规章制定机关" in after.stdout
    assert "1. [R10.rules]" not in after.stdout


def test_malformed_waivers_file_is_a_configuration_error_naming_the_entry(tmp_path):
    root = make_root(tmp_path)
    write_data(root / "data", _reports())
    good = {
        "report_id": COUNTY_ID,
        "rule_id": "R10.rules",
        "cells": {"rules_issued": 1},
        "reason": "经审核",
        "approved_by": "张三",
        "expires": "2027-03-31",
    }
    bad = {**good, "report_id": TOWN_ID, "cells": {"rules_in_force": 2}}
    del bad["approved_by"]
    (root / "waivers.yml").write_text(yaml.safe_dump({"waivers": [good, bad]}, allow_unicode=True), encoding="utf-8")
    proc = run_cli(root, "run", "nightly")
    assert proc.returncode == ExitCode.CONFIG_ERROR
    assert "waivers.yml" in proc.stderr and "第 2 条" in proc.stderr and "approved_by" in proc.stderr
    waive = _waive(root, COUNTY_ID, "R10.rules", "2027-03-31")
    assert waive.returncode == ExitCode.CONFIG_ERROR and "第 2 条" in waive.stderr
    usage = _waive(root, COUNTY_ID, "R10.rules", "明年")
    assert usage.returncode == ExitCode.USAGE and "--expires" in usage.stderr


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"rule_id": "R99.nothing"}, "rule_id"),
        ({"report_id": "西湖区"}, "report_id"),
        ({"expires": "2027-02-30"}, "expires"),
        ({"cells": {}}, "cells"),
        ({"reason": " "}, "reason"),
        ({"approvd_by": "李四"}, "未知字段"),
    ],
)
def test_each_bad_entry_is_named(change, complaint):
    good = {
        "report_id": COUNTY_ID,
        "rule_id": "R10.rules",
        "cells": {"rules_issued": 1},
        "reason": "经审核",
        "approved_by": "张三",
        "expires": date(2027, 3, 31),
    }
    assert W.parse({"waivers": [good]}, Path("waivers.yml"))[0].expires == date(2027, 3, 31)
    with pytest.raises(W.WaiverError, match=rf"waivers\.yml 第 2 条:.*{complaint}"):
        W.parse({"waivers": [good, {**good, **change}]}, Path("waivers.yml"))


def test_a_waiver_holds_for_the_printed_values_until_its_expiry_day():
    waiver = W.Waiver(1, COUNTY_ID, "R10.rules", {"rules_issued": 1}, "经审核", "张三", date(2027, 3, 31))
    findings = pd.DataFrame(
        {
            "report_id": [COUNTY_ID, COUNTY_ID],
            "rule_id": ["R10.rules", "R9.review_litigation"],
            "cells": ['{"rules_issued": 1.0}', "{}"],  # 1.0 as printed is the 1 waived
        }
    )
    marked, summary = W.apply(findings, [waiver], date(2027, 3, 31))
    assert marked.waived.tolist() == [True, False] and "张三" in marked.waiver_reason[0]
    assert summary["waived"] == 1 and summary["notices"] == []
    marked, summary = W.apply(findings, [waiver], date(2027, 4, 1))
    assert not marked.waived.any() and [n["code"] for n in summary["notices"]] == [W.EXPIRED]
