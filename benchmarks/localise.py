"""How often the localisation names the injected cell: known errors put into clean synthetic reports.

    python benchmarks/localise.py [--reports 2000] [--seed 7]

`nianbao synth` writes clean reports (error rate 0); each kind of known error (synth.LOCATED_ERRORS)
is injected into each report in turn (one report, one error at a time), and nianbao.localise is asked
where it is. For every kind the script prints, out of the cases:

- distinguishable: the rules alone single the injected cells out (one set of the smallest size);
- exact: the answer is unique and is the injected cells with their true values;
- wrong unique: the answer is unique and is not the injected cells (the weights chose another set of
  the same size, or a smaller set explains the error);
- tie, top: ambiguous, the injected set listed first; tie, listed: ambiguous, listed later;
- alternative: the injected set is listed as a dearer alternative of the same size;
- missed: not listed at all.

Then the same with uniform weights, to show what the weights do, and the time per report with
and without the solver.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from nianbao import localise as L  # noqa: E402
from nianbao import synth  # noqa: E402

OUTCOMES = ("exact", "wrong unique", "tie, top", "tie, listed", "alternative", "missed")


def clean_reports(n: int, seed: int) -> list[dict[str, dict]]:
    """n clean synthetic reports as {table: {column: value}}."""
    reports: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="nianbao-localise-") as tmp:
        out = Path(tmp)
        synth.generate(n, out, error_rate=0.0, seed=seed)
        con = duckdb.connect()
        for table in synth.LOCATED_TABLES:
            rel = con.sql(f"SELECT * FROM read_parquet('{out / table}/*.parquet') ORDER BY report_id")
            names = rel.columns
            for row in rel.fetchall():
                reports.setdefault(row[0], {})[table] = dict(zip(names, row))
        con.close()
    return list(reports.values())


def outcome(diag: L.Diagnosis | None, injected: list[tuple[str, str, int]]) -> str:
    """Which of OUTCOMES this answer is, for these injected cells."""
    if diag is None:
        return "missed"
    want = {(c, v) for _, c, v in injected}

    def hits(solution) -> bool:
        return {(c.cell, c.proposed) for c in solution} == want

    listed = [i for i, s in enumerate(diag.solutions) if hits(s)]
    if not diag.ambiguous:
        if listed == [0]:
            return "exact"
        return "alternative" if listed else "wrong unique"
    if listed:
        return "tie, top" if listed[0] == 0 else ("tie, listed" if listed[0] < diag.best else "alternative")
    return "missed"


def evaluate(reports: list[dict], seed: int, weight) -> tuple[dict, dict, dict]:
    """Per kind: outcome counts, distinguishable-case outcome counts, and seconds."""
    results, distinct, seconds = {}, {}, {}
    for kind in synth.LOCATED_ERRORS:
        rng = np.random.default_rng([seed, synth.LOCATED_ERRORS.index(kind)])
        counts, among_distinct, spent = Counter(), Counter(), 0.0
        for rep in reports:
            values = {t: dict(row) for t, row in rep.items()}
            injected = synth.inject_located(rng, values, kind)
            if injected is None:
                continue
            version = values["applications"].get("format_version")
            started = time.perf_counter()
            diag = L.localise("r", values, version, weight)
            spent += time.perf_counter() - started
            result = outcome(diag, injected)
            counts[result] += 1
            if diag is not None and len(diag.solutions) == 1 and not diag.capped:
                among_distinct[result] += 1
        results[kind], distinct[kind], seconds[kind] = counts, among_distinct, spent
    return results, distinct, seconds


def table(title: str, results: dict, distinct: dict, seconds: dict) -> None:
    print(f"\n{title}")
    head = f"{'kind':<8}{'cases':>7}" + "".join(f"{o:>14}" for o in OUTCOMES)
    print(head + f"{'distinguishable':>17}{'exact there':>13}{'ms/report':>11}")
    for kind, counts in results.items():
        n = sum(counts.values()) or 1
        d = sum(distinct[kind].values())
        exact_d = distinct[kind]["exact"] / d if d else float("nan")
        cells = "".join(f"{counts[o] / n:>14.1%}" for o in OUTCOMES)
        print(f"{kind:<8}{n:>7}{cells}{d / n:>17.1%}{exact_d:>13.1%}{1000 * seconds[kind] / n:>11.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    reports = clean_reports(args.reports, args.seed)
    print(f"{len(reports)} clean synthetic reports (nianbao synth, seed {args.seed}); one injected error each")
    table(
        f"weights: totals {L.TOTAL_WEIGHT}, details {L.DETAIL_WEIGHT} (the default)",
        *evaluate(reports, args.seed, L.default_weight),
    )
    table("weights: uniform 1.0", *evaluate(reports, args.seed, lambda cell: 1.0))


if __name__ == "__main__":
    main()
