"""`nianbao bench [synth|nightly|scale|gate|localise|crossyear|text|all] [--sizes 100000,1000000]`: figures,
printed.

Every measured step runs in its own child process, started by a tiny launcher that reports the
child's wait4 usage, so its peak memory (ru_maxrss: the child and the processes it waited for) is its
own: not the largest so far, and not inflated by a big parent. Runs use
a throwaway copy of the GX project (NIANBAO_ROOT), so a benchmark never replaces the auditors'
latest run or site. Figures are printed, never asserted; a difference between the failures GX
finds and those of the lower bound is a defect and makes the command fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .exitcodes import ExitCode
from .paths import ROOT

SIZES = (100_000, 1_000_000)
BAD_NIGHT = {"error_rate": 0.5, "errors_per_report": 3}  # half the reports failing in all three tables
GATE_DRAFT = (
    "data/inbox/shenzhou-2021.txt",
    "--agency",
    "深州市人民政府办公室",
    "--region",
    "河北省衡水市深州市",
    "--year",
    "2021",
    "--level",
    "county_department",
)
PROJECT_PARTS = ("great_expectations.yml", "expectations", "checkpoints", "validation_definitions", "plugins")
TIMEOUT_ENV = "NIANBAO_BENCH_TIMEOUT"
DEFAULT_TIMEOUT = 3600.0  # per measured step, in seconds
PAIRS_SCHEMA = pa.schema([("report_id", pa.string()), ("rule_id", pa.string())])


class BenchError(RuntimeError):
    """A measured step failed; the message names the step and its stderr."""


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    cpu_seconds: float  # user + system: less sensitive than wall time to other load on the machine
    code: int
    stdout: str
    stderr: str

    def result(self) -> dict:
        """The JSON line a child step printed last."""
        lines = [x for x in self.stdout.splitlines() if x.startswith("{")]
        return json.loads(lines[-1]) if lines else {}


# The measured command is started by this tiny interpreter: ru_maxrss survives exec, and a child forked
# straight from a big parent (pytest, the bench itself) would report the parent's size as its peak.
LAUNCHER = """import json, os, sys
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump({"code": os.waitstatus_to_exitcode(status), "maxrss_kb": ru.ru_maxrss,
               "cpu": ru.ru_utime + ru.ru_stime}, f)
"""


def measure(cmd: list[str], env: dict | None = None, timeout: float | None = None) -> Measured:
    """Run cmd in a child; its wall time, CPU time and its own peak RSS. Past `timeout` s it is killed."""
    timeout = timeout or float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
    with tempfile.TemporaryDirectory() as tmp:
        usage, out, err = Path(tmp) / "usage.json", Path(tmp) / "out", Path(tmp) / "err"
        with open(out, "wb") as fo, open(err, "wb") as fe:
            start = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-S", "-c", LAUNCHER, str(usage), *cmd],
                stdout=fo,
                stderr=fe,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
            timer = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
            timer.start()
            try:
                proc.wait()
            except BaseException:  # interrupted: do not leave the measured run behind
                os.killpg(proc.pid, signal.SIGKILL)
                raise
            finally:
                timer.cancel()
            seconds = time.perf_counter() - start
        if not usage.exists():
            raise BenchError(
                f"{' '.join(cmd[:4])}: killed after {seconds:.0f} s "
                f"(limit {timeout:.0f} s, set {TIMEOUT_ENV} to wait longer)"
            )
        u = json.loads(usage.read_text())
        return Measured(
            seconds,
            u["maxrss_kb"] / 1024,
            u["cpu"],
            u["code"],
            out.read_text("utf-8", "replace"),
            err.read_text("utf-8", "replace"),
        )


def _checked(step: str, m: Measured, ok_codes=(0,)) -> Measured:
    if m.code not in ok_codes:
        raise BenchError(f"{step}: exit code {m.code}\n{m.stderr[-3000:]}{m.stdout[-2000:]}")
    return m


def _completed(step: str, m: Measured) -> dict:
    """A nightly child's result; BenchError naming the step when the run did not complete."""
    result = m.result()
    if not result.get("completed"):
        raise BenchError(f"{step}: {result.get('message') or m.stderr[-3000:]}")
    return result


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _child(*args: str) -> list[str]:
    return _python("-m", "nianbao.bench", "child", *args)


