"""The cost of an ingest's commit into a large data folder: snapshots against rewriting in place.

A folder of N reports held by ingest (made from `nianbao synth` output, copied into ingest's own files),
then a small ingest of K new text reports into it. Printed, for the same merge:
- the snapshot commit (nianbao.datafolder.commit: new files flushed to disk, then the pointer replaced),
- the previous way of writing (each file to a temporary name, then renamed over the old one: no fsync,
  and torn by a kill between two renames),
- the whole ingest, and the cleanup of the files the previous snapshot named.
Figures only; nothing is asserted. Usage: python benchmarks/bench_commit.py [--reports 1000000] [--new 20]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _synth(n: int, out: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "nianbao", "synth", "--reports", str(n), "--out", str(out), "--seed", "1"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _as_ingested(synth: Path, data: Path) -> None:
    """Synth's part files merged into one ingest file per table, as an earlier ingest leaves them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nianbao import datafolder
    from nianbao import schema as S

    for table in datafolder.TABLES:
        parts = sorted((synth / table).glob("*.parquet"))
        merged = pa.concat_tables([pq.read_table(p) for p in parts]).cast(S.TABLE_SCHEMAS[table])
        (data / table).mkdir(parents=True, exist_ok=True)
        pq.write_table(merged, data / table / "ingest.parquet")


def _new_reports(folder: Path, k: int) -> None:
    from nianbao import schema as S
    from nianbao.parse import render as R

    folder.mkdir(parents=True)
    for i in range(k):
        report = R.random_report(random.Random(i), S.FORMAT_2021, agency=f"基准新增第{i}局", year=2025)
        (folder / f"new{i}.txt").write_text(R.render_text(report, "pipe"), encoding="utf-8")


def _rewrite_in_place(tables: dict) -> None:
    """The previous way of writing ingest's tables: each to a temporary name, then renamed over the old."""
    import pyarrow.parquet as pq

    for path, table in tables.items():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reports", type=int, default=1_000_000)
    p.add_argument("--new", type=int, default=20)
    args = p.parse_args(argv)
    from nianbao import datafolder, ingest

    with tempfile.TemporaryDirectory(prefix="bench-commit-") as tmp:
        work = Path(tmp)
        _, t = _timed(_synth, args.reports, work / "synth")
        print(f"synth {args.reports:,} reports: {t:.1f} s")
        data = work / "data"
        _, t = _timed(_as_ingested, work / "synth", data)
        size = sum(f.stat().st_size for f in data.rglob("*.parquet")) / 2**20
        print(f"as ingest's own files: {t:.1f} s, {size:.0f} MB")
        _new_reports(work / "new", args.new)

        # The merge's tables, committed both ways from the same starting point.
        commits: list[float] = []
        real_commit = datafolder.commit

        def timed_commit(*a, **kw):
            snap, seconds = _timed(lambda: real_commit(*a, **kw))
            commits.append(seconds)
            return snap

        cleanups: list[tuple[int, float]] = []
        real_clean_up = datafolder.clean_up

        def timed_clean_up(*a, **kw):
            removed, seconds = _timed(lambda: real_clean_up(*a, **kw))
            cleanups.append((removed, seconds))
            return removed

        datafolder.commit, datafolder.clean_up = timed_commit, timed_clean_up
        baseline = work / "baseline"
        shutil.copytree(data, baseline)
        summary, total = _timed(ingest.ingest, [work / "new"], data)
        datafolder.commit, datafolder.clean_up = real_commit, real_clean_up
        print(f"ingest of {args.new} reports into {args.reports:,}: {total:.2f} s in all, snapshot {summary.snapshot}")
        print(f"  snapshot commit (write, fsync, pointer): {commits[0]:.2f} s")

        snapshot = datafolder.open_snapshot(data)
        tables = {name: ingest.stored_table(data, name) for name in snapshot.listed}
        in_place = {
            (
                baseline / name / "ingest.parquet"
                if name in datafolder.TABLES
                else baseline / "_ingest" / f"{name}.parquet"
            ): t
            for name, t in tables.items()
        }
        _, rewrite = _timed(_rewrite_in_place, in_place)
        print(f"  rewrite in place (temporary names, renames, no fsync): {rewrite:.2f} s")
        print(f"  ratio snapshot / rewrite: {commits[0] / rewrite:.2f}x")

        removed, seconds = cleanups[0]
        print(f"  cleanup of the files no snapshot names any more: {removed} files, {seconds * 1000:.0f} ms")
        cores = os.cpu_count()
        print(f"machine: {cores} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
