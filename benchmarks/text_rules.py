"""Recall and precision of the rules over the whole text (R17–R19, R23–R25, R27, R30, R31) on a synthetic series.

    python benchmarks/text_rules.py [--agencies 3000] [--series 2019-2025] [--seed 11] [--text-error-rate 0.005]
    nianbao bench text [--sizes 3000]

`nianbao synth --series` writes each report's text (the sections table, nianbao.synth_text) with injected
text errors (a stated number ≠ its table, a wrong title or period year, a dropped section, 五 = 无, a copy
of last year's report or of another agency's), reports lacking a statutory table or of unknown format
(written as an ingest writes them), and per-report table errors; _truth/truth.parquet lists every
failing (report, rule), the table injections that change a total the text states included.

Two measurements, per rule family: truth rows, found, recall, false alarms, precision.
- direct: the report_text asset's own SELECT (nianbao.report_text: text_facts and similarity read once,
  joined to the tables) in DuckDB, each rule's predicate applied to its rows: what the rules can see.
- GX: the real nightly (`python3 -m nianbao run nightly --data DIR`, in a private project copy, as
  benchmarks/crossyear.py runs it), its findings.parquet; only when the catalogue has the text rules.
It asserts nothing and exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from crossyear import run_nightly  # noqa: E402

from nianbao import rules as RL  # noqa: E402
from nianbao import synth  # noqa: E402
from nianbao import synth_text as TX  # noqa: E402

FAMILIES = ("R17", "R18", "R19", "R23", "R24", "R25", "R27", "R30", "R31")
# The text rules' predicates (ids and columns as nianbao.rules wires them on the report_text asset):
# text_agrees fails where both sides are printed and differ, at_most where the column exceeds 0.
AGREES = {
    "R17.applications": ("stated_applications", "table_applications"),
    "R18.reviews": ("stated_reviews", "table_reviews"),
    "R19.litigations": ("stated_litigations", "table_litigations"),
    "R23.title": ("title_year", "year"),
    "R23.period_start": ("period_start", "year"),
    "R23.period_end": ("period_end", "year"),
}
AT_MOST = {
    "R24.sections": "sections_missing",
    "R24.tables": "tables_missing",
    "R25.format": "format_unmatched",
    "R27.five": "five_generic",
    "R30.previous_year": "copied_previous_share",
    "R30.same_year": "copied_same_year_share",
    "R31.versions": "versions",
}


def family(rule_id: str) -> str:
    return rule_id.split(".")[0]


def text_rules_present() -> list[str]:
    return sorted(r for r in RL.RULES_BY_ID if family(r) in FAMILIES and r in {*AGREES, *AT_MOST})


def predicates() -> dict[str, str]:
    """rule id -> SQL predicate of a failure, from the catalogue's rule when it is there."""
    out = {r: f"({a} IS NOT NULL AND {b} IS NOT NULL AND {a} <> {b})" for r, (a, b) in AGREES.items()}
    out.update({r: f"COALESCE({c}, 0) > 0" for r, c in AT_MOST.items()})
    for rid in out:
        rule = RL.RULES_BY_ID.get(rid)
        if rule is not None and rule.kind == "text_agrees":
            (a,), (b,) = rule.left, rule.right
            out[rid] = f"({a} IS NOT NULL AND {b} IS NOT NULL AND {a} <> {b})"
        elif rule is not None and rule.kind == "at_most":
            out[rid] = f"COALESCE({rule.columns[0]}, 0) > {rule.params.get('max_value', 0)}"
    return out


def direct(data: Path) -> tuple[set[tuple[str, str]], float]:
    """(report, rule) failing on the report_text asset's rows, its inputs built as the nightly builds them
    (nianbao.derived over views of the data folder, as the lower bound reads it)."""
    import duckdb

    from nianbao import derived
    from nianbao import report_text as RT
    from nianbao import schema as S

    con = duckdb.connect()
    for table in derived.TABLES:
        if any((data / table).glob("*.parquet")):
            source = f"read_parquet('{data / table}/*.parquet')"
        else:
            con.register(f"nb_{table}_empty", S.TABLE_SCHEMAS[table].empty_table())
            source = f"nb_{table}_empty"
        con.execute(f"CREATE OR REPLACE VIEW nb_{table} AS SELECT * FROM {source}")
    started = time.perf_counter()
    derived.build_inputs(con, "nb_")
    con.execute(f"CREATE TABLE asset AS {derived.select(RT.TABLE, [], 'nb_')}")
    seconds = time.perf_counter() - started
    found = set()
    for rule, pred in predicates().items():
        found |= {(r, rule) for (r,) in con.execute(f"SELECT report_id FROM asset WHERE {pred}").fetchall()}
    return found, seconds