def isolated_project(work: Path) -> dict:
    """Environment for children: a copy of the GX project under work/, so runs write there."""
    root = work / "project"
    for part in PROJECT_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, root / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            root.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / part)
    return {**os.environ, "NIANBAO_ROOT": str(root), "GX_ANALYTICS_ENABLED": "false"}


# --- child steps (run as `python -m nianbao.bench child ...`) -----------------------------------


def _write_pairs(pairs: set[tuple[str, str]], out: str) -> None:
    rows = sorted(pairs)
    pq.write_table(
        pa.table({"report_id": [r for r, _ in rows], "rule_id": [x for _, x in rows]}, schema=PAIRS_SCHEMA), out
    )


def child_lowerbound(data: str, out: str) -> dict:
    """The single DuckDB query over the data folder; its failure pairs to `out`."""
    from . import lowerbound

    start = time.perf_counter()
    table = lowerbound.failures(data)
    seconds = time.perf_counter() - start
    _write_pairs(set(zip(table["report_id"].to_pylist(), table["rule_id"].to_pylist())), out)
    return {"seconds": seconds, "failures": table.num_rows}


def child_nightly(data: str, out: str, full_refresh: bool = True) -> dict:
    """The nightly checkpoint (validation, findings, data docs); its failed pairs to `out`. Full by default,
    whatever ran before in this project, so that its figures mean a whole night's work; `child_incremental`
    is the night that validates only what changed (nianbao.incremental)."""
    from .run import run_checkpoint

    start = time.perf_counter()
    outcome = run_checkpoint("nightly", data_dir=data, engine="duckdb", run_name="bench", full_refresh=full_refresh)
    seconds = time.perf_counter() - start
    f = outcome.findings
    failed = f[f["status"] == "failed"] if len(f) else f
    _write_pairs(set(zip(failed["report_id"], failed["rule_id"])) if len(f) else set(), out)
    return {
        "seconds": seconds,
        "failures": len(failed),
        "exit_code": int(outcome.exit_code),
        "completed": bool(outcome.summary.get("completed")),
        "message": outcome.message,
        "localise_s": outcome.summary.get("timings", {}).get("outputs", {}).get("localise_s"),
        "localised": outcome.summary.get("counts", {}).get("localised", {}),
        # what run_results.json records of the night: full or incremental, and where its time went
        "incremental": outcome.summary.get("incremental"),
        "timings": outcome.summary.get("timings", {}),
        "reports_validated": outcome.summary.get("reports_validated"),
    }


def child_incremental(data: str, out: str) -> dict:
    """The default nightly: only what changed since the last completed nightly of `data` is validated."""
    return child_nightly(data, out, full_refresh=False)


# --- the benchmarks -----------------------------------------------------------------------------


def _pairs(path: Path) -> set[tuple[str, str]]:
    t = pq.read_table(path)
    return set(zip(t["report_id"].to_pylist(), t["rule_id"].to_pylist()))


def _synth(n: int, out: Path, env: dict, seed: int, error_rate: float = 0.02, errors_per_report: int = 1) -> Measured:
    cmd = _python(
        "-m",
        "nianbao.cli",
        "synth",
        "--reports",
        str(n),
        "--out",
        str(out),
        "--seed",
        str(seed),
        "--error-rate",
        str(error_rate),
        "--errors-per-report",
        str(errors_per_report),
    )
    return _checked(f"nianbao synth --reports {n}", measure(cmd, env))


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.rjust(w) for c, w in zip(cells, widths))


def say(*lines: str) -> None:
    print(*lines, sep="\n", flush=True)


