"""Recall: on 100,000 synthetic reports, the nightly GX run finds every injected error under its rule id
and flags no clean report. The run goes through nianbao.run.run_checkpoint in a child process whose
NIANBAO_ROOT is a private copy of the GX project, so the checkout's runs and site are left alone."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from nianbao import bench, synth
from nianbao.exitcodes import ExitCode

pytestmark = pytest.mark.slow
N = 100_000


def test_nightly_finds_every_injected_error_and_no_clean_report(tmp_path):
    data = tmp_path / "data"
    summary = synth.generate(N, data, error_rate=0.02, seed=2024)
    env = bench.isolated_project(tmp_path)
    run = bench.measure(bench._child("nightly", str(data), str(tmp_path / "gx.parquet")), env, timeout=3000)
    result = run.result()
    assert run.code == 0 and result.get("completed"), run.stderr[-3000:] + str(result)

    truth, found = bench._pairs(data / "_truth" / "truth.parquet"), bench._pairs(tmp_path / "gx.parquet")
    injected = {r for r, _ in truth}
    flagged_clean = {r for r, _ in found} - injected
    recall = len(truth & found) / len(truth)
    false_alarm_rate = len(flagged_clean) / (N - len(injected))
    print(
        f"\nnightly (GX, duckdb) on {N:,} reports, {len(injected):,} with injected errors: "
        f"recall {recall:.6f} ({len(truth & found):,}/{len(truth):,}), false-alarm rate {false_alarm_rate:.6f} "
        f"({len(flagged_clean)} clean reports flagged), wrong rule ids {len(found - truth)}, "
        f"run {result['seconds']:.0f} s, peak {run.peak_mb:.0f} MB"
    )
    assert summary.injected_reports == len(injected)
    assert recall == 1.0
    assert false_alarm_rate == 0.0
    assert found == truth
    assert result["exit_code"] == ExitCode.ERRORS  # injected errors include error-severity rules
    assert pq.read_table(data / "_truth" / "truth.parquet").num_rows == summary.truth_rows