def table_row(cells, widths) -> str:
    return "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))


def report(title: str, truth: set, found: set, kinds: dict) -> None:
    """Per family: truth, found, recall, false alarms, precision; then recall per injected kind."""
    widths = [6, 7, 7, 8, 6, 9]
    print(f"\n== {title} ==")
    print(table_row(["family", "truth", "found", "recall", "false", "precision"], widths))
    for fm in FAMILIES:
        t = {p for p in truth if family(p[1]) == fm}
        f = {p for p in found if family(p[1]) == fm}
        recall = f"{len(t & f) / len(t):.4f}" if t else "-"
        precision = f"{len(t & f) / len(f):.4f}" if f else "-"
        print(table_row([fm, len(t), len(f), recall, len(f - t), precision], widths))
    per_kind = Counter(kinds[p] for p in truth)
    hit = Counter(kinds[p] for p in truth & found)
    print(table_row(["injected", "truth", "found", "recall"], [26, 7, 7, 8]))
    for kind, n in sorted(per_kind.items()):
        print(table_row([kind, n, hit[kind], f"{hit[kind] / n:.4f}"], [26, 7, 7, 8]))
    if fa := sorted(found - truth):
        print(f"false alarms, e.g.: {fa[:5]}")
    if missed := sorted(truth - found):
        print(f"missed, e.g.: {missed[:5]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agencies", type=int, default=3000)
    ap.add_argument("--series", default="2019-2025")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--error-rate", type=float, default=0.02)
    ap.add_argument("--text-error-rate", type=float, default=synth.TEXT_ERROR_RATE)
    ap.add_argument("--keep", default=None, help="write the corpus here and keep it (default: a temp folder)")
    ap.add_argument("--no-gx", action="store_true", help="the direct measurement only")
    args = ap.parse_args(argv)
    first, last = synth.parse_series(args.series)
    work = Path(tempfile.mkdtemp(prefix="nianbao-text-", dir=os.environ.get("NIANBAO_BENCH_DIR")))
    try:
        data = Path(args.keep) if args.keep else work / "data"
        s = synth.generate_series(
            args.agencies,
            data,
            first=first,
            last=last,
            error_rate=args.error_rate,
            seed=args.seed,
            text=True,
            text_error_rate=args.text_error_rate,
        )
        size = sum(f.stat().st_size for f in (data / "sections").glob("*.parquet"))
        text = ", ".join(f"{k} {s.injections.get(k, 0)}" for k in TX.TEXT_KINDS)
        print(f"synth: {s.reports:,} reports of {args.agencies:,} agencies, {first}-{last}, {s.seconds:.1f} s")
        print(f"sections: {size / 1e6:.1f} MB; text errors injected: {text}")
        t = pq.read_table(data / "_truth" / "truth.parquet")
        t = t.filter(
            pc.is_in(pc.utf8_slice_codeunits(t["rule_id"], 0, 3), value_set=__import__("pyarrow").array(FAMILIES))
        )
        kinds = dict(zip(zip(t["report_id"].to_pylist(), t["rule_id"].to_pylist()), t["injected"].to_pylist()))
        truth = set(kinds)
        found, seconds = direct(data)
        report(f"direct: the report_text asset's rows ({seconds:.0f} s to build)", truth, found, kinds)
        present = text_rules_present()
        if not present:
            print("\nthe rule catalogue has no text rule (R17–R19, R23–R25, R27, R30 in nianbao.rules): no GX run")
            return 0
        print(f"\nrules: {', '.join(present)}")
        if missing := sorted({*AGREES, *AT_MOST} - set(present)):
            print(f"text rules the truth is about but the catalogue lacks: {', '.join(missing)}")
        if args.no_gx:
            return 0
        findings = run_nightly(data, work)
        if findings is not None:
            f = pq.read_table(findings, columns=["report_id", "rule_id", "status"])
            gx = {
                (r, rule)
                for r, rule, st in zip(f["report_id"].to_pylist(), f["rule_id"].to_pylist(), f["status"].to_pylist())
                if st == "failed" and family(rule) in FAMILIES
            }
            report("GX nightly", truth, gx, kinds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