def bench_synth(sizes, work: Path, env: dict) -> None:
    """Time and peak memory of `nianbao synth` at each size."""
    widths = [10, 10, 10, 10, 12, 10]
    say("== nianbao synth ==", _row(["reports", "wall s", "cpu s", "peak MB", "reports/s", "files MB"], widths))
    for n in sizes:
        out = work / f"synth-{n}"
        m = _synth(n, out, env, seed=1)
        size = sum(f.stat().st_size for f in out.rglob("*.parquet")) / 2**20
        say(
            _row(
                [
                    f"{n:,}",
                    f"{m.seconds:.1f}",
                    f"{m.cpu_seconds:.1f}",
                    f"{m.peak_mb:.0f}",
                    f"{n / m.seconds:,.0f}",
                    f"{size:.0f}",
                ],
                widths,
            )
        )
        shutil.rmtree(out)


def bench_nightly(sizes, work: Path, env: dict) -> bool:
    """Per corpus: synth, the lower bound and the full nightly run, and whether their failures agree."""
    corpora = [(f"{n:,}", n, {}) for n in sizes] + [(f"{min(sizes):,} 坏夜", min(sizes), BAD_NIGHT)]
    widths = [14, 8, 8, 6, 8, 6, 6, 8, 10, 8, 6, 7, 5]
    head = [
        "corpus",
        "truth",
        "synth s",
        "MB",
        "lower s",
        "cpu s",
        "MB",
        "query s",
        "nightly s",
        "cpu s",
        "MB",
        "ratio",
        "same",
    ]
    say("== nightly vs the single-query lower bound (DuckDB) ==", _row(head, widths))
    agree = True
    for i, (name, n, kind) in enumerate(corpora):
        data = work / f"corpus-{i}"
        s = _synth(n, data, env, seed=100 + i, **kind)
        lb = _checked("lower bound", measure(_child("lowerbound", str(data), str(work / "lb.parquet")), env))
        nightly = measure(_child("nightly", str(data), str(work / "gx.parquet")), env)
        _completed(f"nightly on {name}", nightly)
        truth = _pairs(data / "_truth" / "truth.parquet")
        found, gx = _pairs(work / "lb.parquet"), _pairs(work / "gx.parquet")
        same = found == gx
        agree &= same and found == truth
        say(
            _row(
                [
                    name,
                    f"{len(truth):,}",
                    f"{s.seconds:.1f}",
                    f"{s.peak_mb:.0f}",
                    f"{lb.seconds:.1f}",
                    f"{lb.cpu_seconds:.1f}",
                    f"{lb.peak_mb:.0f}",
                    f"{lb.result()['seconds']:.1f}",
                    f"{nightly.seconds:.1f}",
                    f"{nightly.cpu_seconds:.1f}",
                    f"{nightly.peak_mb:.0f}",
                    f"{nightly.seconds / lb.seconds:.1f}x",
                    "yes" if same else "NO",
                ],
                widths,
            )
        )
        if not same or found != truth:
            say(
                f"   only GX {len(gx - found)}, only lower bound {len(found - gx)}, "
                f"lower bound vs truth: missed {len(truth - found)}, extra {len(found - truth)}; "
                f"e.g. {sorted(gx ^ found)[:3]}"
            )
        shutil.rmtree(data)
    say(
        "s, cpu s and MB: wall time, CPU time and peak RSS of the whole child process (interpreter, imports, "
        "work); query s: the query alone; ratio: nightly wall / lower-bound wall; same: identical "
        "(report_id, rule_id) failure sets; truth: injected (report_id, rule_id) pairs, which the lower bound "
        "must equal"
    )
    return agree


def bench_localise(sizes, work: Path, env: dict) -> None:
    """The nightly with and without the error localisation, on a normal and on a bad night."""
    from .localise import OFF_ENV

    widths = [16, 12, 9, 8, 8, 11, 10, 10, 10, 8]
    head = ["corpus", "localise", "wall s", "cpu s", "MB", "localise s", "reports", "unique", "ambiguous", "solver"]
    say("== nightly with and without the error localisation (DuckDB) ==", _row(head, widths))
    for n in sizes:
        for name, kind in ((f"{n:,}", {}), (f"{n:,} 坏夜", BAD_NIGHT)):
            data = work / "corpus-localise"
            _synth(n, data, env, seed=300, **kind)
            for mode in ("off", "on"):
                m = measure(_child("nightly", str(data), str(work / "gx.parquet")), {**env, OFF_ENV: mode})
                r = _completed(f"nightly on {name}", m)
                located = r.get("localised") or {}
                say(
                    _row(
                        [
                            name,
                            mode,
                            f"{m.seconds:.1f}",
                            f"{m.cpu_seconds:.1f}",
                            f"{m.peak_mb:.0f}",
                            f"{r.get('localise_s') or 0:.1f}",
                            f"{located.get('reports', 0):,}",
                            f"{located.get('unique', 0):,}",
                            f"{located.get('ambiguous', 0):,}",
                            f"{located.get('solver', 0):,}",
                        ],
                        widths,
                    )
                )
            shutil.rmtree(data)
    say(
        "localise s: the localisation step of the run (run_results.json timings.outputs.localise_s); "
        "solver: reports that needed the MIP solver (the others were repaired by one or two cells)"
    )


