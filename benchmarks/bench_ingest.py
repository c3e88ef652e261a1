"""Ingest throughput end to end (parse + Parquet merge and write): reports per second per input kind.

Renders N random reports as text (cycling through every layout) and as HTML, copies the corpus PDFs
N times (a manifest gives each copy its own agency, so none is a duplicate), ingests each kind into a
fresh data folder and prints reports/second (wall clock, steady state and per CPU second) and the
projected time for 150,000 reports, and HTML ingest's CPU a report as a multiple of lxml's parse alone
(measured right before and after the HTML ingest: the ratio moves less than the rates with the machine's
speed, which drifts within minutes). Prints figures only, never asserts a timing.
Usage: python benchmarks/bench_ingest.py [--n 200] [--pdf-n 20] [--workers N]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

# nianbao is imported inside the functions, never here: parser processes are spawned, and each one imports
# this script again as its main module. Imported here, pyarrow would load in every parser process, which
# the `nianbao` command's own small script spares them (0.4 s of CPU each).

NATIONAL_REPORTS = 150_000


def write_text_reports(folder: Path, n: int, rng: random.Random) -> None:
    """N random reports (a fifth in the 2019 format), each in the next text layout."""
    from nianbao.parse import render

    for i in range(n):
        version = "2019" if i % 5 == 4 else "2021"
        report = render.random_report(rng, version, agency=f"基准测试第{i}局", year=2023)
        layout = render.LAYOUTS[i % len(render.LAYOUTS)]
        (folder / f"r{i:06d}.txt").write_text(render.render_text(report, layout), encoding="utf-8")


def write_html_reports(folder: Path, n: int, rng: random.Random) -> None:
    from nianbao.parse import render

    for i in range(n):
        report = render.random_report(rng, "2021", agency=f"基准测试第{i}局", year=2023)
        (folder / f"r{i:06d}.html").write_text(render.render_html(report), encoding="utf-8")


def write_pdf_copies(folder: Path, n: int, corpus: Path) -> Path:
    """N copies of the corpus PDFs and a manifest naming each copy after its own agency."""
    pdfs = sorted((corpus / "pdf").glob("*.pdf"))
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "agency", "region", "year"])
        for i in range(n):
            name = f"r{i:06d}.pdf"
            shutil.copyfile(pdfs[i % len(pdfs)], folder / name)
            w.writerow([name, f"基准测试第{i}局", "", 2023])
    return manifest


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the parser processes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run(kind: str, folder: Path, out: Path, manifest: Path | None, workers: int | None) -> float:
    """Ingest one folder and print its figures; returns the CPU seconds a report took (all processes)."""
    from nianbao import ingest

    parsed_at: list[float] = []
    start, cpu = time.perf_counter(), _cpu_seconds()
    summary = ingest.ingest(
        [folder],
        out,
        manifest=manifest,
        workers=workers,
        progress=lambda done, total, path: parsed_at.append(time.perf_counter()),
    )
    total, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    n = len(summary.outcomes)
    rate = n / total
    # Steady state: from the first parsed report to the last, without starting the parser processes;
    # this is the rate a national run of 150,000 files sees (start-up and the merge are paid once).
    steady = (len(parsed_at) - 1) / (parsed_at[-1] - parsed_at[0]) if len(parsed_at) > 2 else float("nan")
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_status().items()))
    print(
        f"{kind:<6} {n:>6} {total:>8.2f} {parsed_at[-1] - start if parsed_at else 0:>8.2f} {rate:>10.1f} "
        f"{steady:>10.1f} {n / cpu:>10.1f} {NATIONAL_REPORTS / steady / 60:>10.1f}   {statuses}"
    )
    return cpu / n


def lxml_floor(folder: Path, pages: int = 500) -> float:
    """Seconds of CPU a page takes for lxml's parse alone, in this process: the baseline no HTML reader built
    on lxml can beat, measured in the same run so that the ratio moves less with the machine's speed."""
    import lxml.etree as ET

    data = [p.read_bytes() for p in sorted(folder.glob("*.html"))[:pages]]
    start = time.process_time()
    for page in data:
        ET.fromstring(page, ET.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, encoding="utf-8"))
    return (time.process_time() - start) / len(data)


def main(argv: list[str] | None = None) -> int:
    """Print reports/second per input kind and the projection to a national year of reports."""
    from nianbao import ingest
    from nianbao.paths import ROOT

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200, help="text and HTML reports each")
    p.add_argument("--pdf-n", type=int, default=20, help="PDF copies")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"parser processes (default: ingest's choice, parallel from {ingest.PARALLEL_FROM} files)",
    )
    p.add_argument("--corpus", default=os.environ.get("NIANBAO_CORPUS", str(ROOT.parent / "shared" / "corpus")))
    args = p.parse_args(argv)
    rng = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="nianbao-bench-ingest-") as tmp:
        base = Path(tmp)
        folders = {k: base / k for k in ("text", "html", "pdf")}
        for f in folders.values():
            f.mkdir()
        write_text_reports(folders["text"], args.n, rng)
        write_html_reports(folders["html"], args.n, rng)
        manifest = write_pdf_copies(folders["pdf"], args.pdf_n, Path(args.corpus))
        print(
            f"{'kind':<6} {'files':>6} {'total s':>8} {'parse s':>8} {'reports/s':>10} {'steady/s':>10} "
            f"{'per CPU-s':>10} {'150k (min)':>10}   outcomes"
        )
        cpu, floors = {}, []
        for kind, folder in folders.items():
            if not any(folder.glob("r*")):
                continue
            if kind == "html":  # the baseline right before and right after: the machine's speed drifts
                floors.append(lxml_floor(folder))
            cpu[kind] = run(kind, folder, base / f"data-{kind}", manifest if kind == "pdf" else None, args.workers)
            if kind == "html":
                floors.append(lxml_floor(folder))
        if "html" in cpu:
            floor = sum(floors) / len(floors)
            print(
                f"baseline: lxml's parse alone takes {floor * 1e3:.2f} ms of CPU a page ({1 / floor:.0f} pages a "
                f"CPU second; {floors[0] * 1e3:.2f} ms before the HTML ingest, {floors[1] * 1e3:.2f} ms after); "
                f"HTML ingest takes {cpu['html'] * 1e3:.2f} ms a report in all processes, "
                f"{cpu['html'] / floor:.2f}x the baseline."
            )
        print(
            f"parse s = until the last file was parsed; the rest is the Parquet merge and write. "
            f"steady/s = parse rate from the first to the last parsed report (no process start-up); "
            f"150k (min) = {NATIONAL_REPORTS:,} reports at the steady rate. per CPU-s counts the parser "
            f"processes too (the machine is shared: wall-clock rates include other people's work). "
            f"{os.cpu_count()} cores, workers={args.workers or 'auto'}, "
            f"load average {os.getloadavg()[0]:.1f}."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
