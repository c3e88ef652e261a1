"""`nianbao bench scale` at a tiny size: a full night, a few reports corrected the way a re-ingest rewrites
their files, a night that must be incremental, and a bad night; its figures are printed, never asserted."""

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


def test_bench_scale_tiny(tmp_path, capsys):
    """300 reports: the full night against GX's floor, 50 changed and two nights that must be incremental,
    then a bad night (40 % failing) whose site lists every failing report; figures printed side by side."""
    env = bench.isolated_project(tmp_path)
    bench.bench_scale(300, tmp_path, env, changed=50, gate_repeats=1)
    out = capsys.readouterr().out
    nights = ("nightly, 50 changed, 1st", "nightly, 50 changed, 2nd")
    for name in ("lower bound", "full nightly", *nights, "gate, one report", "bad night, 40% failing"):
        assert re.search(rf"{re.escape(name)}[^\n]*?\s+[\d.]+\s+[\d.]+\s+\d+", out), name
    assert re.search(r"GX floor: bare import \+ validation\s+[\d.]+\s+import [\d.]+ \+ [\d.]+", out), out
    assert re.search(r"[\d.]+x floor \(1\.3x\)", out) and re.search(r"[\d.]+x gate \(1\.5x\)", out)
    assert re.search(r"nianbao's additions -?[\d.]+ s \(-?\d+% of GX's part", out)
    facts = re.search(r"incremental: \{'full': False.*?'changed': (\d+), 'deleted': (\d+), 'revalidated': (\d+)", out)
    assert facts, out
    changed, deleted, revalidated = map(int, facts.groups())
    assert changed == 50 and deleted == 0 and changed <= revalidated < 300
    listed = re.search(r"bad night: ([\d,]+) failing reports, (\d+) of them not listed; site ([\d,]+) files", out)
    assert listed and int(listed.group(1).replace(",", "")) > 50 and listed.group(2) == "0", out
    assert "2nd incremental outputs laps: collect_s" in out and "bad night timings: incremental_plan_s" in out
    assert re.search(r"agency pages kept from the night before: \d+ \(1st\), \d+ \(2nd\)", out), out
