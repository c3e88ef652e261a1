"""The gate's verdict on drafts without GX: the rule kinds' SQL predicates over the drafts in DuckDB, the
findings built and explained as a run builds them, and the exit code computed as the gate computes it.

Measured on GX 1.24.1 (benchmarks/serve.md), GX's warm validation of one draft takes seconds, most of it
fixed cost per expectation: behind a button that is too slow. The service runs what the gate's
findings already rest on: each suite's violations query (nianbao.violations, from each rule kind's
predicate) over the suite's asset (nianbao.engines.suite_sql), judged for the rules of the saved `gate`
checkpoint's expectations, then nianbao.findings' failures, explanations and not-assessable identities,
nianbao.run.checkpoint's failed severities, nianbao.run.gate's never-pass-an-incomplete-draft and its
notes. tests/test_serve.py holds the two to the same verdicts and findings over the corpus and a
synthetic error set.

DuckDB's cost here is per query, not per row: binding and optimising one suite's query of hundreds of
arithmetic expressions takes tens of milliseconds, even for one row. So the database is built once:
one table per source table, one view per suite, each suite's predicates prepared once as one query
(measured: 7 ms a draft for 表三's, against 35 ms planned each time). Drafts that arrive while a batch
runs are checked together in the next one: one more row costs next to nothing.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import queue
import threading
import time
from collections import namedtuple
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd
import pyarrow as pa

from .. import datafolder, duck, engines, localise
from .. import findings as F
from .. import rules as R
from .. import schema as S
from .. import violations as V
from .. import waivers as W
from ..exitcodes import ExitCode, exit_code
from ..model import ParsedReport
from ..run.checkpoint import failed_severities
from ..run.gate import draft_verdict, gate_notes, unreadable
from ..run.selection import parse_selection
from .workers import ParsedDraft

SOURCE_TABLES = (datafolder.REPORTS, *S.STATUTORY_TABLES)  # what the suites' assets read
MAX_BATCH = 64  # drafts checked in one pass (a burst of uploads is checked in several)
NOTHING_TO_CHECK = "草稿中没有可检查的统计表数据(格式版本无法判定,或三张表都未读出),无法检查"
_COLUMNS = {table: [name for name, _ in S.TABLE_COLUMNS[table]] for table in S.TABLE_COLUMNS}
Finding = namedtuple("Finding", F.COLUMNS)  # one row of the findings table (nianbao.findings.COLUMNS)


def judged_rules(ctx) -> frozenset[tuple[str, str]]:
    """(suite, rule id) of every expectation of the saved `gate` checkpoint, read from the GX context:
    the rules whose failures a gate run reports (nianbao.findings.collect judges the same)."""
    checkpoint = ctx.checkpoints.get(engines.checkpoint_name("gate"))
    return frozenset(
        (vd.suite.name, rule["rule_id"])
        for vd in checkpoint.validation_definitions
        for expectation in vd.suite.expectations
        for rule in (expectation.meta or {}).get("rules", [])
    )


@dataclass
class Verdict:
    """The gate's verdict on one draft, with what the answer and the page show."""

    code: ExitCode
    report: ParsedReport
    findings: list[Finding]  # in the findings table's order (report, rule)
    rep: dict  # {"meta", "values", "text"}: what the agency pages redraw
    notes: list[str] = field(default_factory=list)
    message: str = ""  # why the draft could not be checked ('' when it was)
    problems: list[dict] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def checked(self) -> bool:
        return not self.message

    @cached_property
    def diagnosis(self) -> localise.Diagnosis | None:
        """Which printed cells are wrong and what they should hold, as a run's diagnoses.parquet says."""
        failed = {f.rule_id for f in self.findings if f.status == F.FAILED}
        if not self.checked or not any(localise.localised_rule(r) for r in failed):
            return None
        meta = self.rep["meta"] or {}
        version = meta.get("format_version") or self.report.format_version
        return localise.localise(meta.get("report_id", ""), self.rep["values"], version, failed=failed)


