"""What a run makes of GX's verdicts once the checkpoint has returned: findings, history and pages.

GX judges each expectation; the findings query (nianbao.violations) says which rule each failing
report broke, nianbao.findings explains each in Chinese from the values read back, history marks
them against the previous comparable run, and nianbao.report writes the auditors' pages.
"""

from __future__ import annotations

import gc
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import collector, datafolder, report
from .. import findings as F
from .. import rules as R


@dataclass
class Outputs:
    """Findings of the run, the previous findings now resolved, and where the landing page is."""

    findings: pd.DataFrame
    resolved: pd.DataFrame
    collected: F.Collected
    problems: list
    landing: Path


class _Laps:
    """Wall time of each named step, into a dict of seconds."""

    def __init__(self, steps: dict):
        self.steps, self.started = steps, time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.steps[name] = round(now - self.started, 3)
        self.started = now


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
) -> Outputs:
    """Findings from GX's verdicts, history against the previous run, and the Chinese pages in site_dir; every
    value read back comes from the run's snapshot of the data folder."""
    lap = _Laps(summary["timings"].setdefault("outputs", {}))
    collected = F.collect(checkpoint_result, selected, violations)
    lap("collect_s")
    ids = {f.report_id for f in (*collected.failures, *collected.incomplete)}
    reports = datafolder.read_reports(data, ids)
    gc.freeze()  # the reports read back live to the end of the run (see nianbao.run.checkpoint)
    lap("read_reports_s")
    with collector.paused():  # findings, history and pages (a bad night: 3 s less reading them back)
        current, problems = F.build(run_id, collected, reports, selected)
        lap("explain_s")
        findings, resolved = _history(current, previous, data)
        summary["counts"] = F.counts(findings, resolved)
        summary["reports_validated"] = reports_validated(collected)
        summary["gx"]["validation_pages"] = gx_links
        lap("history_s")
        shown = collected.problems + problems + collected.raised
        landing = report.write_pages(
            site_dir,
            summary,
            findings,
            resolved,
            reports,
            gx_links,
            shown,
            before_landing=lambda: (lap("agency_pages_s"), before_landing()),
        )
        lap("landing_page_s")
        summary["timings"]["findings_and_pages_s"] = round(sum(lap.steps.values()), 3)
        summary["timings"]["peak_mb_after_pages"] = peak_mb()
    return Outputs(findings, resolved, collected, problems, landing)


def _history(
    current: pd.DataFrame, previous: Path | None, data: datafolder.Snapshot
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Findings marked new or persisting, and the previous ones now resolved.

    A report that left the data folder was not corrected: only reports still there count as resolved.
    """
    before = F.read(previous / "findings.parquet") if previous else None
    findings, resolved = F.mark_history(current, before)
    still = datafolder.read_reports(data, set(resolved.report_id), with_text=False)
    present = [r for r, rep in still.items() if rep["meta"]]
    return findings, resolved[resolved.report_id.isin(present)].reset_index(drop=True)


def reports_validated(collected: F.Collected) -> int:
    """Reports GX validated: each report has one row per table, in one format version's asset."""
    rows = {s: (v["rows"] or 0) for s, v in collected.expectations.items()}
    per_table: dict[str, int] = {}
    for suite, n in rows.items():
        table = R.SUITES.get(suite, (suite,))[0]
        per_table[table] = per_table.get(table, 0) + n
    return max(per_table.values(), default=0)
