"""`nianbao run`: real checkpoints on fixture data, the exit code of each outcome, findings, history."""

from __future__ import annotations

import json
import os
import shutil
from argparse import Namespace
from decimal import Decimal

import pandas as pd
import pytest
from checkpoint_support import (
    XSS_AGENCY,
    base_reports,
    clone_root,
    edited,
    make_root,
    run_cli,
    shared_nightly,
    write_data,
)

from nianbao import exitcodes
from nianbao import schema as S
from nianbao.exitcodes import ExitCode
from nianbao.findings import STORED_SCHEMA
from nianbao.run import RunError, parse_selection


def rid(agency: str, region: str, year: int) -> str:
    return S.report_id_for(agency, region, year)


XSS = rid(XSS_AGENCY, "江苏省南京市玄武区", 2023)
FEE = rid("苏州市财政局", "江苏省苏州市", 2023)
BLANK = rid("天河区人民政府", "广东省广州市天河区", 2023)
FLOW = rid("南山区人民政府", "广东省深圳市南山区", 2023)
CLEAN = rid("西湖区人民政府", "浙江省杭州市西湖区", 2023)


def keys(frame: pd.DataFrame) -> set[tuple]:
    return set(frame[["report_id", "rule_id", "status"]].itertuples(index=False, name=None))


# --- the shared nightly run: errors and warnings ---------------------------------------------------


def test_nightly_blocks_on_error_findings_and_writes_results():
    run = shared_nightly()
    assert run["proc"].returncode == ExitCode.ERRORS, run["proc"].stderr[-3000:]
    assert "审计首页" in run["proc"].stdout
    latest = run["runs"] / "latest"
    assert latest.is_symlink()
    pointer = json.loads((run["runs"] / "latest.json").read_text(encoding="utf-8"))
    assert pointer["run_id"] == latest.resolve().name

    findings = pd.read_parquet(latest / "findings.parquet")
    assert list(findings.columns) == STORED_SCHEMA.names
    assert keys(findings) == {
        (XSS, "R4.review", "failed"),
        (FEE, "R6.magnitude", "failed"),
        (BLANK, "R9.review_litigation", "failed"),
        (BLANK, "R4.review", "not_assessable"),
        (FLOW, "R1.person", "failed"),
        (FLOW, "R1.total", "failed"),
    }
    r4 = findings.set_index(["report_id", "rule_id"]).loc[(XSS, "R4.review")]
    assert (r4.agency, r4.region, r4.year, r4.severity) == (XSS_AGENCY, "江苏省南京市玄武区", 2023, "error")
    assert (r4.left_value, r4.right_value, r4.difference) == (0, 11, -11)
    assert json.loads(r4.cells) == {
        "review_total": 0,
        "review_upheld": 10,
        "review_corrected": 1,
        "review_other": 0,
        "review_pending": 0,
    }
    assert "印刷为 0" in r4.message and "= 11" in r4.message
    assert set(findings.history) == {"new"} and (findings.run_id == latest.resolve().name).all()

    summary = json.loads((latest / "run_results.json").read_text(encoding="utf-8"))
    assert summary["exit_code"] == ExitCode.ERRORS and summary["completed"] is True
    assert summary["reports_validated"] == 6 and summary["counts"]["failing_reports"] == 4
    assert summary["counts"]["by_severity"] == {"error": 3, "warn": 2}
    assert summary["counts"]["by_rule"]["R1.person"]["failed"] == 1
    assert summary["versions"]["great_expectations"] == "1.24.1"
    assert summary["timings"]["checkpoint_s"] > 0
    assert summary["expectations"]["review_litigation"]["failed"] == 2
    # R4 (the family's one expectation) and R9 failed; GX and the findings query agreed on every one.
    assert summary["expectations"]["review_litigation"] == {"evaluated": 3, "failed": 2, "raised": 0, "rows": 6}
    assert summary["problems"] == [] and summary["raised"] == []