class DraftChecks:
    """The suites' violations queries, prepared once in this service's DuckDB database, over a batch of
    drafts at a time. Used from one thread only (DraftChecker's)."""

    def __init__(self, judged: frozenset[tuple[str, str]]):
        self.judged = judged
        self.selected = parse_selection(()).rule_selected  # a gate without --select: every rule counts
        self.con = duck.connect()
        # A plan made once and kept must not rest on the data it was made on: the optimiser folds
        # predicates by the tables' statistics (over an empty table, to constants). Without it the
        # plan is the queries as written, whatever rows come.
        self.con.execute("PRAGMA disable_optimizer")
        self.con.execute("SET threads = 1")  # a handful of rows: threads only cost here
        for table in SOURCE_TABLES:
            self.con.from_arrow(S.TABLE_SCHEMAS[table].empty_table()).create(f"nb_{table}")
        for suite in R.SUITES:
            self.con.execute(f"CREATE VIEW {suite} AS {engines.suite_sql(suite)}")
        # Prepared after every view exists: a statement prepared before a later change of the catalog is
        # bound again on every execution (measured: 3x the time).
        for suite in R.SUITES:
            # The CASEs of violations.suite_query, one column each: its list_filter took 3x the time.
            cases = ",\n  ".join(V.rule_cases(R.rules_for_suite(suite)))
            self.con.execute(f"PREPARE violations_{suite} AS SELECT report_id, {cases} FROM {suite}")
        self._runs = itertools.count()
        self._waivers: tuple[tuple, list[W.Waiver]] = ((), [])

    def check(self, drafts: list[ParsedDraft]) -> list[Verdict]:
        """The verdict on each draft, in order; the readable ones checked in one pass."""
        readable = [d for d in drafts if not unreadable(d.report, d.report.source_file)]
        found = self._violations(readable) if readable else {}
        out = []
        for draft in drafts:
            out.append(self._verdict(draft, found.get(id(draft))))
        return out

    def _violations(self, drafts: list[ParsedDraft]) -> dict[int, pa.Table | None]:
        """Per draft (by id()): its violations with its own report id, or None when no suite's asset holds
        a row of it. In the database each draft goes by a key of its own (D0, D1, ...): two clerks may
        upload the same report at once."""
        keys = {f"D{i}": d for i, d in enumerate(drafts)}
        for table in SOURCE_TABLES:
            self.con.execute(f"DELETE FROM nb_{table}")
            rows = [(key, *row[1:]) for key, d in keys.items() for row in d.rows.get(table, ())]
            if rows:
                self.con.from_arrow(_arrow(table, rows)).insert_into(f"nb_{table}")
        found: dict[str, list[tuple]] = {key: [] for key in keys}
        with_rows = set()  # the drafts some suite's asset holds a row of: what GX would validate
        for suite in R.SUITES:
            for key, *cases in self.con.execute(f"EXECUTE violations_{suite}").fetchall():
                with_rows.add(key)
                broken = [rule_id for rule_id in cases if rule_id is not None]
                if broken:  # as suite_query keeps a row: len(rule_ids) > 0
                    found[key].append((suite, key, broken))
        return {
            id(draft): _violations_table(found[key], draft.rows["reports"][0][0]) if key in with_rows else None
            for key, draft in keys.items()
        }

    def _verdict(self, draft: ParsedDraft, found: pa.Table | None) -> Verdict:
        """Findings and exit code of one draft, as nianbao.run builds them from GX's verdicts."""
        report = draft.report
        rep = draft_report(draft)
        problem = unreadable(report, report.source_file)
        if problem is not None:
            return Verdict(problem.code, report, [], rep, message=str(problem))
        notes = gate_notes(report)
        if found is None:  # the gate stops the same way when the engine holds no row to validate
            code = exit_code(failed_severities=set(), input_rejected=True)
            return Verdict(code, report, [], rep, notes, message=NOTHING_TO_CHECK)
        try:
            waivers = self.waivers()
        except W.WaiverError as exc:  # as the gate: a bad waivers file is a configuration error
            return Verdict(ExitCode.CONFIG_ERROR, report, [], rep, notes, message=str(exc))
        collected = F.add_failures(F.Collected(), found, self.judged, self.selected)
        run_id = f"serve-{next(self._runs)}"
        rows, problems = F.build_rows(run_id, collected, {rep["meta"]["report_id"]: rep}, self.selected)
        findings = [Finding._make(row) for row in rows]
        if waivers and findings:
            # The gate's waivers (nianbao.waivers.apply), on the draft's few findings.
            frame, summary = W.apply(pd.DataFrame(rows, columns=F.COLUMNS), waivers, W.today())
            findings = [Finding._make(row) for row in frame.itertuples(index=False, name=None)]
            notes = notes + [n["message"] for n in summary["notices"]]
        failed = failed_severities((f.status, f.severity) for f in findings if not f.waived)
        code = draft_verdict(exit_code(failed_severities=failed), report)
        return Verdict(code, report, findings, rep, notes, problems=problems)

    def waivers(self) -> list[W.Waiver]:
        """The project's waivers, read again whenever the file changes (reviewers edit it while the
        service runs)."""
        path = W.default_path()
        try:
            stat = path.stat()
            key = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = ("absent",)
        if key != self._waivers[0]:
            self._waivers = (key, W.load(path))
        return self._waivers[1]


