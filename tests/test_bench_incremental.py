"""`nianbao bench incremental` at a tiny size: a full night, a few reports corrected the way a re-ingest
rewrites their files, then a night that must be incremental; its figures are printed, never asserted."""

from __future__ import annotations

import re

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from nianbao import bench, synth


def test_change_reports_rewrites_one_cell_of_each(tmp_path):
    """Exactly the picked reports differ, each in the one column, and every other row is as it was."""
    data = tmp_path / "data"
    synth.generate(200, data, seed=5)
    table = bench.CHANGED_TABLE
    before = pq.read_table(data / table).sort_by("report_id")
    picked = bench.change_reports(data, 20, seed=1)
    after = pq.read_table(data / table).sort_by("report_id")
    assert len(set(picked)) == 20 and after.num_rows == before.num_rows
    assert after.drop([bench.CHANGED_COLUMN]).equals(before.drop([bench.CHANGED_COLUMN]))
    old, new = (pc.fill_null(t[bench.CHANGED_COLUMN], -1) for t in (before, after))
    differs = pc.invert(pc.equal(new, old))
    assert sorted(pc.filter(after["report_id"], differs).to_pylist()) == sorted(picked)
    assert not list((data / table).glob(".*.tmp"))
    with pytest.raises(bench.BenchError, match="cannot change"):
        bench.change_reports(data, 10_000, seed=1)


def test_bench_incremental_tiny(tmp_path, capsys):
    """300 reports, 50 changed: the second night is incremental, validates fewer reports than there are,
    and the side-by-side figures and run_results.json facts are printed."""
    env = bench.isolated_project(tmp_path)
    bench.bench_incremental([300], tmp_path, env, changed=50, gate_repeats=1)
    out = capsys.readouterr().out
    for name in ("incremental nightly", "full nightly", "gate (median of 1)", "lower bound"):
        assert re.search(rf"{re.escape(name)}\s+[\d.]+\s+[\d.]+\s+\d+", out), name
    assert re.search(r"incremental / gate: [\d.]+x wall", out) and re.search(r"incremental / full: [\d.]+x", out)
    facts = re.search(r"incremental: changed (\d+), deleted (\d+), revalidated (\d+), carried_findings (\d+)", out)
    assert facts, out
    changed, deleted, revalidated, _ = map(int, facts.groups())
    assert changed == 50 and deleted == 0 and changed <= revalidated < 300
    assert re.search(r"incremental timings: incremental_plan_s [\d.]+, context_s [\d.]+", out)
    assert "incremental outputs laps: collect_s" in out
