"""What the rules across years and over the whole text add to a nightly run, at national scale.

    python3 benchmarks/whole_report.py [--sizes 100000,1000000] [--keep DIR]

For each size N, two corpora of N report-years, then the real nightly (`python -m nianbao.bench child
nightly`, DuckDB, site included) on each:
- without: `nianbao synth --reports N`, one report per agency and year, no text: the year pairs and
  the report text are empty assets (the run as it was before these rules);
- with: `nianbao synth --series 2019-2025 --agencies N/7`, every agency's seven years with their text
  (sections), consistent across years, with cross-year breaks, text contradictions, copies and missing
  parts injected.
Prints wall and CPU seconds and peak memory of each run, the seconds the derived assets' inputs took
(agency keys; the text read in Python: statements, parts, near-duplicates), the rows they fed to GX and
the findings of the new rules; and the extra time and memory. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from nianbao import bench  # noqa: E402
from nianbao import rules as R  # noqa: E402

NEW_FAMILIES = ("R11", "R12", "R17", "R18", "R19", "R23", "R24", "R25", "R27", "R30", "R31")


def synth(args: list[str], env: dict) -> bench.Measured:
    return bench._checked("synth", bench.measure(bench._python("-m", "nianbao", "synth", *args), env))


def nightly(data: Path, work: Path, env: dict) -> tuple[bench.Measured, dict, dict]:
    m = bench.measure(bench._child("nightly", str(data), str(work / "gx.parquet")), env)
    if not m.result().get("completed"):
        raise bench.BenchError(f"nightly on {data}: {m.result().get('message') or m.stderr[-3000:]}")
    run = (Path(env["NIANBAO_ROOT"]) / "uncommitted" / "runs" / "latest").resolve()
    results = json.loads((run / "run_results.json").read_text(encoding="utf-8"))
    rule_ids = pq.read_table(run / "findings.parquet", columns=["rule_id"]).to_pandas()["rule_id"]
    by_family = rule_ids.str.split(".").str[0].value_counts()
    counts = {fam: int(by_family.get(fam, 0)) for fam in NEW_FAMILIES}
    return m, results.get("derived_assets", {}), counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000")
    ap.add_argument("--keep", default=None, help="keep the corpora in this folder")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="nianbao-whole-"))
    env = bench.isolated_project(work / "p")
    print("== the rules across years and over the text: nightly without / with them ==")
    print(f"rules: {len(R.RULES)}, of which new families {', '.join(NEW_FAMILIES)}")
    for n in (int(x) for x in args.sizes.split(",")):
        base, series = work / f"without-{n}", work / f"with-{n}"
        s0 = synth(["--reports", str(n), "--out", str(base), "--seed", "5"], env)
        s1 = synth(
            ["--series", "2019-2025", "--agencies", str(math.ceil(n / 7)), "--out", str(series), "--seed", "5"], env
        )
        m0, d0, c0 = nightly(base, work, env)
        m1, d1, c1 = nightly(series, work, env)
        print(f"-- {n:,} report-years --")
        print(
            f"   synth: without {s0.seconds:.1f} s / {s0.peak_mb:.0f} MB; "
            f"with (series and text) {s1.seconds:.1f} s / {s1.peak_mb:.0f} MB"
        )
        for name, m, d, c in (("without", m0, d0, c0), ("with", m1, d1, c1)):
            inputs = ", ".join(f"{k} {v.get('seconds', 0):.1f} s" for k, v in d.items())
            print(
                f"   nightly {name:7s}: {m.seconds:7.1f} s wall, {m.cpu_seconds:7.1f} s CPU, {m.peak_mb:6.0f} MB peak; "
                f"derived inputs: {inputs}; new-rule findings: {sum(c.values()):,} {c}"
            )
        text = d1.get("report_text", {})
        print(
            f"   the text: {text.get('reports_with_text', 0):,} reports read, "
            f"{text.get('sentences_skipped', 0):,} sentences skipped as unclear, {text.get('copies', 0):,} copies"
        )
        print(
            f"   extra: {m1.seconds - m0.seconds:+.1f} s wall ({m1.seconds / m0.seconds:.2f}x), "
            f"{m1.cpu_seconds - m0.cpu_seconds:+.1f} s CPU, {m1.peak_mb - m0.peak_mb:+.0f} MB peak"
        )
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
            shutil.rmtree(series, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
