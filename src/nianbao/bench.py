"""`nianbao bench [synth|nightly|incremental|gate|localise|crossyear|text|all] [--sizes 100000,1000000]`: figures,
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
        result = nightly.result()
        if not result.get("completed"):
            raise BenchError(f"nightly on {name}: {result.get('message') or nightly.stderr[-3000:]}")
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
    widths = [16, 12, 9, 8, 8, 11, 10, 10, 10, 8]
    head = ["corpus", "localise", "wall s", "cpu s", "MB", "localise s", "reports", "unique", "ambiguous", "solver"]
    say("== nightly with and without the error localisation (DuckDB) ==", _row(head, widths))
    for n in sizes:
        for name, kind in ((f"{n:,}", {}), (f"{n:,} 坏夜", BAD_NIGHT)):
            data = work / "corpus-localise"
            _synth(n, data, env, seed=300, **kind)
            for mode in ("off", "on"):
                m = measure(_child("nightly", str(data), str(work / "gx.parquet")), {**env, "NIANBAO_LOCALISE": mode})
                r = m.result()
                if not r.get("completed"):
                    raise BenchError(f"nightly on {name}: {r.get('message') or m.stderr[-3000:]}")
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
    return gate


CHANGED = 1_000  # reports corrected between the two nights of `bench incremental`
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


def _night_row(name: str, m: Measured, widths: list[int]) -> str:
    return _row([name, f"{m.seconds:.1f}", f"{m.cpu_seconds:.1f}", f"{m.peak_mb:.0f}"], widths)


def bench_incremental(sizes, work: Path, env: dict, changed: int = CHANGED, gate_repeats: int = GATE_REPEATS) -> None:
    """Per size: synth, a full nightly, `changed` reports corrected, then the incremental nightly, the CLI
    gate on one report and the lower bound on the same data, side by side. Fails (BenchError) only when
    the second night was not incremental or did not complete."""
    for n in sizes:
        data = work / f"corpus-incremental-{n}"
        _synth(n, data, env, seed=400)
        full = measure(_child("nightly", str(data), str(work / "gx.parquet")), env)
        r_full = full.result()
        if not r_full.get("completed"):
            raise BenchError(f"full nightly on {n:,}: {r_full.get('message') or full.stderr[-3000:]}")
        change_reports(data, changed, seed=401)
        inc = measure(_child("incremental", str(data), str(work / "gx.parquet")), env)
        r = inc.result()
        facts = r.get("incremental") or {}
        if not r.get("completed"):
            raise BenchError(f"incremental nightly on {n:,}: {r.get('message') or inc.stderr[-3000:]}")
        if facts.get("full", True):
            raise BenchError(f"the nightly after {changed:,} changes on {n:,} was full: {facts.get('reason')!r}")
        lb = _checked("lower bound", measure(_child("lowerbound", str(data), str(work / "lb.parquet")), env))
        gate = bench_gate(env, gate_repeats)
        widths = [22, 8, 8, 8]
        say(
            f"== incremental nightly: {n:,} reports, {changed:,} changed (DuckDB) ==",
            _row(["step", "wall s", "cpu s", "peak MB"], widths),
            _night_row("incremental nightly", inc, widths),
            _night_row("full nightly", full, widths),
            _night_row(f"gate (median of {gate_repeats})", gate, widths),
            _night_row("lower bound", lb, widths),
            f"incremental / gate: {inc.seconds / gate.seconds:.2f}x wall, {inc.cpu_seconds / gate.cpu_seconds:.2f}x "
            f"cpu (target 1.5x); incremental / full: {inc.seconds / full.seconds:.2f}x wall, "
            f"{inc.cpu_seconds / full.cpu_seconds:.2f}x cpu",
            f"incremental: changed {facts.get('changed')}, deleted {facts.get('deleted')}, "
            f"revalidated {facts.get('revalidated')}, carried_findings {facts.get('carried_findings')}; "
            f"reports_validated {r.get('reports_validated')}",
        )
        for name, res in (("incremental", r), ("full", r_full)):
            t = res.get("timings") or {}
            steps = ("incremental_plan_s", "context_s", "prepare_s", "attach_wait_s", "checkpoint_s")
            steps += ("findings_and_pages_s", "total_s")
            say(
                f"{name} timings: " + ", ".join(f"{k} {t.get(k)}" for k in steps),
                f"{name} outputs laps: " + ", ".join(f"{k} {v}" for k, v in (t.get("outputs") or {}).items()),
            )
        shutil.rmtree(data)
    say(
        "wall s, cpu s, peak MB: the whole child process; timings: run_results.json of each night "
        "(prepare_s runs in a thread beside context_s; outputs laps add up to findings_and_pages_s)"
    )


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
    """`nianbao bench [synth|nightly|incremental|gate|localise|crossyear|text|all] [--sizes ...] [--changed N]`."""
    if args.what in ("crossyear", "text"):
        try:
            return bench_crossyear(args.sizes, CROSSYEAR_SCRIPT if args.what == "crossyear" else TEXT_SCRIPT)
        except ValueError as exc:
            print(f"nianbao bench: {exc}", file=sys.stderr)
            return ExitCode.CONFIG_ERROR
    if args.what not in ("synth", "nightly", "incremental", "gate", "localise", "all"):
        print(
            f"nianbao bench: unknown benchmark {args.what!r} "
            "(synth, nightly, incremental, gate, localise, crossyear, text, all)",
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
        if args.what == "incremental":
            bench_incremental(synth_sizes, work, env, CHANGED if args.changed is None else args.changed)
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
