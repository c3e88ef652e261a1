"""`nianbao run | gate | demo`: the checkpoints, dbt-like selection, findings, history and the site.

Exit codes (nianbao.exitcodes.ExitCode, from the one pure function exit_code()):
  0 OK                every selected expectation passed
  1 WARNINGS          only warn-severity rules failed or identities were not assessable: publication allowed
  2 ERRORS            an error-severity rule failed, or an expectation raised: publication blocked
  3 INPUT_UNREADABLE  input could not be read or parsed: the gate's draft rejected or missing a statutory
                      table, a data folder without reports, ids or levels that fail their format check
  4 CONFIG_ERROR      configuration or runtime error: unknown checkpoint, bad --select, a suite that lost
                      expectations, GX crashing, the findings query and GX disagreeing on failing rows
GX marks a checkpoint unsuccessful when only warnings failed, so the code is computed from the rules'
severities and from expectations that raised, never from GX's `success`.

Selection (`--select`, dbt-like; same key ORs, different keys AND): `rule:R1` or bare `R1` (a rule id,
a prefix before a dot, or a glob such as `R3.withheld_*`), `severity:error|warn`, `region:江苏省` (prefix),
`year:2023`, `agency:洪泽` (substring), `report:R0123...`. Region, year, agency and report filter the rows
GX validates; rule and severity choose which findings count (GX still evaluates whole suites,
because a suite is validated as saved).

What a run writes (RUN = UTC time + checkpoint name, sortable):
  uncommitted/runs/RUN/findings.parquet  one row per report and failed rule (findings.FINDINGS_SCHEMA)
  uncommitted/runs/RUN/resolved.parquet  findings of the previous comparable run that are gone now
  uncommitted/runs/RUN/run_results.json  counts by rule, severity and history, timings, versions, exit code
  uncommitted/runs/latest -> RUN and uncommitted/runs/latest.json: the latest completed run
  uncommitted/data_docs/local_site -> builds/RUN: GX's site plus our pages; the landing page for auditors
  is uncommitted/data_docs/local_site/nianbao/index.html (RunOutcome.site_index). A gate run keeps its
  site in uncommitted/runs/RUN/site/ and its draft as a data folder in uncommitted/runs/RUN/data/.
A run is written under RUN.partial and a site under builds/RUN.partial, then renamed and the symlink
swapped with os.replace, so a run that dies halfway leaves the previous site and findings intact.
"""
from __future__ import annotations

import fcntl
import fnmatch
import gc
import json
import os
import platform
import shutil
import signal
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import collector, engines
from . import findings as F
from . import paths as P
from . import report
from . import rules as R
from . import schema as S
from .exitcodes import ExitCode, exit_code

CHECKPOINTS = ("nightly", "gate")
DEFAULT_ENGINE = "duckdb"
UPDATE_DOCS = "update_data_docs"
PAGES_ACTION = "nianbao_pages"
KEEP_RUNS_IN_GX = 20            # validation results kept in GX's store (and pages in the site)
CRASH_ENV = "NIANBAO_TEST_CRASH_AT"   # test hook: SIGKILL this process at a named point
EXIT_ZH = {ExitCode.OK: "全部通过", ExitCode.WARNINGS: "只有警告,允许发布", ExitCode.ERRORS: "存在错误级问题,禁止发布",
           ExitCode.INPUT_UNREADABLE: "输入无法读取或解析", ExitCode.CONFIG_ERROR: "配置或运行错误"}


class RunError(RuntimeError):
    """A run that cannot proceed; carries its exit code and a Chinese message naming the cause."""

    def __init__(self, code: ExitCode, message: str):
        super().__init__(message)
        self.code = code


# --- selection ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Selection:
    rules: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    agencies: tuple[str, ...] = ()
    report_ids: tuple[str, ...] = ()

    def rule_selected(self, rule_id: str, severity: str) -> bool:
        """Whether an expectation counts in this run."""
        if self.severities and severity not in self.severities:
            return False
        return not self.rules or any(_rule_matches(rule_id, s) for s in self.rules)

    def where(self) -> dict | None:
        """Row filter for engines.attach, or None for every report."""
        w = {k: list(v) for k, v in (("region", self.regions), ("year", self.years), ("agency", self.agencies),
                                     ("report_ids", self.report_ids)) if v}
        return w or None

    def tokens(self) -> list[str]:
        return sorted([f"rule:{r}" for r in self.rules] + [f"severity:{s}" for s in self.severities]
                      + [f"region:{r}" for r in self.regions] + [f"year:{y}" for y in self.years]
                      + [f"agency:{a}" for a in self.agencies] + [f"report:{r}" for r in self.report_ids])