def test_second_run_marks_history_and_exits_on_warnings_only():
    """Fix both error reports, add a new warning: warnings only (1); new, persisting and resolved marked."""
    run = shared_nightly()
    root = clone_root(run, "history")
    reports = edited(base_reports(), XSS_AGENCY, "review_litigation", {"review_total": 11})
    reports = edited(reports, "南山区人民政府", "applications", {"new_person": 5, "new_total": 5})
    reports = edited(reports, "西湖区人民政府", "active_disclosure", {"rules_issued": 1})  # R10: county, no 规章
    data = root / "data"  # the clone's data/: history compares runs over the same folder
    shutil.rmtree(data)
    write_data(data, reports)
    proc = run_cli(root, "run", "nightly")
    assert proc.returncode == ExitCode.WARNINGS, proc.stderr[-3000:]
    latest = root / "uncommitted" / "runs" / "latest"
    findings = pd.read_parquet(latest / "findings.parquet")
    resolved = pd.read_parquet(latest / "resolved.parquet")
    history = {(r, rule): h for r, rule, h in findings[["report_id", "rule_id", "history"]].itertuples(index=False)}
    assert history == {
        (CLEAN, "R10.rules"): "new",
        (FEE, "R6.magnitude"): "persisting",
        (BLANK, "R9.review_litigation"): "persisting",
        (BLANK, "R4.review"): "persisting",
    }
    assert keys(resolved) == {(XSS, "R4.review", "failed"), (FLOW, "R1.person", "failed"), (FLOW, "R1.total", "failed")}
    assert set(resolved.history) == {"resolved"}
    summary = json.loads((latest / "run_results.json").read_text(encoding="utf-8"))
    assert summary["previous_run_id"] == run["runs"].joinpath("latest").resolve().name
    assert summary["counts"]["history"] == {"new": 1, "persisting": 3, "resolved": 3}


def test_selection_by_agency_and_severity_can_pass():
    """`--select agency:南山 severity:warn`: one report validated, its two R1 errors not selected: exit 0."""
    run = shared_nightly()
    root = clone_root(run, "select")
    proc = run_cli(root, "run", "nightly", "--select", "agency:南山", "severity:warn")
    assert proc.returncode == ExitCode.OK, proc.stderr[-3000:]
    latest = root / "uncommitted" / "runs" / "latest"
    summary = json.loads((latest / "run_results.json").read_text(encoding="utf-8"))
    assert summary["reports_validated"] == 1 and summary["counts"]["findings"] == 0
    assert summary["select"] == ["agency:南山", "severity:warn"] and summary["previous_run_id"] is None
    assert all(v["failed"] == 0 for v in summary["expectations"].values())
    assert pd.read_parquet(latest / "findings.parquet").empty


def test_suite_that_lost_expectations_is_a_configuration_error(tmp_path):
    root = make_root(tmp_path)
    suite = root / "expectations" / "review_litigation.json"
    doc = json.loads(suite.read_text(encoding="utf-8"))
    doc["expectations"][0]["type"] = "expect_a_type_nobody_registered"
    suite.write_text(json.dumps(doc), encoding="utf-8")
    data = write_data(tmp_path / "data", base_reports()[:1])
    proc = run_cli(root, "run", "nightly", "--data", str(data))
    assert proc.returncode == ExitCode.CONFIG_ERROR
    assert "review_litigation" in proc.stderr and "GX 配置错误" in proc.stderr
    assert not (root / "uncommitted" / "runs" / "latest").exists()


def test_data_folder_without_reports_is_unreadable_input(tmp_path):
    root = make_root(tmp_path)
    (tmp_path / "empty").mkdir()
    proc = run_cli(root, "run", "nightly", "--data", str(tmp_path / "empty"))
    assert proc.returncode == ExitCode.INPUT_UNREADABLE
    assert str(tmp_path / "empty") in proc.stderr


def test_unknown_checkpoint_and_bad_selection_are_configuration_errors(tmp_path):
    root = make_root(tmp_path)
    data = write_data(tmp_path / "data", base_reports()[:1])
    assert run_cli(root, "run", "weekly", "--data", str(data)).returncode == ExitCode.CONFIG_ERROR
    proc = run_cli(root, "run", "nightly", "--data", str(data), "--select", "colour:red")
    assert proc.returncode == ExitCode.CONFIG_ERROR and "colour:red" in proc.stderr


def test_unsafe_report_id_never_reaches_gx(tmp_path):
    """An id outside R+16 hex could carry markup into GX's unescaped pages: refused as input."""
    root = make_root(tmp_path)
    reports = base_reports()[:1]
    reports[0]["report_id"] = "<b>R1</b>"
    data = write_data(tmp_path / "data", reports)
    proc = run_cli(root, "run", "nightly", "--data", str(data))
    assert proc.returncode == ExitCode.INPUT_UNREADABLE and "<b>R1</b>" in proc.stderr


# --- GX and the findings query must agree, or the run is a configuration error ---------------------