GATE_REPEATS = 3


def bench_gate(env: dict, repeats: int = GATE_REPEATS) -> Measured:
    """The gate on one draft report against a bare `import great_expectations` in a fresh interpreter,
    alternated `repeats` times; the medians are compared (one run of each is at the mercy of load).
    Returns the median gate run."""
    return gate_and_bare_import(env, repeats)[0]


def gate_and_bare_import(env: dict, repeats: int = GATE_REPEATS) -> tuple[Measured, Measured]:
    """bench_gate's two medians: the gate, and the bare import of GX in a fresh interpreter."""
    draft, *meta = GATE_DRAFT
    cmd = _python("-m", "nianbao.cli", "gate", str(ROOT / draft), *meta)
    gates, bares = [], []
    for _ in range(repeats):
        gates.append(_checked("nianbao gate", measure(cmd, env), (0, 1, 2)))
        bares.append(_checked("import great_expectations", measure(_python("-c", "import great_expectations"), env)))
    gate = sorted(gates, key=lambda m: m.seconds)[repeats // 2]
    bare = sorted(bares, key=lambda m: m.seconds)[repeats // 2]
    say(
        f"== gate, one report (median of {repeats}, alternated with the bare import) ==",
        f"nianbao gate {draft}: {gate.seconds:.1f} s (cpu {gate.cpu_seconds:.1f} s), peak {gate.peak_mb:.0f} MB "
        f"(exit {gate.code}); all: {', '.join(f'{m.seconds:.1f}' for m in gates)} s",
        f"python -c 'import great_expectations': {bare.seconds:.1f} s (cpu {bare.cpu_seconds:.1f} s), "
        f"peak {bare.peak_mb:.0f} MB; all: {', '.join(f'{m.seconds:.1f}' for m in bares)} s",
        f"gate beyond the bare GX import: {gate.seconds - bare.seconds:.1f} s; "
        f"ratio {gate.seconds / bare.seconds:.2f}x (target 1.5x)",
    )
    return gate, bare


CHANGED = 1_000  # reports corrected between the full night and the incremental one of `bench scale`
CHANGED_TABLE, CHANGED_COLUMN = "review_litigation", "review_upheld"  # one count cell, in an identity's sum


def change_reports(data: Path, n: int, seed: int) -> list[str]:
    """Correct one cell of n reports drawn at random, as a re-ingest of their corrected files would: every
    Parquet file of CHANGED_TABLE holding one of them is written again with the new value and replaced
    atomically (a synth folder has no ingest snapshot: it is read as it lies, and its snapshot id follows
    its files). The new value is the old plus one, so an identity it is summed into breaks (or, where it
    was already broken, may hold). Returns the changed report ids."""
    import numpy as np
    import pyarrow.compute as pc

    files = sorted((data / CHANGED_TABLE).glob("*.parquet"))
    ids = pa.concat_arrays(
        [pq.read_table(f, columns=["report_id"])["report_id"].combine_chunks() for f in files]
    ).unique()
    if n > len(ids):
        raise BenchError(f"cannot change {n:,} reports: {CHANGED_TABLE} holds {len(ids):,}")
    picked = pa.array(sorted(np.random.default_rng(seed).choice(ids.to_numpy(zero_copy_only=False), n, False)))
    for f in files:
        table = pq.read_table(f)
        hit = pc.is_in(table["report_id"], picked)
        if not pc.any(hit).as_py():
            continue
        old = table[CHANGED_COLUMN]
        bumped = pc.if_else(hit, pc.add(pc.fill_null(old, 0), 1), old)  # a blank cell becomes 1: still a change
        table = table.set_column(table.schema.get_field_index(CHANGED_COLUMN), CHANGED_COLUMN, bumped)
        tmp = f.with_name(f".{f.name}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, f)
    return picked.to_pylist()


BAD_RATE = 0.4  # reports failing on the national bad night of `bench scale`


def site_figures(project: Path) -> dict:
    """Files and bytes of the latest site (GX's and ours), of its landing page, and the report ids its
    landing pages list (the national page, or the provinces' pages when the night is split by province)."""
    site = (project / "uncommitted" / "data_docs" / "local_site").resolve()
    ours = site / "nianbao"
    sizes = [(p.stat().st_size, ours in p.parents) for p in site.rglob("*") if p.is_file()]  # one stat a file
    regions = sorted((ours / "regions").glob("*.html"))
    listed: set[str] = set()
    for page in regions or [ours / "index.html"]:
        text = page.read_text(encoding="utf-8")
        start = text.index('<script type="application/json" id="data">') + len(
            '<script type="application/json" id="data">'
        )
        rows = json.loads(text[start : text.index("</script>", start)])["rows"]
        listed.update(r[0] for r in rows if r[9] != 2)  # [9] == 2: resolved, not failing
    return {
        "files": len(sizes),
        "bytes": sum(n for n, _ in sizes),
        "our_files": sum(1 for _, mine in sizes if mine),
        "our_bytes": sum(n for n, mine in sizes if mine),
        "landing_bytes": (ours / "index.html").stat().st_size,
        "province_pages": len(regions),
        "largest_province_bytes": max((p.stat().st_size for p in regions), default=0),
        "listed": listed,
    }


def bench_scale(
    n: int, work: Path, env: dict, changed: int = CHANGED, bad_rate: float = BAD_RATE, gate_repeats: int = GATE_REPEATS
) -> None:
    """One run, side by side: on n reports (2 % failing) the lower bound, GX's own floor and the full nightly;
    then `changed` reports corrected and the incremental nightly against the gate, twice: the first night
    after the full run turns every finding from 新增 to 持续 (every agency page changes), the second is a
    night like any later one (pages nothing changed for are kept); then a bad night of n
    reports with `bad_rate` failing: wall, peak, the site's files and bytes, and whether every failing
    report is listed. GX's floor is the bare import of great_expectations (a fresh interpreter, median of
    gate_repeats) plus GX's validation of the same suites in the full nightly (`checkpoint_s`: GX's
    checkpoint run and its pages, timed alone within the run)."""
    data = work / "corpus-scale"
    _synth(n, data, env, seed=400)
    lb = _checked("lower bound", measure(_child("lowerbound", str(data), str(work / "lb.parquet")), env))
    full = measure(_child("nightly", str(data), str(work / "gx.parquet")), env)
    r_full = _completed(f"full nightly on {n:,}", full)
    nights = []
    for seed in (401, 403):
        change_reports(data, changed, seed=seed)
        night = measure(_child("incremental", str(data), str(work / "gx.parquet")), env)
        result = _completed(f"incremental nightly on {n:,}", night)
        if (result.get("incremental") or {}).get("full", True):
            raise BenchError(f"the nightly after {changed:,} changes was not incremental: {result.get('incremental')}")
        nights.append((night, result))
    (first, r_first), (inc, r_inc) = nights
    lb_after = _checked("lower bound", measure(_child("lowerbound", str(data), str(work / "lb.parquet")), env))
    gate, bare = gate_and_bare_import(env, gate_repeats)
    shutil.rmtree(data)
    bad_data = work / "corpus-bad"
    _synth(n, bad_data, env, seed=402, error_rate=bad_rate)
    bad = measure(_child("nightly", str(bad_data), str(work / "gx.parquet")), env)
    r_bad = _completed(f"bad night on {n:,}", bad)
    failing = {r for r, _ in _pairs(work / "gx.parquet")}
    fig = site_figures(Path(env["NIANBAO_ROOT"]))
    shutil.rmtree(bad_data)

    gx_validation = (r_full.get("timings") or {}).get("checkpoint_s") or 0.0
    floor = bare.seconds + gx_validation
    widths = [34, 8, 8, 8, 24]
    say(
        f"== {n:,} reports: a full night, a night of {changed:,} changes, a bad night ({bad_rate:.0%} failing) ==",
        _row(["step", "wall s", "cpu s", "peak MB", "against"], widths),
        _row(
            ["lower bound (one DuckDB query)", f"{lb.seconds:.1f}", f"{lb.cpu_seconds:.1f}", f"{lb.peak_mb:.0f}", ""],
            widths,
        ),
        _row(
            [
                "GX floor: bare import + validation",
                f"{floor:.1f}",
                "",
                "",
                f"import {bare.seconds:.1f} + {gx_validation:.1f}",
            ],
            widths,
        ),
        _row(
            [
                "full nightly",
                f"{full.seconds:.1f}",
                f"{full.cpu_seconds:.1f}",
                f"{full.peak_mb:.0f}",
                f"{full.seconds / floor:.2f}x floor (1.3x)",
            ],
            widths,
        ),
        *(
            _row(
                [
                    f"nightly, {changed:,} changed, {when}",
                    f"{m.seconds:.1f}",
                    f"{m.cpu_seconds:.1f}",
                    f"{m.peak_mb:.0f}",
                    f"{m.seconds / gate.seconds:.2f}x gate (1.5x)",
                ],
                widths,
            )
            for when, m in (("1st", first), ("2nd", inc))
        ),
        _row(
            [
                f"gate, one report (median of {gate_repeats})",
                f"{gate.seconds:.1f}",
                f"{gate.cpu_seconds:.1f}",
                f"{gate.peak_mb:.0f}",
                "",
            ],
            widths,
        ),
        _row(
            [
                "lower bound after the changes",
                f"{lb_after.seconds:.1f}",
                f"{lb_after.cpu_seconds:.1f}",
                f"{lb_after.peak_mb:.0f}",
                f"night {inc.seconds / lb_after.seconds:.1f}x",
            ],
            widths,
        ),
        _row(
            [
                f"bad night, {bad_rate:.0%} failing",
                f"{bad.seconds:.1f}",
                f"{bad.cpu_seconds:.1f}",
                f"{bad.peak_mb:.0f}",
                "peak < 4,000 MB",
            ],
            widths,
        ),
        f"full nightly: GX's part {floor:.1f} s, nianbao's additions {full.seconds - floor:.1f} s "
        f"({(full.seconds - floor) / floor:.0%} of GX's part, target 30 %)",
        f"incremental: {r_inc.get('incremental')}; agency pages kept from the night before: "
        f"{(r_first.get('timings') or {}).get('agency_pages_linked')} (1st), "
        f"{(r_inc.get('timings') or {}).get('agency_pages_linked')} (2nd)",
        f"bad night: {len(failing):,} failing reports, {len(failing - fig['listed']):,} of them not listed; site "
        f"{fig['files']:,} files, {fig['bytes'] / 1e6:,.0f} MB (our pages {fig['our_files']:,} files, "
        f"{fig['our_bytes'] / 1e6:,.0f} MB); landing page {fig['landing_bytes'] / 1e6:.2f} MB, "
        f"{fig['province_pages']} province pages (largest {fig['largest_province_bytes'] / 1e6:.2f} MB)",
    )
    for name, res in (("full", r_full), ("1st incremental", r_first), ("2nd incremental", r_inc), ("bad night", r_bad)):
        t = res.get("timings") or {}
        steps = ("incremental_plan_s", "context_s", "prepare_s", "checkpoint_s", "findings_and_pages_s", "total_s")
        say(
            f"{name} timings: " + ", ".join(f"{k} {t.get(k)}" for k in steps),
            f"{name} outputs laps: " + ", ".join(f"{k} {v}" for k, v in (t.get("outputs") or {}).items()),
        )
    if failing - fig["listed"]:
        raise BenchError(f"the bad night's site does not list {len(failing - fig['listed']):,} failing reports")


def _sizes(text: str | None, default) -> tuple[int, ...]:
    if not text:
        return tuple(default)
    try:
        sizes = tuple(int(x.replace("_", "")) for x in text.split(","))
    except ValueError:
        raise ValueError(f"--sizes must be comma-separated report counts, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"--sizes must be positive, got {text!r}")
    return sizes


CROSSYEAR_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "crossyear.py"
TEXT_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "text_rules.py"


def bench_crossyear(sizes: str | None, script: Path = CROSSYEAR_SCRIPT) -> ExitCode:
    """R11/R12 recall on a synthetic series (benchmarks/crossyear.py; --sizes: agencies, default 3000);
    with TEXT_SCRIPT, the text rules' (R17–R19, R23, R24, R27, R30: benchmarks/text_rules.py)."""
    if not script.is_file():
        print(f"nianbao bench: {script} not found (a source checkout is needed)", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    agencies = _sizes(sizes, (3_000,))
    for n in agencies:
        subprocess.run([sys.executable, str(script), "--agencies", str(n)], check=False)
    return ExitCode.OK


def command(args) -> ExitCode:
    """`nianbao bench [synth|nightly|scale|gate|localise|crossyear|text|all] [--sizes ..] [--changed N]`."""
    if args.what in ("crossyear", "text"):
        try:
            return bench_crossyear(args.sizes, CROSSYEAR_SCRIPT if args.what == "crossyear" else TEXT_SCRIPT)
        except ValueError as exc:
            print(f"nianbao bench: {exc}", file=sys.stderr)
            return ExitCode.CONFIG_ERROR
    if args.what not in ("synth", "nightly", "scale", "gate", "localise", "all"):
        print(
            f"nianbao bench: unknown benchmark {args.what!r} "
            "(synth, nightly, scale, gate, localise, crossyear, text, all)",
            file=sys.stderr,
        )
        return ExitCode.CONFIG_ERROR
    try:
        synth_sizes = _sizes(args.sizes, (1_000_000,))
        if getattr(args, "changed", None) is not None and args.changed < 1:
            raise ValueError(f"--changed must be at least 1, got {args.changed}")
        nightly_sizes = _sizes(args.sizes, SIZES)
    except ValueError as exc:
        print(f"nianbao bench: {exc}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    work = Path(tempfile.mkdtemp(prefix="nianbao-bench-", dir=os.environ.get("NIANBAO_BENCH_DIR")))
    agree = True
    say(
        f"nianbao bench {args.what}: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start "
        "(other load inflates wall times; CPU times are steadier)"
    )
    try:
        env = isolated_project(work)
        if args.what == "synth":
            bench_synth(synth_sizes, work, env)
        if args.what in ("nightly", "all"):
            agree = bench_nightly(nightly_sizes, work, env)
        if args.what in ("gate", "all"):
            bench_gate(env)
        if args.what == "localise":
            bench_localise(_sizes(args.sizes, (100_000,)), work, env)
        if args.what == "scale":
            for n in synth_sizes:
                bench_scale(n, work, env, CHANGED if args.changed is None else args.changed)
    except BenchError as exc:
        print(f"nianbao bench: {exc}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not agree:
        print("nianbao bench: GX, the lower bound and the truth disagree (see above)", file=sys.stderr)
        return ExitCode.ERRORS
    return ExitCode.OK


def _main(argv: list[str]) -> int:
    """Child entry: `python -m nianbao.bench child lowerbound|nightly|incremental DATA OUT` prints one JSON line."""
    steps = {"lowerbound": child_lowerbound, "nightly": child_nightly, "incremental": child_incremental}
    if len(argv) != 4 or argv[0] != "child" or argv[1] not in steps:
        print("usage: python -m nianbao.bench child lowerbound|nightly|incremental DATA OUT", file=sys.stderr)
        return 2
    step = steps[argv[1]]
    print(json.dumps(step(argv[2], argv[3]), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    from .exitcodes import exit_now

    exit_now(_main(sys.argv[1:]))  # as the CLI exits: no interpreter teardown, for the lower bound and GX alike