def _rule_matches(rule_id: str, selector: str) -> bool:
    return rule_id == selector or rule_id.startswith(selector + ".") or fnmatch.fnmatchcase(rule_id, selector)


SELECT_KEYS = ("rule", "severity", "region", "year", "agency", "report")


def parse_selection(tokens) -> Selection:
    """Parse --select tokens; RunError(CONFIG_ERROR) naming the token that is wrong."""
    found: dict[str, list] = {k: [] for k in SELECT_KEYS}
    for token in tokens or ():
        key, sep, value = str(token).partition(":")
        if not sep:
            key, value = "rule", token
        value = value.strip()
        if key not in found or not value:
            raise RunError(ExitCode.CONFIG_ERROR,
                           f"--select {token!r}:无法识别,应为 {'、'.join(k + ':…' for k in SELECT_KEYS)} 或规则编号")
        if key == "rule" and not any(_rule_matches(r.id, value) for r in R.RULES):
            raise RunError(ExitCode.CONFIG_ERROR, f"--select {token!r}:规则目录中没有匹配的规则")
        if key == "severity" and value not in (R.ERROR, R.WARN):
            raise RunError(ExitCode.CONFIG_ERROR, f"--select {token!r}:级别只能是 error 或 warn")
        if key == "year":
            if not value.isdigit():
                raise RunError(ExitCode.CONFIG_ERROR, f"--select {token!r}:年度应为四位数字")
            value = int(value)
        if key == "report" and not S.REPORT_ID_PATTERN.match(value):
            raise RunError(ExitCode.CONFIG_ERROR, f"--select {token!r}:报告编号格式应为 R + 16 位十六进制")
        found[key].append(value)
    return Selection(tuple(found["rule"]), tuple(found["severity"]), tuple(found["region"]), tuple(found["year"]),
                     tuple(found["agency"]), tuple(found["report"]))


# --- the outcome ----------------------------------------------------------------------------------

@dataclass
class RunOutcome:
    exit_code: ExitCode
    findings: pd.DataFrame
    run_dir: Path | None
    site_index: Path | None
    summary: dict
    resolved: pd.DataFrame = field(default_factory=F.empty)
    message: str = ""


def _versions() -> dict:
    import duckdb
    import great_expectations as gx

    from importlib.metadata import version
    return {"nianbao": version("nianbao"), "great_expectations": gx.__version__, "pandas": pd.__version__,
            "pyarrow": pa.__version__, "duckdb": duckdb.__version__, "python": platform.python_version()}


def new_run_id(checkpoint: str, now: datetime | None = None) -> str:
    """Sortable, unique run id: UTC time to the microsecond plus the checkpoint name."""
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{checkpoint}"


