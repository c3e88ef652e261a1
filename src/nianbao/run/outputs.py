"""What a run makes of GX's verdicts once the checkpoint has returned: findings, history and pages.

GX judges each expectation; the findings query (nianbao.violations) says which rule each failing
report broke, nianbao.findings explains each in Chinese from the values read back, history marks
them against the previous comparable run, and nianbao.report writes the auditors' pages.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import collector, datafolder, forked, history_pages, ledger, localise, page_cache, report, roster
from .. import findings as F
from .. import rules as R
from .. import waivers as W
from ..frames import isin

PARALLEL_FROM = 2000  # reports to localise; below this, forking costs more than it saves
CHUNK_REPORTS = 50_000  # reports with findings read back at a time (a bad night's memory: benchmarks/scale.md)
CHUNK_ENV = "NIANBAO_CHUNK_REPORTS"  # a smaller chunk for a machine with less memory


def chunk_size() -> int:
    """Reports read back at a time: CHUNK_REPORTS, or NIANBAO_CHUNK_REPORTS."""
    return int(os.environ.get(CHUNK_ENV) or CHUNK_REPORTS)


def report_chunks(ids: set[str], size: int | None = None) -> list[list[str]]:
    """The report ids in order, in chunks of chunk_size()."""
    size = size or chunk_size()
    ordered = sorted(ids)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def _within(collected: F.Collected, ids: set[str]) -> F.Collected:
    """The failures and incomplete reports of the given reports (one chunk of them)."""
    return dataclasses.replace(
        collected,
        failures=[f for f in collected.failures if f.report_id in ids],
        incomplete=[f for f in collected.incomplete if f.report_id in ids],
    )


@dataclass
class Outputs:
    """Findings of the run, the previous findings now resolved, and where the landing page is."""

    findings: pd.DataFrame
    resolved: pd.DataFrame
    collected: F.Collected
    problems: list
    landing: Path
    diagnoses: pa.Table
    # This run's rows of the history across runs (nianbao.ledger), written when the run is published.
    events: pd.DataFrame = field(default_factory=ledger.EVENTS_SCHEMA.empty_table().to_pandas)
    history_state: pd.DataFrame | None = None  # the history's state after this run (ledger.write_state)
    page_keys: pa.Table | None = None  # the agency pages' keys (nianbao.page_cache), for the next run


class _Laps:
    """Wall time of each named step, into a dict of seconds."""

    def __init__(self, steps: dict, rss: dict):
        self.steps, self.rss, self.started = steps, rss, time.perf_counter()

    def __call__(self, name: str) -> None:
        """Record the time since the last lap as `name`."""
        self.add(name, replace=True)

    def add(self, name: str, replace: bool = False) -> None:
        """Add the time since the last lap to `name` (a step done once per chunk of reports)."""
        now = time.perf_counter()
        self.steps[name] = round(now - self.started + (0 if replace else self.steps.get(name, 0)), 3)
        self.rss[name] = max(rss_mb(), 0 if replace else self.rss.get(name, 0))
        self.started = now


def rss_mb() -> int:
    """Resident memory of this process now, in MB."""
    with open("/proc/self/statm") as f:
        return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20)


def peak_mb() -> int:
    """Peak resident memory of this process so far, in MB (ru_maxrss is in KB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def write_outputs(
    checkpoint_result,
    *,
    run_id: str,
    data: datafolder.Snapshot,
    selected: Callable[[str, str], bool],
    previous: Path | None,
    site_dir: Path,
    summary: dict,
    violations,
    gx_links: dict[str, str],
    before_landing: Callable[[], None] = lambda: None,
    waivers: tuple[W.Waiver, ...] | list[W.Waiver] = (),
    scope: dict | None = None,
    trend_runs: int = 10,
    roster_file: Path | None = None,
    deadlines: bool = False,
    derived_values: dict | None = None,
    carried: pd.DataFrame | None = None,
    carried_diagnoses: pa.Table | None = None,
    reports_covered: int | None = None,
    pages: page_cache.PageCache | None = None,
) -> Outputs:
    """Findings from GX's verdicts, history against the previous run, and the Chinese pages in site_dir; every
    value read back comes from the run's snapshot of the data folder.

    An incremental nightly (nianbao.incremental) gives the findings it carries from the last run for the
    reports it did not validate again (`carried`, explained then: their rows have not changed), their
    localisations (`carried_diagnoses`) and the number of reports the run covers (`reports_covered`,
    what a full run would have validated): history, waivers and pages are then made of them exactly as
    of the findings found tonight. Their reports are not read back: an agency page nothing changed for is
    the previous run's (`pages`, nianbao.page_cache), and the others are read when written."""
    lap = _Laps(summary["timings"].setdefault("outputs", {}), summary["timings"].setdefault("outputs_rss_mb", {}))
    collected = F.collect(checkpoint_result, selected, violations)
    lap("collect_s")
    ids = {f.report_id for f in (*collected.failures, *collected.incomplete)}
    chunks = report_chunks(ids)
    summary["timings"]["report_chunks"] = len(chunks)
    kept: dict[str, dict] = {}  # the reports read back, when one chunk holds them all (read once)
    placeholders: dict[str, dict] = {}  # reports R29 lists that no reports table holds
    levels: dict[str, str | None] = {}
    built: list[pd.DataFrame] = []
    diagnosed: list[pa.Table] = []
    problems: list[dict] = []
    with collector.paused():  # findings, history and pages (a bad night: 3 s less reading them back)
        # A chunk of reports at a time: read back, explained, localised, dropped. A bad night at 1,000,000
        # reports has 400,000 failing reports, whose values held at once took gigabytes.
        for chunk in chunks:
            reports = datafolder.read_reports(data, chunk)
            F.add_derived_values(reports, derived_values or {})  # the year pairs' values (nianbao.engines.DERIVED)
            levels.update((rid, (rep["meta"] or {}).get("level")) for rid, rep in reports.items())
            lap.add("read_reports_s")
            part, part_problems = F.build(run_id, _within(collected, set(chunk)), reports, selected)
            problems += part_problems
            built.append(part)
            lap.add("explain_s")
            diagnosed.append(diagnose(run_id, part, reports))
            lap.add("localise_s")
            if len(chunks) == 1:
                kept = reports
            del reports
        # Each chunk's findings are in order (report, rule) and the chunks in report order: concatenated,
        # they are in order, without the sort (and the copies) of a million rows.
        current = pd.concat(built, ignore_index=True) if built else F.empty()
        problems = F.sorted_problems(problems)
        diagnoses = pa.concat_tables(diagnosed) if diagnosed else localise.DIAGNOSES_SCHEMA.empty_table()
        del built, diagnosed
        if carried is not None and len(carried):  # the carried reports' findings and cells, in report order
            current = _merged(current, carried)
            diagnoses = _in_report_order(diagnoses, carried_diagnoses)
            levels.update(datafolder.levels_of(data, set(carried.report_id) - set(levels)))
            lap.add("explain_s")
        # Every failure is a finding now: a bad night's 700,000 Failure objects would live to the end of the
        # run (Outputs keeps `collected` for its problems, raised expectations and counts).
        collected.failures, collected.incomplete = [], []
        listed = None
        if roster_file is not None or deadlines:  # R29/R28: run-level findings (nianbao.roster)
            listed = roster.check(run_id, roster_file, data, selected)
            if roster_file is not None:
                summary["roster"] = listed.summary
            for rid, level in listed.levels.items():  # an unpublished report (R29) has no row to read
                if rid not in levels:
                    levels[rid] = level
                    placeholders[rid] = {"meta": {"level": level}, "values": {}, "text": {}}
            if listed.rows:
                current = F.to_frame(pd.concat([current, F.frame_of_rows(listed.rows)], ignore_index=True))
        lap.add("explain_s")
        findings, resolved = _history(current, previous, data)
        # After history: a waived finding is still new or persisting, only no longer counted.
        findings, summary["waivers"] = W.apply(findings, waivers, W.today())
        pages_extra: dict = {}
        events = ledger.EVENTS_SCHEMA.empty_table().to_pandas()
        state = None
        if scope is not None:
            findings, events, state, pages_extra = _ledger(findings, run_id, scope, data, trend_runs, site_dir)
            if pages is not None:  # each page's key holds its timeline (a current finding's last run: this run)
                pages.run_id, pages.history = run_id, state
        if roster_file is not None:
            pages_extra["landing_extra"] = roster.section_html(listed) + pages_extra.get("landing_extra", "")
        summary["counts"] = {**F.counts(findings, resolved), "localised": localised_counts(diagnoses)}
        summary["counts"]["reopened"] = int((events.event == ledger.REOPENED).sum())  # regressions (nianbao.ledger)
        summary["reports_validated"] = reports_validated(collected) if reports_covered is None else reports_covered
        summary["gx"]["validation_pages"] = gx_links
        lap("history_s")
        shown = collected.problems + problems + collected.raised

        def read_back(wanted: list[str]) -> dict[str, dict]:
            """The reports of a chunk of agency pages: those read above, or read again chunk by chunk."""
            got = {r: kept[r] for r in wanted if r in kept} if kept else {}
            missing = [r for r in wanted if r not in got and r not in placeholders]
            if missing:
                got.update(datafolder.read_reports(data, missing))
                F.add_derived_values(got, derived_values or {})
            return {**got, **{r: placeholders[r] for r in wanted if r in placeholders}}

        landing = report.write_pages(
            site_dir,
            summary,
            findings,
            resolved,
            read_back,
            gx_links,
            shown,
            diagnoses=diagnoses,
            before_landing=lambda: (lap("agency_pages_s"), before_landing()),
            **pages_extra,
            checked=datafolder.checked_by_region(data),  # the landing page's checked-versus-failed per region
            levels=levels,
            chunk=chunk_size(),
            pages=pages,
        )
        lap("landing_page_s")
        if pages is not None:
            summary["timings"]["agency_pages_linked"] = pages.linked
        summary["timings"]["findings_and_pages_s"] = round(sum(lap.steps.values()), 3)
        summary["timings"]["peak_mb_after_pages"] = peak_mb()
    keys = pages.table() if pages is not None else None
    return Outputs(findings, resolved, collected, problems, landing, diagnoses, events, state, keys)


def _ledger(
    findings: pd.DataFrame,
    run_id: str,
    scope: dict,
    data: datafolder.Snapshot,
    trend_runs: int,
    site_dir: Path,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Findings with first/last seen from the history across runs, this run's events, the history's
    state after it, and what the pages show of it: each agency's timeline, the counts per run by region
    and rule, and a page for every agency whose findings are all resolved (written here: it keeps its
    page)."""

    findings, events, state = ledger.mark(findings, run_id, scope, lambda ids: datafolder.present(data, ids))
    current = set(findings.report_id)
    quiet = set(state.report_id.unique()) - current
    timelines = ledger.timelines(state, quiet) if quiet else {}
    read = datafolder.read_reports(data, quiet) if quiet else {}
    # Only reports still in the data folder: one that left it was not corrected, and has no report to show.
    quiet_pages = history_pages.write_resolved_pages(
        site_dir, {r: timelines[r] for r in quiet if read[r]["meta"]}, read, current
    )
    trends = history_pages.trends_html(
        ledger.trends(scope, events, trend_runs), ledger.runs_in(scope, run_id, trend_runs)
    )

    def agency_extra(ids: list[str]) -> dict[str, str]:
        """The timelines of a chunk of agency pages (those of 400,000 reports at once took gigabytes)."""
        return {r: history_pages.timeline_html(t, run_id) for r, t in ledger.timelines(state, ids).items()}

    landing_extra = trends + history_pages.resolved_list_html(quiet_pages)
    return findings, events, state, {"agency_extra": agency_extra, "landing_extra": landing_extra}


def diagnose(run_id: str, findings: pd.DataFrame, reports: dict[str, dict]) -> pa.Table:
    """The localisation of every report that failed an arithmetic rule (nianbao.localise), on every
    core when there are many (a bad night has 50,000 such reports)."""
    if findings.empty or localise.disabled():
        return localise.DIAGNOSES_SCHEMA.empty_table()
    failed = findings[findings.status == F.FAILED]
    wanted = failed[failed.rule_id.map(localise.localised_rule)]
    by_report: dict[str, set[str]] = {}
    for rid, rule in zip(wanted.report_id.tolist(), wanted.rule_id.tolist()):
        by_report.setdefault(rid, set()).add(rule)
    ids = sorted(by_report)
    parts = None
    if len(ids) >= PARALLEL_FROM:
        processes = forked.workers()
        step = -(-len(ids) // (processes * 4))
        chunks = [ids[i : i + step] for i in range(0, len(ids), step)]
        parts = forked.forked_map(
            lambda shared, chunk: localise.diagnose(run_id, {r: shared[r] for r in chunk}, reports),
            by_report,
            chunks,
            processes,
        )
    if parts is None:
        return localise.diagnose(run_id, by_report, reports)
    return pa.concat_tables(parts) if parts else localise.DIAGNOSES_SCHEMA.empty_table()


def _in_report_order(tonight: pa.Table, carried: pa.Table | None) -> pa.Table:
    """Tonight's diagnoses and the carried ones, in report order as one pass makes them (a stable sort:
    each report's rows keep their order)."""
    if carried is None or not carried.num_rows:
        return tonight
    both = pa.concat_tables([tonight, carried])
    return both.take(pc.sort_indices(both, sort_keys=[("report_id", "ascending")]))


def _merged(tonight: pd.DataFrame, carried: pd.DataFrame) -> pd.DataFrame:
    """Tonight's findings and the carried ones in report order, each report's rows in their order (a
    report's findings are all tonight's or all carried)."""
    both = F.to_frame(pd.concat([tonight, carried], ignore_index=True))
    return both.sort_values("report_id", kind="stable", ignore_index=True)


def localised_counts(diagnoses: pa.Table) -> dict[str, int]:
    """Reports localised: with one answer, ambiguous, and how many needed the solver."""
    if not diagnoses.num_rows:
        return {"reports": 0, "unique": 0, "ambiguous": 0, "solver": 0}
    per_report = diagnoses.group_by("report_id").aggregate([("ambiguous", "max"), ("solver", "max")])
    ambiguous = sum(per_report["ambiguous_max"].to_pylist())
    return {
        "reports": per_report.num_rows,
        "unique": per_report.num_rows - ambiguous,
        "ambiguous": ambiguous,
        "solver": sum(per_report["solver_max"].to_pylist()),  # the others needed no solver
    }


def _history(
    current: pd.DataFrame, previous: Path | None, data: datafolder.Snapshot
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Findings marked new or persisting, and the previous ones now resolved.

    A report that left the data folder was not corrected: only reports still there count as resolved.
    """
    before = F.read(previous / "findings.parquet") if previous else None
    findings, resolved = F.mark_history(current, before)
    present = sorted(datafolder.present(data, resolved.report_id))
    return findings, resolved[isin(resolved.report_id, present)].reset_index(drop=True)


def reports_validated(collected: F.Collected) -> int:
    """Reports GX validated: each report has one row per table, in one format version's asset."""
    rows = {s: (v["rows"] or 0) for s, v in collected.expectations.items()}
    per_table: dict[str, int] = {}
    for suite, n in rows.items():
        table = R.SUITES.get(suite, (suite,))[0]
        per_table[table] = per_table.get(table, 0) + n
    return max(per_table.values(), default=0)