def _violations_table(rows: list[tuple], report_id: str) -> pa.Table:
    """One draft's rows of the violations queries as nianbao.violations' table, under its own report id."""
    columns = {"suite": [r[0] for r in rows], "report_id": [report_id] * len(rows), "rule_ids": [r[2] for r in rows]}
    return pa.table(columns, schema=V.SCHEMA)


def _arrow(table: str, rows: list[tuple]) -> pa.Table:
    """Row tuples (ingest_file.report_tuples) as an Arrow table of the table's schema, column by column."""
    schema = S.TABLE_SCHEMAS[table]
    columns = dict(zip(_COLUMNS[table], zip(*rows)))
    return pa.table([pa.array(columns[f.name], f.type) for f in schema], schema=schema)


def draft_report(draft: ParsedDraft) -> dict:
    """The draft as nianbao.datafolder.read_reports gives a report back: meta, values and printed texts."""
    rows = draft.rows
    meta = dict(zip(_COLUMNS["reports"], rows["reports"][0]))
    values = {t: dict(zip(_COLUMNS[t], rows[t][0])) for t in S.STATUTORY_TABLES if rows.get(t)}
    text: dict[str, dict[str, str]] = {}
    for _, table, column, printed, _, _ in rows.get("cells", ()):
        text.setdefault(table, {})[column] = printed
    return {"meta": meta, "values": values, "text": text}


class DraftChecker:
    """A thread that owns the DuckDB database and checks the drafts queued for it, in batches."""

    def __init__(self, checks: DraftChecks):
        self.checks = checks
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.batches = self.drafts = 0
        self.thread = threading.Thread(target=self._run, name="nianbao-checks", daemon=True)
        self.thread.start()

    def submit(self, draft: ParsedDraft) -> concurrent.futures.Future:
        """A future of the draft's Verdict."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self.queue.put((draft, future))
        return future

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self.queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            self._check(batch)

    def _check(self, batch: list) -> None:
        started = time.perf_counter()
        try:
            verdicts = self.checks.check([d for d, _ in batch])
        except Exception:
            if len(batch) > 1:  # one draft's trouble is not the others': each alone
                for item in batch:
                    self._check([item])
                return
            batch[0][1].set_exception(RuntimeError("检查草稿时内部出错"))
            return
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        self.batches += 1
        self.drafts += len(batch)
        for (_, future), verdict in zip(batch, verdicts):
            verdict.timings_ms.update(check=elapsed, batch=len(batch))
            future.set_result(verdict)

    def close(self) -> None:
        self.queue.put(None)