@contextmanager
def _run_lock():
    """One run at a time per checkout: the site, GX's result store and the history are shared."""
    P.UNCOMMITTED.mkdir(parents=True, exist_ok=True)
    with open(P.UNCOMMITTED / ".run.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("另一个 nianbao 运行正在进行,等待其结束……", file=sys.stderr)
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _crash_point(name: str) -> None:
    """Test hook: die here like a killed process (no cleanup, no finally) when asked to."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


# --- data checks before GX sees anything -------------------------------------------------------------

def check_data(data_dir: Path) -> int:
    """Number of reports in data_dir; RunError(INPUT_UNREADABLE) when ids or levels would be unsafe."""
    import duckdb

    if not F.table_glob(data_dir, "reports"):
        raise RunError(ExitCode.INPUT_UNREADABLE, f"数据目录 {data_dir} 中没有报告清单(reports/*.parquet)")
    con = duckdb.connect()
    try:
        levels = ", ".join("'" + lv + "'" for lv in S.LEVELS)
        for table in ("reports", *F.STATUTORY):
            glob = F.table_glob(data_dir, table)
            if glob is None:
                continue
            level_test = f"OR (level IS NOT NULL AND level NOT IN ({levels}))" if table == "reports" else ""
            bad = con.execute(
                f"SELECT filename, report_id FROM read_parquet(?, filename=true, union_by_name=true) "
                f"WHERE report_id IS NULL OR NOT regexp_full_match(report_id, '{S.REPORT_ID_PATTERN.pattern[1:-1]}') "
                f"{level_test} LIMIT 1", [glob]).fetchone()
            if bad:
                raise RunError(ExitCode.INPUT_UNREADABLE,
                               f"{bad[0]}:报告编号 {bad[1]!r} 不符合格式 R+16 位十六进制,或行政层级不在 "
                               f"{'/'.join(S.LEVELS)} 之中;这样的值不能进入数据文档")
        return con.execute("SELECT count(DISTINCT report_id) FROM read_parquet(?)",
                           [F.table_glob(data_dir, "reports")]).fetchone()[0]
    finally:
        con.close()


# --- checkpoints and validation definitions ----------------------------------------------------------

def _uuid(*parts: str) -> str:
    import uuid
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "nianbao:" + "/".join(parts)))


def checkpoint_file_name(name: str, engine: str = DEFAULT_ENGINE) -> str:
    """Stored name of a checkpoint on an engine: `nightly` on DuckDB, `nightly__pandas` elsewhere."""
    return name if engine == DEFAULT_ENGINE else f"{name}__{engine}"


def checkpoint_config(name: str, engine: str = DEFAULT_ENGINE) -> dict:
    """The checkpoint JSON: every suite's validation definition, GX's docs, then our pages."""
    stored = checkpoint_file_name(name, engine)
    return {
        "actions": [{"name": UPDATE_DOCS, "site_names": ["local_site"], "type": "update_data_docs_once"},
                    {"name": PAGES_ACTION, "type": PAGES_ACTION}],
        "id": _uuid("checkpoint", stored),
        "name": stored,
        "result_format": engines.RESULT_FORMAT,
        "validation_definitions": [{"id": _uuid("vd", checkpoint_file_name(s, engine)), "name": checkpoint_file_name(s, engine)}
                                   for s in R.SUITES],
    }


def validation_definition_config(suite: str, engine: str = DEFAULT_ENGINE) -> dict:
    """One validation definition per suite (and engine), on the asset of the same name in that engine's
    datasource: no two share suite+asset, so no result overwrites another in GX's store (GX-NOTES §4)."""

    suite_id = json.loads((P.EXPECTATIONS_DIR / f"{suite}.json").read_text(encoding="utf-8"))["id"]
    source = engines.DATASOURCES[engine]
    ds = engines.datasources_config()[source]
    asset = ds["assets"][suite]
    name = checkpoint_file_name(suite, engine)
    return {
        "data": {"asset": {"id": asset["id"], "name": suite},
                 "batch_definition": {"id": asset["batch_definitions"][engines.BATCH_DEFINITION]["id"],
                                      "name": engines.BATCH_DEFINITION},
                 "datasource": {"id": ds["id"], "name": source}},
        "id": _uuid("vd", name),
        "name": name,
        "suite": {"id": suite_id, "name": suite},
    }


def write_checkpoints(root: Path | None = None) -> list[Path]:
    """Write checkpoints/*.json and validation_definitions/*.json for every engine, deterministically."""

    root = Path(root or P.ROOT)
    written = []
    for engine in engines.ENGINES:
        for suite in R.SUITES:
            written.append(_write_json(root / "validation_definitions" / f"{checkpoint_file_name(suite, engine)}.json",
                                       validation_definition_config(suite, engine)))
        for name in CHECKPOINTS:
            written.append(_write_json(root / "checkpoints" / f"{checkpoint_file_name(name, engine)}.json",
                                       checkpoint_config(name, engine)))
    return written


def _write_json(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _check_assets(checkpoint) -> None:
    """Refuse a checkpoint in which two validation definitions share suite and asset (results would collide)."""
    seen = set()
    for vd in checkpoint.validation_definitions:
        key = (vd.suite.name, vd.data.data_asset.name)
        if key in seen:
            raise RunError(ExitCode.CONFIG_ERROR, f"检查点 {checkpoint.name}:{key} 有两个验证定义,结果会互相覆盖")
        seen.add(key)


# --- the site: staged, then swapped in atomically ----------------------------------------------------

BUILDS = P.SITE_DIR.parent / "builds"


def _stage_site(run_id: str) -> Path:
    """A fresh build folder holding a copy of the current site (GX's pages of earlier runs)."""
    BUILDS.mkdir(parents=True, exist_ok=True)
    for stale in BUILDS.glob("*.partial"):          # left by a run that died; we hold the lock
        shutil.rmtree(stale, ignore_errors=True)
    staging = BUILDS / f"{run_id}.partial"
    if P.SITE_DIR.exists():
        shutil.copytree(P.SITE_DIR.resolve(), staging, ignore=shutil.ignore_patterns(report.PAGES_DIR))
    else:
        staging.mkdir(parents=True)
    return staging


def _publish_site(staging: Path, run_id: str) -> Path:
    """Rename the build into place and swap local_site to it in one os.replace."""
    final = BUILDS / run_id
    staging.rename(final)
    link = P.SITE_DIR.parent / f".local_site.{run_id}"
    os.symlink(os.path.relpath(final, P.SITE_DIR.parent), link)
    if P.SITE_DIR.exists() and not P.SITE_DIR.is_symlink():     # a site GX built in place before us
        P.SITE_DIR.rename(BUILDS / f"legacy-{run_id}")
    os.replace(link, P.SITE_DIR)
    trash = P.SITE_DIR.parent / "trash" / run_id
    trash.mkdir(parents=True, exist_ok=True)
    for old in BUILDS.iterdir():
        if old.name != run_id and not old.name.endswith(".partial"):
            old.rename(trash / old.name)
    _remove_in_background(sorted(trash.parent.iterdir()))
    return P.SITE_DIR


def _remove_in_background(folders: list[Path]) -> None:
    """Delete folders in a detached `rm -rf`: the old site of a bad night is 50,000 pages, and deleting
    them took seconds the run need not wait for. A removal cut short is redone by the next run."""
    import subprocess

    try:
        subprocess.Popen(["rm", "-rf", "--", *map(str, folders)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _site_at(ctx, folder: Path, results_limit: int | None = None):
    """Point GX's local_site at `folder` for this run only (and list at most results_limit results in
    its index); the yml on disk is never rewritten."""
    sites = ctx.variables.data_docs_sites
    original = json.loads(json.dumps(sites))
    staged = json.loads(json.dumps(sites))
    staged["local_site"]["store_backend"]["base_directory"] = str(folder) + os.sep
    if results_limit is not None:
        staged["local_site"].setdefault("site_index_builder", {})["validation_results_limit"] = results_limit
    ctx.variables.data_docs_sites = staged
    try:
        yield
    finally:
        ctx.variables.data_docs_sites = original


def _prune_gate_sites(keep: int = KEEP_RUNS_IN_GX) -> None:
    """Drop the site folders (≈5 MB of GX assets each) of all but the newest gate runs; findings stay."""
    gates = sorted(d for d in P.RUNS_DIR.glob("*-gate") if (d / "site").is_dir())
    for old in gates[:-keep]:
        shutil.rmtree(old / "site", ignore_errors=True)


def _forget_gx_results(ctx, run_id) -> None:
    """Remove one run's results from GX's store (a gate run keeps them in its own folder)."""
    store = ctx.validation_results_store
    for key in store.list_keys():
        if key.run_id.to_tuple() == run_id.to_tuple():
            store.remove_key(key)


def prune_gx_results(ctx, keep_runs: int = KEEP_RUNS_IN_GX) -> int:
    """Delete stored validation results beyond the newest keep_runs runs; the index drops their pages."""
    store = ctx.validation_results_store
    keys = store.list_keys()
    runs = sorted({k.run_id.to_tuple()[::-1] for k in keys}, reverse=True)     # (time, name), newest first
    keep = set(runs[:keep_runs])
    removed = 0
    for k in keys:
        if k.run_id.to_tuple()[::-1] not in keep:
            store.remove_key(k)
            removed += 1
    return removed


# --- history --------------------------------------------------------------------------------------

def _scope(checkpoint: str, data_key: str, selection: Selection) -> dict:
    return {"checkpoint": checkpoint, "data": data_key, "select": selection.tokens()}


def _data_key(data: Path) -> str:
    """The data folder as history compares it: relative to the root when inside it (data/ by default)."""
    try:
        return data.resolve().relative_to(P.ROOT.resolve()).as_posix()
    except ValueError:
        return str(data.resolve())


def previous_run(scope: dict) -> Path | None:
    """The newest completed run with the same checkpoint, data and selection."""
    if not P.RUNS_DIR.is_dir():
        return None
    for d in sorted(P.RUNS_DIR.iterdir(), reverse=True):
        f = d / "run_results.json"
        if d.is_symlink() or d.name.endswith(".partial") or not f.is_file():
            continue
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if doc.get("scope") == scope and doc.get("completed") and (d / "findings.parquet").is_file():
            return d
    return None


def latest_run() -> Path | None:
    """The latest completed run folder (uncommitted/runs/latest.json)."""
    pointer = P.RUNS_DIR / "latest.json"
    if not pointer.is_file():
        return None
    return P.RUNS_DIR / json.loads(pointer.read_text(encoding="utf-8"))["run_id"]


def _point_latest(run_id: str) -> None:
    """Move runs/latest (symlink) and runs/latest.json to run_id, each in one os.replace."""
    tmp = P.RUNS_DIR / f".latest.{run_id}"
    os.symlink(run_id, tmp)
    os.replace(tmp, P.RUNS_DIR / "latest")
    doc = P.RUNS_DIR / f".latest.{run_id}.json"
    doc.write_text(json.dumps({"run_id": run_id, "path": str(P.RUNS_DIR / run_id)}, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    os.replace(doc, P.RUNS_DIR / "latest.json")


# --- one run --------------------------------------------------------------------------------------

@dataclass
class _State:
    """What the pages action needs from the run that started the checkpoint, and what it gives back."""
    run_id: str
    checkpoint: str
    data_dir: Path
    selection: Selection
    site_dir: Path
    previous: Path | None
    summary: dict
    findings: pd.DataFrame | None = None
    resolved: pd.DataFrame | None = None
    collected: F.Collected | None = None
    problems: list = field(default_factory=list)
    landing: Path | None = None
    violations: Any = None          # nianbao.violations table of the rows GX validates (from attach)

    def write_outputs(self, checkpoint_result, gx_links: dict[str, str]) -> dict:
        """Findings from GX's verdicts, history against the previous run, and the Chinese pages."""
        started = time.perf_counter()
        steps = self.summary["timings"].setdefault("outputs", {})

        def lap(name: str) -> None:
            nonlocal started
            now = time.perf_counter()
            steps[name] = round(now - started, 3)
            started = now

        selected = self.selection.rule_selected
        self.collected = F.collect(checkpoint_result, selected, self.violations)
        lap("collect_s")
        ids = {f.report_id for f in (*self.collected.failures, *self.collected.incomplete)}
        reports = F.read_reports(self.data_dir, ids)
        gc.freeze()   # the reports read back live to the end of the run (see _execute)
        lap("read_reports_s")
        with collector.paused():   # findings, history and pages (a bad night: 3 s less reading them back)
            current, self.problems = F.build(self.run_id, self.collected, reports, selected)
            lap("explain_s")
            before = F.read(self.previous / "findings.parquet") if self.previous else None
            self.findings, resolved = F.mark_history(current, before)
            # A report that left the data folder was not corrected: only reports still there count as
            # resolved.
            still = F.read_reports(self.data_dir, set(resolved.report_id), with_text=False)
            present = [r for r, rep in still.items() if rep["meta"]]
            self.resolved = resolved[resolved.report_id.isin(present)].reset_index(drop=True)
            self.summary["counts"] = F.counts(self.findings, self.resolved)
            self.summary["reports_validated"] = _reports_validated(self.collected)
            self.summary["gx"]["validation_pages"] = gx_links
            lap("history_s")
            problems = self.collected.problems + self.problems + self.collected.raised
            self.landing = report.write_pages(
                self.site_dir, self.summary, self.findings, self.resolved, reports, gx_links, problems,
                before_landing=lambda: (lap("agency_pages_s"), _crash_point("pages")))
            lap("landing_page_s")
            self.summary["timings"]["findings_and_pages_s"] = round(sum(steps.values()), 3)
            self.summary["timings"]["peak_mb_after_pages"] = _peak_mb()
            return {"landing_page": str(self.landing),
                    "failing_reports": self.summary["counts"]["failing_reports"]}


_ACTIVE: _State | None = None


def active_state() -> _State | None:
    """The run whose checkpoint is executing (read by nianbao_plugins.actions)."""
    return _ACTIVE


def _reports_validated(collected: F.Collected) -> int:
    """Reports GX validated: each report has one row per table, in one format version's asset."""
    rows = {s: (v["rows"] or 0) for s, v in collected.expectations.items()}
    per_table: dict[str, int] = {}
    for suite, n in rows.items():
        table = R.SUITES.get(suite, (suite,))[0]
        per_table[table] = per_table.get(table, 0) + n
    return max(per_table.values(), default=0)


CONFIG_PROBLEMS = ("findings-disagree-with-gx", "unknown-expectation")


def _peak_mb() -> int:
    """Peak resident memory of this process so far, in MB (ru_maxrss is in KB on Linux)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _unfreezing(fn, *args, **kwargs):
    """fn(...), then give what _execute froze (gc.freeze) back to the collector: a process may run again."""
    try:
        return fn(*args, **kwargs)
    finally:
        gc.unfreeze()


def _timed(fn, *args, **kwargs):
    """fn's result and its wall time in seconds."""
    start = time.perf_counter()
    return fn(*args, **kwargs), round(time.perf_counter() - start, 3)


def _exit_for(state: _State) -> ExitCode:
    """Exit code from the selected rules' severities and raised expectations (pure exit_code())."""
    f = state.findings
    failed = set(f[f.status == F.FAILED].severity) | ({R.WARN} if (f.status == F.NOT_ASSESSABLE).any() else set())
    disagree = any(p["code"] in CONFIG_PROBLEMS for p in state.collected.problems)
    return exit_code(failed_severities=failed, raised=bool(state.collected.raised), config_error=disagree)


def _execute(name: str, *, data_dir: Path, data_key: str, engine: str, db_url: str | None, selection: Selection,
             run_name: str | None, run_id: str, run_tmp: Path, extra: dict | None = None) -> RunOutcome:
    """Validate data_dir with checkpoint `name`, write findings, history and the site. Caller holds the lock.

    The nightly site replaces uncommitted/data_docs/local_site; a gate run keeps its own site in its run
    folder (an agency's draft is not the auditors' business) and leaves nothing in GX's shared store.
    """
    shared_site = name != "gate"
    global _ACTIVE
    t0 = time.perf_counter()
    scope = _scope(name, data_key, selection)
    summary: dict[str, Any] = {
        "run_id": run_id, "checkpoint": name, "completed": False, "started_at": datetime.now(timezone.utc).isoformat(
            timespec="seconds"), "data_dir": str(data_dir), "engine": engine, "select": selection.tokens(),
        "scope": scope, "timings": {}, "gx": {}, **(extra or {})}
    if name not in CHECKPOINTS:
        raise RunError(ExitCode.CONFIG_ERROR, f"没有名为 {name!r} 的检查点;可用:{', '.join(CHECKPOINTS)}")
    summary["reports_in_data"] = check_data(data_dir)
    # The engine loads the data while GX is imported (seconds of Python; DuckDB works outside the GIL).
    with ThreadPoolExecutor(1, thread_name_prefix="nianbao-prepare") as pool:
        preparing = pool.submit(_timed, engines.prepare, engine, data_dir, db_url=db_url, where=selection.where(),
                                work_dir=run_tmp / "engine")
        import great_expectations as gx   # after the cheap checks: importing GX takes seconds

        from .context import ConfigurationError, get_context

        try:
            ctx = get_context()
        except ConfigurationError as exc:
            raise RunError(ExitCode.CONFIG_ERROR, f"GX 配置错误:{exc}") from exc
        summary["timings"]["context_s"] = round(time.perf_counter() - t0, 3)
        t = time.perf_counter()
        try:
            prepared, summary["timings"]["prepare_s"] = preparing.result()
            attached = engines.bind(ctx, prepared)
        except engines.DataFolderError as exc:
            raise RunError(ExitCode.INPUT_UNREADABLE, f"数据目录无法使用:{exc}") from exc
        except ValueError as exc:
            raise RunError(ExitCode.CONFIG_ERROR, f"引擎 {engine}:{exc}") from exc
    summary["timings"]["attach_wait_s"] = round(time.perf_counter() - t, 3)
    # What exists now (GX's modules and context, the engine's data) lives to the end of the run: moved
    # out of the collector's reach, so that the hundreds of thousands of objects a bad night creates do
    # not make every collection walk it again (measured: 40 % of building its findings). Unfrozen by
    # _unfreezing when the run ends.
    gc.freeze()
    summary["timings"]["peak_mb_after_prepare"] = _peak_mb()
    stored = checkpoint_file_name(name, engine)
    try:
        checkpoint = ctx.checkpoints.get(stored)
    except Exception as exc:
        raise RunError(ExitCode.CONFIG_ERROR, f"无法载入检查点 checkpoints/{stored}.json:{exc}") from exc
    _check_assets(checkpoint)
    previous = previous_run(scope)
    summary["previous_run_id"] = previous.name if previous else None
    summary["removed_old_gx_results"] = prune_gx_results(ctx, KEEP_RUNS_IN_GX - 1)
    staging = _stage_site(run_id) if shared_site else run_tmp / "site"
    state = _State(run_id, name, data_dir, selection, staging, previous, summary, violations=attached.violations)
    gx_run_id = gx.RunIdentifier(run_name=run_name or f"{name}-{run_id[:8]}", run_time=datetime.now(timezone.utc))
    summary["gx"].update(run_name=gx_run_id.run_name, run_time=str(gx_run_id.run_time))
    t = time.perf_counter()
    _ACTIVE = state
    try:
        # A gate's site is its own: its index lists this run's results, not the nightly ones.
        with _site_at(ctx, staging, None if shared_site else len(R.SUITES)):
            checkpoint.run(run_id=gx_run_id)
    finally:
        _ACTIVE = None
        attached.prepared.close()
        if not shared_site:
            _forget_gx_results(ctx, gx_run_id)
    summary["timings"]["checkpoint_s"] = round(time.perf_counter() - t, 3)
    if state.findings is None:
        raise RunError(ExitCode.CONFIG_ERROR, f"检查点 {name} 没有运行 {PAGES_ACTION} 动作(checkpoints/{name}.json)")
    code = _exit_for(state)
    summary.update(exit_code=int(code), exit_name=code.name, exit_zh=EXIT_ZH[code], completed=True,
                   raised=state.collected.raised, problems=state.collected.problems + state.problems,
                   expectations=state.collected.expectations, versions=_versions(),
                   finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    summary["timings"]["total_s"] = round(time.perf_counter() - t0, 3)
    summary["timings"]["peak_mb"] = _peak_mb()
    run_dir = P.RUNS_DIR / run_id
    site = P.SITE_DIR if shared_site else run_dir / "site"
    summary["site"] = {"landing_page": str(site / report.PAGES_DIR / "index.html"), "gx_index": str(site / "index.html")}
    shutil.rmtree(run_tmp / "engine", ignore_errors=True)     # the engine's working copy, not a result
    F.write(state.findings, run_tmp / "findings.parquet")
    F.write(state.resolved, run_tmp / "resolved.parquet")
    _write_json(run_tmp / "run_results.json", summary)
    _crash_point("publish")
    run_tmp.rename(run_dir)
    if shared_site:
        _publish_site(staging, run_id)
    else:
        _prune_gate_sites()
    _point_latest(run_id)
    return RunOutcome(code, state.findings, run_dir, Path(summary["site"]["landing_page"]), summary, state.resolved)


def _failed_outcome(exc: RunError, run_id: str, run_tmp: Path, extra: dict | None = None) -> RunOutcome:
    """Record a run that stopped early (no site swap, latest untouched) and return its outcome."""
    summary = {"run_id": run_id, "completed": False, "exit_code": int(exc.code), "exit_name": exc.code.name,
               "exit_zh": EXIT_ZH[exc.code], "error": str(exc), **(extra or {})}
    run_dir = P.RUNS_DIR / run_id
    if not run_dir.exists():           # it exists only when the run failed after being published
        run_tmp.mkdir(parents=True, exist_ok=True)
        _write_json(run_tmp / "run_results.json", summary)
        run_tmp.rename(run_dir)
    return RunOutcome(exc.code, F.empty(), run_dir, None, summary, message=str(exc))


def run_checkpoint(name: str = "nightly", *, data_dir=None, engine: str = "duckdb", db_url: str | None = None,
                   select=(), run_name: str | None = None) -> RunOutcome:
    """Run a checkpoint over a data folder (default data/) and return its outcome; never exits."""
    run_id = new_run_id(name)
    run_tmp = P.RUNS_DIR / f"{run_id}.partial"
    with _run_lock():
        run_tmp.mkdir(parents=True, exist_ok=True)
        try:
            selection = parse_selection(select)
            data = Path(data_dir).resolve() if data_dir else P.DATA_DIR
            return _unfreezing(_execute, name, data_dir=data, data_key=_data_key(data), engine=engine,
                               db_url=db_url, selection=selection, run_name=run_name, run_id=run_id,
                               run_tmp=run_tmp)
        except RunError as exc:
            return _failed_outcome(exc, run_id, run_tmp, {"checkpoint": name})
        except Exception as exc:       # GX or engine crash: a runtime error, recorded, never a pass
            return _failed_outcome(RunError(ExitCode.CONFIG_ERROR, f"运行出错:{type(exc).__name__}: {exc}"),
                                   run_id, run_tmp, {"checkpoint": name, "traceback": traceback.format_exc()})


# --- the gate -------------------------------------------------------------------------------------

def write_data_folder(rows: dict[str, list[dict]], out: Path, stem: str = "gate") -> Path:
    """Write one report's rows as a data folder (DATA/<table>/<stem>.parquet)."""
    for table, schema in S.TABLE_SCHEMAS.items():
        (out / table).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows.get(table, []), schema=schema), out / table / f"{stem}.parquet")
    return out


def gate(path, *, agency=None, region=None, year=None, level=None, engine: str = "duckdb", db_url=None,
         select=(), run_name=None) -> tuple[RunOutcome, dict, list[str]]:
    """Parse a draft, write it as a one-report data folder in the run dir, run the `gate` checkpoint."""
    from . import ingest, ingest_file

    run_id = new_run_id("gate")
    run_tmp = P.RUNS_DIR / f"{run_id}.partial"
    source = str(path)
    with _run_lock():
        run_tmp.mkdir(parents=True, exist_ok=True)
        extra = {"checkpoint": "gate", "source_file": source}
        try:
            selection = parse_selection(select)
            try:
                meta = ingest.clean_meta({"agency": agency, "region": region, "year": year, "level": level})
                parsed = ingest_file.parse_one(Path(path), meta)
            except (OSError, ValueError) as exc:
                raise RunError(ExitCode.INPUT_UNREADABLE, f"{source}:无法读取:{exc}") from exc
            if parsed.status == "rejected":
                raise RunError(ExitCode.INPUT_UNREADABLE, f"{source}:无法解析出三张统计表:{parsed.reason}")
            rows = ingest_file.report_rows(parsed)
            rid = rows["reports"][0]["report_id"]
            meta_row = rows["reports"][0]
            data = write_data_folder(rows, run_tmp / "data")
            notes = _gate_notes(parsed)
            outcome = _unfreezing(_execute, "gate", data_dir=data, data_key=f"report:{rid}", engine=engine,
                                  db_url=db_url, selection=selection, run_name=run_name, run_id=run_id,
                                  run_tmp=run_tmp, extra={**extra, "report_id": rid, "parse_status": parsed.status,
                                                          "notes": notes})
            if _tables_missing(parsed):
                # The gate cannot pass a draft it could not read whole: never a pass.
                outcome.exit_code = exit_code(failed_severities=set(), input_rejected=True)
            return outcome, meta_row, notes
        except RunError as exc:
            return _failed_outcome(exc, run_id, run_tmp, extra), {}, []
        except Exception as exc:
            return _failed_outcome(RunError(ExitCode.CONFIG_ERROR, f"运行出错:{type(exc).__name__}: {exc}"),
                                   run_id, run_tmp, {**extra, "traceback": traceback.format_exc()}), {}, []


def _tables_missing(parsed) -> list[str]:
    return [m for m in parsed.missing if "." not in m]


def _gate_notes(parsed) -> list[str]:
    notes = []
    missing = _tables_missing(parsed)
    if missing:
        notes.append("报告缺少整张表:" + "、".join(S.TABLE_TITLES.get(m, m) for m in missing)
                     + ";无法完成检查,不能视为通过")
    cells = [m for m in parsed.missing if "." in m]
    if cells:
        notes.append(f"有 {len(cells)} 处内容未能解析:" + "、".join(cells[:8]) + ("……" if len(cells) > 8 else ""))
    if parsed.deviations:
        notes.append("格式偏差:" + "、".join(parsed.deviations))
    return notes


# --- commands ---------------------------------------------------------------------------------------

def _print_outcome(outcome: RunOutcome) -> None:
    s = outcome.summary
    if outcome.message:
        print(f"nianbao: {outcome.message}", file=sys.stderr)
    if s.get("completed"):
        c = s["counts"]
        print(f"检查点 {s['checkpoint']} 运行 {s['run_id']}:检查 {s['reports_validated']} 份报告,"
              f"{c['failing_reports']} 个单位未通过(错误 {c['by_severity']['error']} 条,警告 {c['by_severity']['warn']} 条,"
              f"无法核验 {c['by_status']['not_assessable']} 条;新增 {c['history']['new']},持续 {c['history']['persisting']},"
              f"已整改 {c['history']['resolved']})")
        for p in s.get("raised", []) + s.get("problems", []):
            print(f"注意:{p['code']} {p.get('rule_id', '')} {p.get('message', '')}", file=sys.stderr)
        print(f"结果:{outcome.run_dir}/findings.parquet 与 run_results.json")
        print(f"审计首页:{outcome.site_index}")
    print(f"退出码 {int(outcome.exit_code)}({outcome.exit_code.name}:{EXIT_ZH[outcome.exit_code]})")


def command_run(args) -> ExitCode:
    """`nianbao run [CHECKPOINT] [--data DIR] [--select ...]`."""
    outcome = run_checkpoint(args.checkpoint, data_dir=args.data, engine=args.engine, db_url=args.db_url,
                             select=args.select, run_name=args.run_name)
    _print_outcome(outcome)
    return outcome.exit_code


def command_gate(args) -> ExitCode:
    """`nianbao gate FILE`: the verdict on a draft, in Chinese."""
    outcome, meta, notes = gate(args.file, agency=args.agency, region=args.region, year=args.year, level=args.level,
                                engine=args.engine, db_url=args.db_url, select=args.select, run_name=args.run_name)
    if outcome.summary.get("completed"):
        print(report.gate_text(outcome, source=args.file, report_meta=meta, notes=notes))
    else:
        print(f"发布前检查:{args.file}\n结论:{report.VERDICT[int(outcome.exit_code)]}\n原因:{outcome.message}")
    return outcome.exit_code


def command_demo(args) -> ExitCode:
    """The README's main job: ingest data/inbox/ into data/, run nightly, print where the site is."""
    from . import ingest

    inbox = P.DATA_DIR / "inbox"
    if inbox.is_dir() and any(inbox.iterdir()):
        manifest = inbox / "manifest.csv"   # region and level are rarely printed in the report itself
        print(ingest.ingest([inbox], P.DATA_DIR, manifest=manifest if manifest.is_file() else None).text())
    outcome = run_checkpoint("nightly", data_dir=args.data, engine=args.engine, db_url=args.db_url,
                             select=args.select, run_name=args.run_name)
    _print_outcome(outcome)
    if outcome.summary.get("completed"):
        print(f"演示完成。nightly 的退出码为 {int(outcome.exit_code)}(示例数据中有故意注入的错误),演示本身返回 0。")
        return ExitCode.OK
    return outcome.exit_code
