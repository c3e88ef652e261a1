"""`nianbao gate FILE`: a draft parsed, validated by the real `gate` checkpoint, the verdict in Chinese."""

from __future__ import annotations

import json

import pandas as pd
from checkpoint_support import make_root, run_cli

from nianbao.exitcodes import ExitCode
from nianbao.paths import ROOT

REAL = ROOT.parent / "shared" / "corpus" / "real"


def test_gate_names_the_two_broken_review_totals_of_report_002(tmp_path):
    """Report 002 (洪泽区 2023) prints 行政复议 总计 0 under 10 + 1 and 复议后起诉 总计 0 under 5."""
    draft = REAL / "002.tables.txt"
    meta = json.loads((REAL / "002.json").read_text(encoding="utf-8"))
    assert draft.is_file(), f"corpus missing: {draft}"
    root = make_root(tmp_path)
    proc = run_cli(
        root, "gate", str(draft), "--agency", meta["agency"], "--region", meta["region"], "--year", str(meta["year"])
    )
    out = proc.stdout
    assert proc.returncode == ExitCode.ERRORS, proc.stderr[-3000:]
    assert "结论:不通过" in out and meta["agency"] in out
    lines = out.splitlines()
    verdict = next(i for i, line in enumerate(lines) if line.startswith("结论:"))
    # First, where the error is: the two totals and what they should hold.
    assert lines[verdict + 1].startswith(
        "最可能需要改正的单元格:「表四·行政复议·总计」印刷为 0,应为 11;「表四·行政诉讼·复议后起诉·总计」印刷为 0,应为 5"
    )
    review = next(i for i, line in enumerate(lines) if "[R4.review]" in line)
    after = next(i for i, line in enumerate(lines) if "[R4.litigation_after_review]" in line)
    assert "表四「行政复议」" in lines[review] and "印刷为 0" in lines[review] and "= 11" in lines[review]
    assert "表四「行政诉讼·复议后起诉」" in lines[after] and "= 5" in lines[after]
    assert "表四·行政复议·总计 = 0" in lines[review + 1] and "表四·行政复议·结果维持 = 10" in lines[review + 1]
    assert "应为 11" in lines[review + 2] and "印刷为 0" in lines[review + 2]
    assert any("修改建议" in line and "应改为 11" in line for line in lines[review : review + 4])
    assert "[R4.litigation_direct]" not in out

    run_dir = root / "uncommitted" / "runs" / "latest"
    findings = pd.read_parquet(run_dir / "findings.parquet")
    errors = findings[(findings.severity == "error") & (findings.status == "failed")]
    assert set(errors.rule_id) == {"R4.review", "R4.litigation_after_review"}
    diagnoses = pd.read_parquet(run_dir / "diagnoses.parquet")
    best = diagnoses[diagnoses.best]
    assert dict(zip(best.cell, best.proposed)) == {"review_total": 11, "litigation_after_review_total": 5}
    assert not diagnoses.ambiguous.any()
    assert (run_dir / "data" / "reports" / "gate.parquet").is_file()  # the draft as validated
    assert (run_dir / "site" / "nianbao" / "index.html").is_file() and str(run_dir.resolve() / "site") in out
    assert not (root / "uncommitted" / "data_docs" / "local_site").exists()  # the auditors' site is not the gate's
    assert not list((root / "uncommitted" / "validations").rglob("*.json"))  # nor is GX's shared result store
    summary = json.loads((run_dir / "run_results.json").read_text(encoding="utf-8"))
    assert summary["checkpoint"] == "gate" and summary["source_file"] == str(draft)


def test_gate_on_unparseable_draft_is_unreadable_input(tmp_path):
    root = make_root(tmp_path)
    draft = tmp_path / "draft.txt"
    draft.write_text("本机关今年工作很好。\n没有表格。\n", encoding="utf-8")
    proc = run_cli(root, "gate", str(draft))
    assert proc.returncode == ExitCode.INPUT_UNREADABLE
    assert "无法检查" in proc.stdout and str(draft) in proc.stdout and "no-tables-found" in proc.stdout
    missing = run_cli(root, "gate", str(tmp_path / "nope.pdf"))
    assert missing.returncode == ExitCode.INPUT_UNREADABLE and "not-found" in missing.stdout
