"""Recall of the cross-year rules (R11, R12) on a synthetic series, against its ground truth.

    python benchmarks/crossyear.py [--agencies 3000] [--series 2019-2025] [--seed 11] [--text] [--keep DIR]

`nianbao synth --series` writes every agency's report of each year, consistent across years, with
per-report errors, cross-year breaks (carried-over-broken: one 上年结转 cell; in-force-broken: one
现行有效件数) and skipped years. Its truth: _truth/truth.parquet lists every failing (report, rule);
_truth/crossyear.parquet lists every R11/R12 (report, rule) that fails or is not assessable, with the
change that made it (`injected`; missing-year: last year's report is not in the corpus). With --text the
series has its text too, and with it reports lacking a statutory table or of unknown format (R24.tables,
R25.format): their blanks make pairs not assessable, on either side.

The script runs the real nightly (`python3 -m nianbao run nightly --data DIR`) in a private copy of the
GX project (NIANBAO_ROOT, so the checkout's latest run and site stay), reads the run's findings.parquet
(uncommitted/runs/latest/ under that copy) and prints, per family and per injected kind: truth rows,
found, recall, false alarms, and the not-assessable rows on both sides. Other rules of the families
(e.g. a rule saying why a pair is not assessable) are counted apart. It asserts nothing and exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from nianbao import bench, synth  # noqa: E402
from nianbao import crossyear_truth as CY  # noqa: E402
from nianbao import rules as RL  # noqa: E402

FAILED, NOT_ASSESSABLE = CY.FAILED, CY.NOT_ASSESSABLE


def family(rule_id: str) -> str:
    return rule_id.split(".")[0]


def truth_rules() -> set[str]:
    """The rule ids the truth is about: R11.<applicant>, R12.rules, R12.normative_docs."""
    return {o[0] for o in CY.operands()}


def pairs(table, status: str) -> set[tuple[str, str]]:
    t = table.filter(pc.equal(table["status"], status))
    return set(zip(t["report_id"].to_pylist(), t["rule_id"].to_pylist()))


def run_nightly(data: Path, work: Path) -> Path | None:
    """The real nightly on `data` in a private project copy; the run's findings.parquet (None: no run)."""
    env = bench.isolated_project(work)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "nianbao", "run", "nightly", "--data", str(data)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    print(f"nianbao run nightly: exit {proc.returncode}, {time.perf_counter() - started:.0f} s")
    findings = Path(env["NIANBAO_ROOT"]) / "uncommitted" / "runs" / "latest" / "findings.parquet"
    if not findings.is_file():
        print(proc.stdout[-2000:], proc.stderr[-3000:], f"no findings.parquet at {findings}", sep="\n")
        return None
    return findings


def table_row(cells, widths) -> str:
    return "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))