_TAMPERED_RUN = """
import sys
import pyarrow as pa
import pyarrow.compute as pc
from nianbao import violations as V

mode, report_id, data = sys.argv[1:4]
computed = V.compute


def compute(con, sources):
    # The findings query drifted from the expectations: a failing row lost, or one GX never failed.
    table = computed(con, sources)
    if mode == "drop":
        assert report_id in table["report_id"].to_pylist()
        return table.filter(pc.not_equal(table["report_id"], report_id))
    if mode == "add":
        row = pa.table({"suite": ["review_litigation"], "report_id": [report_id], "rule_ids": [["R4.review"]]},
                       schema=V.SCHEMA)
        return pa.concat_tables([table, row])
    return table


V.compute = compute
from nianbao.cli import main
main(["run", "nightly", "--data", data])
"""


@pytest.mark.parametrize(
    "mode, report_id, code",
    [
        ("none", XSS, ExitCode.ERRORS),  # the harness alone changes nothing: R4.review is an error
        ("drop", XSS, ExitCode.CONFIG_ERROR),  # GX fails XSS on R4; the findings query lost it
        ("add", CLEAN, ExitCode.CONFIG_ERROR),  # the findings query fails a report GX passed
    ],
)
def test_findings_that_disagree_with_gx_exit_4(tmp_path, mode, report_id, code):
    import subprocess
    import sys

    root = make_root(tmp_path)
    data = write_data(tmp_path / "data", base_reports())
    env = {
        **{k: v for k, v in os.environ.items() if k != "NIANBAO_TEST_CRASH_AT"},
        "NIANBAO_ROOT": str(root),
        "GX_ANALYTICS_ENABLED": "false",
    }
    proc = subprocess.run(
        [sys.executable, "-c", _TAMPERED_RUN, mode, report_id, str(data)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == code, proc.stdout[-2000:] + proc.stderr[-3000:]
    summary = json.loads((root / "uncommitted" / "runs" / "latest" / "run_results.json").read_text(encoding="utf-8"))
    assert summary["exit_code"] == code and summary["completed"] is True
    disagree = [(p["suite"], p["rule_id"]) for p in summary["problems"] if p["code"] == "findings-disagree-with-gx"]
    if code == ExitCode.CONFIG_ERROR:
        assert disagree == [("review_litigation", "R4")], summary["problems"]
        assert summary["exit_name"] == "CONFIG_ERROR"
        assert "findings-disagree-with-gx R4" in proc.stderr
    else:
        assert disagree == [] and summary["problems"] == []


# --- pure parts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"failed_severities": set()}, ExitCode.OK),
        ({"failed_severities": {"warn"}}, ExitCode.WARNINGS),
        ({"failed_severities": {"warn", "error"}}, ExitCode.ERRORS),
        ({"failed_severities": set(), "raised": True}, ExitCode.ERRORS),
        ({"failed_severities": {"error"}, "input_rejected": True}, ExitCode.INPUT_UNREADABLE),
        ({"failed_severities": {"error"}, "input_rejected": True, "config_error": True}, ExitCode.CONFIG_ERROR),
    ],
)
def test_exit_code_is_the_worst_outcome(kwargs, code):
    assert exitcodes.exit_code(**kwargs) is code


def test_selection_tokens():
    sel = parse_selection(["R4", "severity:error", "region:江苏省", "year:2023", "agency:洪泽"])
    assert sel.rule_selected("R4.review", "error") and not sel.rule_selected("R4.review", "warn")
    assert not sel.rule_selected("R1.person", "error")
    assert sel.where() == {"region": ["江苏省"], "year": [2023], "agency": ["洪泽"]}
    glob = parse_selection(["rule:R3.withheld_*"])
    assert glob.rule_selected("R3.withheld_7", "error") and not glob.rule_selected("R3.total", "error")
    assert parse_selection([]).rule_selected("R9.applications", "warn") and parse_selection([]).where() is None
    for bad in (["rule:R99"], ["severity:fatal"], ["year:twenty"], ["report:x"], ["colour:red"]):
        with pytest.raises(RunError) as err:
            parse_selection(bad)
        assert err.value.code is ExitCode.CONFIG_ERROR and bad[0] in str(err.value)


