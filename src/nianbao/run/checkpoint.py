"""One run of a checkpoint: data checked, loaded on the engine, validated by GX, then findings,
history and the site written, and the run published in one step.

What a run writes (RUN = UTC time + checkpoint name, sortable):
  uncommitted/runs/RUN/findings.parquet  one row per report and failed rule (findings.FINDINGS_SCHEMA)
  uncommitted/runs/RUN/resolved.parquet  findings of the previous comparable run that are gone now
  uncommitted/runs/RUN/diagnoses.parquet the cells to correct in each report that failed an arithmetic
                                         rule (localise.DIAGNOSES_SCHEMA), one row per solution and cell
  uncommitted/runs/RUN/run_results.json  counts by rule, severity and history, timings, versions, exit code
  uncommitted/runs/RUN/report_hashes.parquet  a nightly's content hash of every report, what the next
                                         nightly compares to validate only what changed (nianbao.incremental)
  uncommitted/runs/RUN/report_files.parquet   the data files those hashes were summed from, and their
                                         entries in uncommitted/report_sums/SCOPE/ (nianbao.report_sums)
  uncommitted/history/SCOPE/events-RUN.parquet  this run's rows of the history across every run of its
                                         scope (nianbao.ledger); kept when run folders are pruned
  uncommitted/runs/latest -> RUN and uncommitted/runs/latest.json: the latest completed run
  uncommitted/data_docs/local_site -> builds/RUN: GX's site plus our pages; the landing page for auditors
  is uncommitted/data_docs/local_site/nianbao/index.html (RunOutcome.site_index). A gate run keeps its
  site in uncommitted/runs/RUN/site/ and its draft as a data folder in uncommitted/runs/RUN/data/.
A run is written under RUN.partial and a site under builds/RUN.partial, then renamed and the symlink
swapped with os.replace, so a run that dies halfway leaves the previous site and findings intact.
"""

from __future__ import annotations

import dataclasses
import fcntl
import gc
import json
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import datafolder, engines, incremental, ledger, localise, page_cache, paths, report_sums, roster
from .. import findings as F
from .. import rules as R
from .. import schema as S
from .. import waivers as W
from ..exitcodes import ExitCode, exit_code
from ..faults import crash_point
from . import history, site
from .errors import EXIT_ZH, RunError
from .outputs import Outputs, peak_mb, write_outputs
from .selection import Selection, parse_selection

# A run whose findings query and GX disagree, or that met an expectation it does not know, is a
# configuration error, never a pass.
CONFIG_PROBLEMS = ("findings-disagree-with-gx", "unknown-expectation")


@dataclass
class RunOutcome:
    exit_code: ExitCode
    findings: pd.DataFrame
    run_dir: Path | None
    site_index: Path | None
    summary: dict
    resolved: pd.DataFrame = field(default_factory=F.empty)
    message: str = ""
    diagnoses: pa.Table = field(default_factory=localise.DIAGNOSES_SCHEMA.empty_table)


@dataclass(frozen=True)
class RunPlan:
    """What one run validates, where, and where it writes."""

    checkpoint: str
    data_dir: Path
    snapshot: datafolder.Snapshot  # the one view of the data folder the whole run reads
    data_key: str
    engine: str
    db_url: str | None
    selection: Selection
    run_name: str | None
    run_id: str
    run_tmp: Path
    roster: str | None = None  # `--roster FILE`; else the data folder's roster.csv (nianbao.roster)
    full_refresh: bool = False  # `--full-refresh`: validate every report even when few changed

    @property
    def incremental(self) -> bool:
        """Only the default nightly (no --select) validates what changed; a gate or a selection is full."""
        return self.checkpoint == "nightly" and not self.selection.tokens()

    @property
    def shared_site(self) -> bool:
        """The nightly site replaces the auditors' site; a gate keeps its own in its run folder."""
        return self.checkpoint != "gate"


