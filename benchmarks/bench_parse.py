"""Parser throughput on the real corpus: reports per second for HTML, text and PDF inputs.

Prints a table; never asserts a timing. Each row repeats its files until about `--seconds` have
passed, so small inputs get a stable figure and the whole run stays short (~30 s by default).
Usage: python benchmarks/bench_parse.py [--seconds 3] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from nianbao.parse import html
from nianbao.paths import ROOT

NATIONAL_REPORTS = 150_000


def measure(
    files: list[Path], work: Callable[[Path], object], seconds: float, max_rounds: int
) -> tuple[int, float, float]:
    """Run `work` over all files round after round until `seconds` pass; (reports, wall s, CPU s)."""
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    for _ in range(max_rounds):
        for f in files:
            work(f)
            done += 1
        if time.perf_counter() - start >= seconds:
            break
    return done, time.perf_counter() - start, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    """Print reports/second per input kind."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0, help="time budget per row")
    p.add_argument("--corpus", default=os.environ.get("NIANBAO_CORPUS", str(ROOT.parent / "shared" / "corpus")))
    args = p.parse_args(argv)
    corpus = Path(args.corpus)
    html_files = sorted((corpus / "html").glob("*.htm*"))
    txt_files = sorted((corpus / "real").glob("*.txt"))
    pdf_files = sorted((corpus / "pdf").glob("*.pdf"))
    html_bytes = {f: f.read_bytes() for f in html_files}

    rows: list[tuple[str, int, Callable[[Path], object], int]] = [
        ("html: read_lines (grid only)", len(html_files), lambda f: html.read_lines(html_bytes[f], str(f)), 10_000),
    ]
    try:
        from nianbao.parse import parse_file
    except ImportError as e:  # the core lands separately; say so instead of printing a number
        print(f"parse_file unavailable ({e}); end-to-end rows skipped", file=sys.stderr)
        parse_file = None
    if parse_file is not None:
        rows += [
            ("html: parse_file", len(html_files), lambda f: parse_file(str(f)), 10_000),
            ("txt: parse_file", len(txt_files), lambda f: parse_file(str(f)), 10_000),
            ("pdf: parse_file", len(pdf_files), lambda f: parse_file(str(f)), 1),
        ]
    files_of = {"html": html_files, "txt": txt_files, "pdf": pdf_files}

    # CPU seconds as well: on a shared machine the wall clock also counts other people's work.
    print(
        f"{'input':32} {'files':>5} {'reports':>8} {'seconds':>8} {'reports/s':>10} {'per CPU-s':>10} {'ms/report':>10}"
    )
    cpu_rate: dict[str, float] = {}
    for name, n_files, work, max_rounds in rows:
        files = files_of[name.split(":")[0]]
        if not files:
            print(f"{name:32} {0:>5} {'-':>8} {'-':>8} {'no files':>10}")
            continue
        done, elapsed, cpu = measure(files, work, args.seconds, max_rounds)
        cpu_rate[name] = done / cpu
        print(
            f"{name:32} {n_files:>5} {done:>8} {elapsed:>8.2f} {done / elapsed:>10.1f} {done / cpu:>10.1f} "
            f"{cpu / done * 1000:>10.2f}"
        )
    kb = sum(len(b) for b in html_bytes.values()) / max(len(html_bytes), 1) / 1024
    print(
        f"(HTML pages average {kb:.0f} KB; target: at least 200 HTML pages a second; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    rate = cpu_rate.get("html: parse_file")
    if rate:
        cores = os.cpu_count() or 1
        print(
            f"{NATIONAL_REPORTS:,} HTML reports at {rate:.0f}/CPU-s: "
            f"{NATIONAL_REPORTS / rate / 60:.1f} min on one core, "
            f"{NATIONAL_REPORTS / rate / cores / 60:.1f} min on {cores} cores (parsing only; see bench_ingest.py)"
        )
    if parse_file is not None:
        scaling(parse_file)
    return 0


# Inputs no report prints, in two sizes: the parse time should grow with the size, not with its square.
# (Before the parser core stopped copying tokens: 200,000 number lines, a 1.2 MB file, took over
# 5 minutes; table 四 rows the same.)
SCALING_SHAPES = {
    "number lines after 二": ("二、主动公开政府信息情况\n", "1 2 3\n"),
    "number rows after 四": ("四、政府信息公开行政复议、行政诉讼情况\n", "1 2 3 4 5\n"),
    "label lines": ("三、收到和处理政府信息公开申请情况\n", "1.属于国家秘密\n"),
    "one cell a paragraph": ("二、主动公开政府信息情况\n\n", "0\n\n"),
}


def scaling(parse_file: Callable[[str], object], small: int = 5_000, factor: int = 10) -> None:
    """Print the CPU time to parse each shape at `small` and `factor` x `small` lines, and their ratio."""
    import tempfile

    print(f"\n{'scaling (text)':32} {small:>8,} lines {small * factor:>8,} lines    ratio (linear: {factor})")
    with tempfile.TemporaryDirectory(prefix="nianbao-bench-scaling-") as tmp:
        for name, (head, line) in SCALING_SHAPES.items():
            seconds = []
            for n in (small, small * factor):
                path = Path(tmp) / f"{n}.txt"
                path.write_text(head + line * n, encoding="utf-8")
                start = time.process_time()
                parse_file(str(path))
                seconds.append(time.process_time() - start)
            print(f"{name:32} {seconds[0]:>12.3f} s {seconds[1]:>12.3f} s {seconds[1] / seconds[0]:>9.1f}")


if __name__ == "__main__":
    raise SystemExit(main())