def report(truth, findings) -> None:
    """Per family and per injected kind: truth, found, recall, false alarms, not assessable."""
    ours = truth_rules()
    fam = pc.utf8_slice_codeunits(findings["rule_id"], 0, 3)  # 'R11', 'R12' (and 'R1.' for R1)
    in_families = findings.filter(pc.is_in(fam, value_set=pa.array(list(CY.FAMILIES))))
    found_failed, found_na = pairs(in_families, FAILED), pairs(in_families, NOT_ASSESSABLE)
    truth_failed, truth_na = pairs(truth, FAILED), pairs(truth, NOT_ASSESSABLE)
    widths = [6, 8, 8, 8, 8, 9, 9, 9]
    print("\n== R11/R12: GX nightly against the synthetic truth ==")
    print(table_row(["family", "truth", "found", "recall", "false", "NA truth", "NA found", "NA both"], widths))
    for fm in CY.FAMILIES:
        tf = {p for p in truth_failed if family(p[1]) == fm}
        ff = {p for p in found_failed if family(p[1]) == fm and p[1] in ours}
        tn = {p for p in truth_na if family(p[1]) == fm}
        fn = {p for p in found_na if family(p[1]) == fm and p[1] in ours}
        recall = f"{len(tf & ff) / len(tf):.4f}" if tf else "-"
        print(table_row([fm, len(tf), len(ff), recall, len(ff - tf), len(tn), len(fn), len(tn & fn)], widths))
    others = Counter((r, s) for r, s in zip(in_families["rule_id"].to_pylist(), in_families["status"].to_pylist()))
    extra = {k: v for k, v in others.items() if k[0] not in ours}
    if extra:
        missing_year = {
            r for r, i in zip(truth["report_id"].to_pylist(), truth["injected"].to_pylist()) if i == CY.MISSING_YEAR
        }
        print(
            "other rules of the families (not in the truth): "
            + ", ".join(f"{r} {s} {n}" for (r, s), n in sorted(extra.items()))
        )
        print(f"  reports after a skipped year (truth: missing-year): {len(missing_year)}")

    print("\n== per injected kind (truth rows, by status) ==")
    widths = [30, 15, 8, 8, 8]
    print(table_row(["injected", "status", "truth", "found", "recall"], widths))
    found_all = {FAILED: found_failed, NOT_ASSESSABLE: found_na}
    # the kind, and whether the change was in last year's report (prev.) or this year's
    where = [
        k + (" (prev)" if c.startswith("prev.") else "")
        for k, c in zip(truth["injected"].to_pylist(), truth["cell"].to_pylist())
    ]
    kinds = Counter(zip(where, truth["status"].to_pylist()))
    rows = list(zip(truth["report_id"].to_pylist(), truth["rule_id"].to_pylist(), where, truth["status"].to_pylist()))
    for (kind, status), n in sorted(kinds.items()):
        hit = sum((r, rule) in found_all[status] for r, rule, k, s in rows if k == kind and s == status)
        print(table_row([kind, status, n, hit, f"{hit / n:.4f}"], widths))
    fa = (found_failed - truth_failed) & {p for p in found_failed if p[1] in ours}
    if fa:
        print(f"false alarms, e.g.: {sorted(fa)[:5]}")
    missed = truth_failed - found_failed
    if missed:
        print(f"missed, e.g.: {sorted(missed)[:5]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agencies", type=int, default=3000)
    ap.add_argument("--series", default="2019-2025")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--error-rate", type=float, default=0.02)
    ap.add_argument("--crossyear-rate", type=float, default=0.02)
    ap.add_argument("--missing-rate", type=float, default=0.01)
    ap.add_argument("--text", action="store_true", help="with the text and its injections (tables missing too)")
    ap.add_argument("--keep", default=None, help="write the corpus here and keep it (default: a temp folder)")
    args = ap.parse_args(argv)
    first, last = synth.parse_series(args.series)
    work = Path(tempfile.mkdtemp(prefix="nianbao-crossyear-", dir=os.environ.get("NIANBAO_BENCH_DIR")))
    try:
        data = Path(args.keep) if args.keep else work / "data"
        s = synth.generate_series(
            args.agencies,
            data,
            first=first,
            last=last,
            error_rate=args.error_rate,
            crossyear_rate=args.crossyear_rate,
            missing_rate=args.missing_rate,
            seed=args.seed,
            text=args.text,  # the text rules have their own benchmark (benchmarks/text_rules.py)
        )
        print(
            f"synth: {s.reports:,} reports of {args.agencies:,} agencies, {first}-{last}, {s.seconds:.1f} s; "
            f"injected: {', '.join(f'{k} {v}' for k, v in sorted(s.injections.items()))}"
        )
        truth = pq.read_table(data / CY.TRUTH_FILE)
        present = sorted(r for r in RL.RULES_BY_ID if family(r) in CY.FAMILIES)
        if not present:
            print("the rule catalogue has no R11/R12 rule (nianbao.rules): nothing to compare; truth rows by status:")
            for k, v in sorted(CY.by_status(truth).items()):
                print(f"  {k}: {v}")
            return 0
        print(f"rules: {', '.join(present)}")
        if missing := sorted(truth_rules() - set(present)):
            print(f"rules the truth is about but the catalogue lacks: {', '.join(missing)}")
        findings = run_nightly(data, work)
        if findings is not None:
            report(truth, pq.read_table(findings))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