def new_run_id(checkpoint: str, now: datetime | None = None) -> str:
    """Sortable, unique run id: UTC time to the microsecond plus the checkpoint name."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{checkpoint}"


@contextmanager
def run_lock():
    """One run at a time per checkout: the site, GX's result store and the history are shared."""
    paths.UNCOMMITTED.mkdir(parents=True, exist_ok=True)
    with open(paths.UNCOMMITTED / ".run.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("另一个 nianbao 运行正在进行,等待其结束……", file=sys.stderr)
            fcntl.flock(fh, fcntl.LOCK_EX)
        remove_stale_runs()
        yield


def remove_stale_runs() -> None:
    """Remove the RUN.partial folders of killed runs; the caller holds the run lock, so none is being written."""
    for stale in paths.RUNS_DIR.glob("*.partial"):
        shutil.rmtree(stale, ignore_errors=True)


def check_data(snapshot: datafolder.Snapshot) -> int:
    """Number of reports in the snapshot; RunError(INPUT_UNREADABLE) when ids or levels would be unsafe."""
    if not snapshot.files(datafolder.REPORTS):
        raise RunError(ExitCode.INPUT_UNREADABLE, f"数据目录 {snapshot.data_dir} 中没有报告清单(reports/*.parquet)")
    bad = datafolder.unsafe_row(snapshot)
    if bad:
        raise RunError(
            ExitCode.INPUT_UNREADABLE,
            f"{bad[0]}:报告编号 {bad[1]!r} 不符合格式 R+16 位十六进制,或行政层级不在 "
            f"{'/'.join(S.LEVELS)} 之中;这样的值不能进入数据文档",
        )
    return datafolder.count_reports(snapshot)


def _versions() -> dict:
    from importlib.metadata import version

    import duckdb
    import great_expectations as gx
    import pyarrow as pa

    return {
        "nianbao": version("nianbao"),
        "great_expectations": gx.__version__,
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
        "duckdb": duckdb.__version__,
        "python": platform.python_version(),
    }


def _timed(fn, *args, **kwargs):
    """fn's result and its wall time in seconds."""
    start = time.perf_counter()
    return fn(*args, **kwargs), round(time.perf_counter() - start, 3)


def unfreezing(fn, *args, **kwargs):
    """fn(...), then give what execute froze (gc.freeze) back to the collector: a process may run again."""
    try:
        return fn(*args, **kwargs)
    finally:
        gc.unfreeze()


def failed_severities(findings: Iterable[tuple[str, str]]) -> set[str]:
    """Severities that count against a run, from each finding's (status, severity): a failed rule's own,
    and a warning for an identity not assessable."""
    pairs = set(findings)
    return {severity for status, severity in pairs if status == F.FAILED} | {
        R.WARN for status, _ in pairs if status == F.NOT_ASSESSABLE
    }


def _exit_for(outputs: Outputs) -> ExitCode:
    """Exit code from the selected rules' severities and raised expectations (pure exit_code()); a waived
    finding never counts."""
    f = W.active(outputs.findings)
    disagree = any(p["code"] in CONFIG_PROBLEMS for p in outputs.collected.problems)
    return exit_code(
        failed_severities=failed_severities(zip(f.status, f.severity)),
        raised=bool(outputs.collected.raised),
        config_error=disagree,
    )


def _plan_and_prepare(plan: RunPlan, previous: Path | None, summary: dict):
    """The incremental plan and the engine's data for what it selects: (plan, prepared, seconds to prepare).

    A night known to be full before the data is read hashes its reports beside the engine's work; an
    incremental one first (the hashes say what to load), and the engine takes the agency keys made
    with them."""
    where = plan.selection.where()

    def prepare(where: dict | None, keys=None):
        return _timed(
            engines.prepare,
            plan.engine,
            plan.snapshot,
            db_url=plan.db_url,
            where=where,
            work_dir=plan.run_tmp / "engine",
            agency_keys=keys,
        )

    if not plan.incremental:  # a gate or a selection validates what it selects
        return (None, *prepare(where))
    t = time.perf_counter()
    from importlib.metadata import version

    state = incremental.state_hash(version("nianbao"))  # not _versions(): it imports GX, seconds
    summary[incremental.STATE_KEY] = state
    reason, before = incremental.full_reason(previous, state, full_refresh=plan.full_refresh)
    if plan.engine != "duckdb":  # the reports each asset holds are read from DuckDB's tables: no hashes
        # recorded (_hashes_with_suites), and the next nightly is full too
        reason = reason or f"增量运行只支持 duckdb 引擎(本次为 {plan.engine})"
        return (incremental.Plan(True, reason, incremental.HASHES_SCHEMA.empty_table()), *prepare(where))
    # The sums kept per data file (nianbao.report_sums): --full-refresh reads every file again.
    sums = (
        paths.UNCOMMITTED / "report_sums" / ledger.scope_id(summary["scope"]),
        None if plan.full_refresh else previous,
    )
    if reason is not None:
        with ThreadPoolExecutor(1, thread_name_prefix="nianbao-hashes") as pool:
            hashing = pool.submit(incremental.report_hashes, plan.snapshot, *sums)
            prepared = prepare(where)
            hashed = hashing.result()
            inc = incremental.Plan(True, reason, hashed.hashes, files=hashed.files, files_record=hashed.files_record)
        summary["timings"]["incremental_plan_s"] = round(time.perf_counter() - t, 3)
        return (inc, *prepared)
    hashed = incremental.report_hashes(plan.snapshot, *sums, before)
    inc = incremental.compare(hashed, previous, before)
    summary["timings"]["incremental_plan_s"] = round(time.perf_counter() - t, 3)
    if not inc.full:  # the reports to validate again; the others' findings are carried
        where = {**(where or {}), "report_ids": list(inc.revalidate)}
    return (inc, *prepare(where, hashed.agency_keys))


def _context_and_data(plan: RunPlan, summary: dict, t0: float, previous: Path | None):
    """The incremental plan, the GX context and the data bound to it: the plan is made and the engine
    loads the data while GX is imported (seconds of Python; DuckDB works outside the GIL)."""
    with ThreadPoolExecutor(1, thread_name_prefix="nianbao-prepare") as pool:
        preparing = pool.submit(_plan_and_prepare, plan, previous, summary)
        from ..context import ConfigurationError, get_context  # after the cheap checks: GX takes seconds

        try:
            ctx = get_context()
        except ConfigurationError as exc:
            raise RunError(ExitCode.CONFIG_ERROR, f"GX 配置错误:{exc}") from exc
        summary["timings"]["context_s"] = round(time.perf_counter() - t0, 3)
        t = time.perf_counter()
        try:
            inc, prepared, summary["timings"]["prepare_s"] = preparing.result()
            attached = engines.bind(ctx, prepared)
        except engines.DataFolderError as exc:
            raise RunError(ExitCode.INPUT_UNREADABLE, f"数据目录无法使用:{exc}") from exc
        except ValueError as exc:
            raise RunError(ExitCode.CONFIG_ERROR, f"引擎 {plan.engine}:{exc}") from exc
    summary["timings"]["attach_wait_s"] = round(time.perf_counter() - t, 3)
    return inc, ctx, attached


def _load_checkpoint(ctx, plan: RunPlan):
    """The saved checkpoint of this name on this engine, refused when two of its validations would collide."""
    stored = engines.checkpoint_name(plan.checkpoint, plan.engine)
    try:
        checkpoint = ctx.checkpoints.get(stored)
    except Exception as exc:
        raise RunError(ExitCode.CONFIG_ERROR, f"无法载入检查点 checkpoints/{stored}.json:{exc}") from exc
    seen = set()
    for vd in checkpoint.validation_definitions:
        key = (vd.suite.name, vd.data.data_asset.name)
        if key in seen:
            raise RunError(ExitCode.CONFIG_ERROR, f"检查点 {checkpoint.name}:{key} 有两个验证定义,结果会互相覆盖")
        seen.add(key)
    return checkpoint


def execute(plan: RunPlan, extra: dict | None = None) -> RunOutcome:
    """Validate the plan's data with its checkpoint, write findings, history and the site. Caller holds the lock.

    The nightly site replaces uncommitted/data_docs/local_site; a gate run keeps its own site in its run
    folder (an agency's draft is not the auditors' business) and leaves nothing in GX's shared store.
    """
    t0 = time.perf_counter()
    run_scope = history.scope(plan.checkpoint, plan.data_key, plan.selection.tokens())
    summary: dict[str, Any] = {
        "run_id": plan.run_id,
        "checkpoint": plan.checkpoint,
        "completed": False,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_dir": str(plan.data_dir),
        "engine": plan.engine,
        "select": plan.selection.tokens(),
        "scope": run_scope,
        "timings": {},
        "gx": {},
        **(extra or {}),
    }
    if plan.checkpoint not in engines.CHECKPOINTS:
        raise RunError(
            ExitCode.CONFIG_ERROR, f"没有名为 {plan.checkpoint!r} 的检查点;可用:{', '.join(engines.CHECKPOINTS)}"
        )
    try:  # before GX and the data: a bad waivers file is a configuration error, found in a second
        waivers = W.load()
    except W.WaiverError as exc:
        raise RunError(ExitCode.CONFIG_ERROR, str(exc)) from exc
    summary["snapshot"] = plan.snapshot.id
    summary["reports_in_data"] = check_data(plan.snapshot)
    previous = history.previous_run(run_scope)
    inc, ctx, attached = _context_and_data(plan, summary, t0, previous)
    # Nothing to check is no pass (the site and `latest` stay as they are); a night without a change has
    # nothing to validate again and every finding carried.
    if not attached.prepared.reports and (inc is None or inc.full):
        attached.prepared.close()
        raise RunError(ExitCode.INPUT_UNREADABLE, plan.selection.nothing_to_check(plan.data_dir))
    # What exists now (GX's modules and context, the engine's data) lives to the end of the run: moved
    # out of the collector's reach, so that the hundreds of thousands of objects a bad night creates do
    # not make every collection walk it again (measured: 40 % of building its findings). Unfrozen by
    # unfreezing when the run ends.
    gc.freeze()
    summary["timings"]["peak_mb_after_prepare"] = peak_mb()
    checkpoint = _load_checkpoint(ctx, plan)
    summary["previous_run_id"] = previous.name if previous else None
    summary["removed_old_gx_results"] = site.prune_gx_results(ctx, site.KEEP_RUNS_IN_GX - 1)
    staging = site.stage(plan.run_id) if plan.shared_site else plan.run_tmp / "site"
    import great_expectations as gx  # imported by get_context() already, while the engine prepared the data

    gx_run_id = gx.RunIdentifier(
        run_name=plan.run_name or f"{plan.checkpoint}-{plan.run_id[:8]}", run_time=datetime.now(UTC)
    )
    summary["gx"].update(run_name=gx_run_id.run_name, run_time=str(gx_run_id.run_time))
    t = time.perf_counter()
    try:
        # A gate's site is its own: its index lists this run's results, not the nightly ones.
        with site.site_at(ctx, staging, None if plan.shared_site else len(R.SUITES)):
            result = checkpoint.run(run_id=gx_run_id)
            gx_links = site.validation_pages(ctx, result, staging)
        hashes = _hashes_with_suites(inc, attached.prepared)
    finally:
        engines.release(ctx, attached.prepared)
        if not plan.shared_site:
            site.forget_gx_results(ctx, gx_run_id)
    summary["timings"]["checkpoint_s"] = round(time.perf_counter() - t, 3)
    carried = incremental.carried_findings(inc, plan.run_id) if inc is not None else F.empty()
    covered = None if inc is None or inc.full else incremental.covered(hashes)
    files = inc.files if inc is not None and hashes is not None else None
    if hashes is not None:  # written now; the outputs hold only what the pages' keys read (a bad night's peak)
        pq.write_table(hashes, plan.run_tmp / incremental.HASHES_FILE)
        inc = dataclasses.replace(inc, hashes=inc.hashes.select(page_cache.CONTENT_COLUMNS), previous_hashes=None)
        hashes = None
    outputs = write_outputs(
        result,
        run_id=plan.run_id,
        data=plan.snapshot,
        selected=plan.selection.rule_selected,
        previous=previous,
        site_dir=staging,
        summary=summary,
        violations=attached.violations,
        gx_links=gx_links,
        before_landing=lambda: crash_point("pages"),
        waivers=waivers,
        scope=run_scope,
        roster_file=roster.find(plan.data_dir, plan.roster) if plan.shared_site else None,
        deadlines=plan.shared_site,  # R28 from the reports' own dates; a draft has none
        derived_values=attached.prepared.derived_values,
        carried=carried,
        carried_diagnoses=None if inc is None or inc.full else incremental.carried_diagnoses(inc, plan.run_id),
        reports_covered=covered,
        pages=_page_cache(plan, summary, inc, previous),
    )
    if inc is not None:
        summary["incremental"] = inc.summary(len(carried))
    summary["derived_assets"] = attached.prepared.derived  # year pairs: reports linked, ambiguous links
    carried_keys = set(zip(carried.report_id.tolist(), carried.rule_id.tolist()))
    return _publish(plan, summary, outputs, staging, t0, carried_keys, files)


def _page_cache(
    plan: RunPlan, summary: dict, inc: incremental.Plan | None, previous: Path | None
) -> page_cache.PageCache | None:
    """The previous run's agency pages and their keys, for a nightly (a gate's site is its own). Its pages
    are linked when the site is still that run's build; --full-refresh writes every page again."""
    if inc is None or not plan.shared_site:
        return None
    before = page_cache.read(previous)
    site_now = paths.SITE_DIR.resolve() if paths.SITE_DIR.exists() else None
    linkable = bool(before) and previous is not None and site_now is not None and site_now.name == previous.name
    return page_cache.PageCache(
        base=summary[incremental.STATE_KEY],
        now=summary["started_at"],
        hashes=page_cache.content_hashes(inc.hashes),
        before=before,
        pages_before=site_now / site.PAGES_DIR / "agencies" if linkable and not plan.full_refresh else None,
    )


def _hashes_with_suites(inc: incremental.Plan | None, prepared) -> pa.Table | None:
    """The report hashes the next nightly compares, with the suites each report is in (DuckDB only:
    another engine's run records none, and the next nightly is full)."""
    if inc is None or prepared.engine != "duckdb":
        return None
    return incremental.with_suites(
        inc.hashes, incremental.suite_members(prepared.keepalive), incremental.carried_suites(inc)
    )


def _publish(
    plan: RunPlan,
    summary: dict,
    outputs: Outputs,
    staging: Path,
    t0: float,
    carried: set[tuple[str, str]] = frozenset(),
    hashed_files: pa.Table | None = None,
) -> RunOutcome:
    """Write the run's files under RUN.partial, rename it into place and swap the site and `latest`."""
    code = _exit_for(outputs)
    summary.update(
        exit_code=int(code),
        exit_name=code.name,
        exit_zh=EXIT_ZH[code],
        completed=True,
        raised=outputs.collected.raised,
        problems=outputs.collected.problems + outputs.problems,
        expectations=outputs.collected.expectations,
        versions=_versions(),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    summary["timings"]["total_s"] = round(time.perf_counter() - t0, 3)
    summary["timings"]["peak_mb"] = peak_mb()
    run_dir = paths.RUNS_DIR / plan.run_id
    site_dir = paths.SITE_DIR if plan.shared_site else run_dir / "site"
    summary["site"] = {
        "landing_page": str(site_dir / site.PAGES_DIR / "index.html"),
        "gx_index": str(site_dir / "index.html"),
    }
    shutil.rmtree(plan.run_tmp / "engine", ignore_errors=True)  # the engine's working copy, not a result
    F.write(outputs.findings, plan.run_tmp / "findings.parquet", carried)
    if hashed_files is not None:
        pq.write_table(hashed_files, plan.run_tmp / report_sums.FILES_FILE)
    F.write(outputs.resolved, plan.run_tmp / "resolved.parquet")
    pq.write_table(outputs.diagnoses, plan.run_tmp / "diagnoses.parquet")
    if outputs.page_keys is not None:
        pq.write_table(outputs.page_keys, plan.run_tmp / page_cache.PAGES_FILE)
    write_json(plan.run_tmp / "run_results.json", summary)
    crash_point("publish")
    plan.run_tmp.rename(run_dir)
    # After the run is in place: a run that died before has no history rows; once written, never rewritten.
    ledger.write_events(summary["scope"], plan.run_id, outputs.events)
    if outputs.history_state is not None:  # after the events: a state file stands for events that exist
        ledger.write_state(summary["scope"], plan.run_id, outputs.history_state)
    if plan.shared_site:
        site.publish(staging, plan.run_id)
    else:
        site.prune_gate_sites()
    history.point_latest(plan.run_id)
    return RunOutcome(
        code,
        outputs.findings,
        run_dir,
        Path(summary["site"]["landing_page"]),
        summary,
        outputs.resolved,
        diagnoses=outputs.diagnoses,
    )


def write_json(path: Path, doc: dict) -> Path:
    """A JSON file, deterministic (sorted keys, Chinese as is)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def failed_outcome(exc: RunError, run_id: str, run_tmp: Path, extra: dict | None = None) -> RunOutcome:
    """Record a run that stopped early (no site swap, latest untouched) and return its outcome."""
    summary = {
        "run_id": run_id,
        "completed": False,
        "exit_code": int(exc.code),
        "exit_name": exc.code.name,
        "exit_zh": EXIT_ZH[exc.code],
        "error": str(exc),
        **(extra or {}),
    }
    run_dir = paths.RUNS_DIR / run_id
    if not run_dir.exists():  # it exists only when the run failed after being published
        run_tmp.mkdir(parents=True, exist_ok=True)
        write_json(run_tmp / "run_results.json", summary)
        run_tmp.rename(run_dir)
    return RunOutcome(exc.code, F.empty(), run_dir, None, summary, message=str(exc))


def crashed(exc: Exception) -> RunError:
    """A GX or engine crash: a runtime error, recorded, never a pass."""
    return RunError(ExitCode.CONFIG_ERROR, f"运行出错:{type(exc).__name__}: {exc}")


def run_checkpoint(
    name: str = "nightly",
    *,
    data_dir=None,
    engine: str | None = None,
    db_url: str | None = None,
    select=(),
    run_name: str | None = None,
    roster_file: str | None = None,
    full_refresh: bool = False,
) -> RunOutcome:
    """Run a checkpoint over a data folder (default data/) on an engine (default: the project's) and
    return its outcome; never exits. The default nightly validates only what changed since the last
    (nianbao.incremental) unless full_refresh."""
    run_id = new_run_id(name)
    run_tmp = paths.RUNS_DIR / f"{run_id}.partial"
    with run_lock():
        run_tmp.mkdir(parents=True, exist_ok=True)
        try:
            data = Path(data_dir).resolve() if data_dir else paths.DATA_DIR
            selection = parse_selection(select)
            with datafolder.reading(data) as snapshot:  # what ingests commit meanwhile is not this run's
                plan = RunPlan(
                    name,
                    data,
                    snapshot,
                    history.data_key(data),
                    engines.resolve_engine(engine),
                    engines.resolve_db_url(db_url),
                    selection,
                    run_name,
                    run_id,
                    run_tmp,
                    roster_file,
                    full_refresh,
                )
                return unfreezing(execute, plan)
        except RunError as exc:
            return failed_outcome(exc, run_id, run_tmp, {"checkpoint": name})
        except Exception as exc:
            return failed_outcome(
                crashed(exc), run_id, run_tmp, {"checkpoint": name, "traceback": traceback.format_exc()}
            )