def test_no_validation_definition_shares_suite_and_asset():
    """Within each checkpoint no two validation definitions share suite and asset (results would collide)."""
    from nianbao import engines
    from nianbao.paths import ROOT

    for engine in engines.ENGINES:
        for name in engines.CHECKPOINTS:
            stored = engines.checkpoint_name(name, engine)
            on_disk = json.loads((ROOT / "checkpoints" / f"{stored}.json").read_text(encoding="utf-8"))
            vds = [
                json.loads((ROOT / "validation_definitions" / f"{v['name']}.json").read_text(encoding="utf-8"))
                for v in on_disk["validation_definitions"]
            ]
            pairs = [(v["suite"]["name"], v["data"]["datasource"]["name"], v["data"]["asset"]["name"]) for v in vds]
            # The gate checks one draft: no derived suite (the year pairs need last year's report).
            suites = engines.R.SUITES if name == "gate" else engines.R.ALL_SUITES
            assert len(set(pairs)) == len(pairs) == len(suites)
            assert {v["data"]["datasource"]["name"] for v in vds} == {engines.DATASOURCES[engine]}


def test_demo_command_is_dispatched():
    from nianbao import cli

    args = cli.build_parser().parse_args(["demo", "--data", "x"])
    assert cli.COMMANDS[args.command] == ("nianbao.run.commands", "command_demo") and isinstance(args, Namespace)


def test_explanations_read_expected_against_printed():
    """The Chinese explanation of each identity shape, from the cell values alone."""
    from nianbao import findings as F
    from nianbao.rules import RULES_BY_ID

    # (六) printed as one row: the single row stands in for its three blank sub-rows.
    values = {f"{r}_person": 0 for r in S.RESULT_ROWS_SUBROWS} | {
        "total_person": 4,
        "granted_person": 1,
        "other_person": 2,
    }
    values |= {"other_1_person": None, "other_2_person": None, "other_3_person": None}
    ex = F.explain(RULES_BY_ID["R2.person"], values)
    assert ex.status == "failed" and (ex.left, ex.right) == (4, 3) and "(六)其他处理(单行" in ex.message
    assert F.explain(RULES_BY_ID["R2.person"], values | {"total_person": 3}) is None
    values["other_1_person"] = 2  # one sub-row printed, two blank: not assessable, never a pass
    assert F.explain(RULES_BY_ID["R2.person"], values).status == "not_assessable"

    ex = F.explain(RULES_BY_ID["R7.person"], {"carried_forward_person": 9, "new_person": 3, "carried_over_person": 1})
    assert ex.status == "failed" and "大于" in ex.message and ex.left - ex.right == 5
    ex = F.explain(RULES_BY_ID["R8.licensing"], {"v2019_licensing_prev_items": 2, "v2019_licensing_change": -5})
    assert ex.status == "failed" and "小于 0" in ex.message
    ex = F.explain(RULES_BY_ID["R10.rules"], {"rules_issued": 2, "rules_repealed": 0, "rules_in_force": 0}, "township")
    assert ex.cells == {"rules_issued": 2} and "乡镇" in ex.message
    assert F.explain(RULES_BY_ID["R10.rules"], {"rules_issued": 2}, "city") is None
    assert F.explain(RULES_BY_ID["R6.magnitude"], {"fees_10k_yuan": Decimal("100000")}) is None
    assert F.explain(RULES_BY_ID["R6.magnitude"], {"fees_10k_yuan": Decimal("100000.5")}).cells == {
        "fees_10k_yuan": 100000.5
    }


@pytest.mark.parametrize("engine", ["pandas", "sql"])
def test_whole_nightly_run_on_another_engine_gives_the_same_findings(engine, tmp_path):
    """The full checkpoint (GX verdicts cross-checked against the findings query) on pandas and SQLite:
    no disagreement, and the same findings, exit code and per-suite verdicts as on DuckDB."""
    run = shared_nightly()
    root = make_root(tmp_path)
    write_data(root / "data", base_reports())
    extra = ["--db-url", f"sqlite:///{tmp_path / 'nianbao.db'}"] if engine == "sql" else []
    proc = run_cli(root, "run", "nightly", "--engine", engine, *extra)
    assert proc.returncode == run["proc"].returncode == ExitCode.ERRORS, proc.stderr[-3000:]
    mine, duck = (p / "runs" / "latest" for p in (root / "uncommitted", run["root"] / "uncommitted"))
    assert keys(pd.read_parquet(mine / "findings.parquet")) == keys(pd.read_parquet(duck / "findings.parquet"))
    summary, reference = (json.loads((d / "run_results.json").read_text(encoding="utf-8")) for d in (mine, duck))
    assert summary["engine"] == engine and summary["problems"] == [] and summary["raised"] == []
    assert summary["expectations"] == reference["expectations"]
