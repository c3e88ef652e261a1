"""Findings: one row per report and failed rule, explained in Chinese, with run-to-run history.

GX is the judge of each expectation (a rule family or one rule); the rows and the rules they break
come from one query (nianbao.violations) that must agree with GX's count for every expectation.
The cell values that explain it (expected against printed) are read back from the data
folder, so the explanation is the same on every engine. A rule that GX failed but whose
explanation finds no violation is kept (GX decides) and reported as an `explanation-mismatch`
problem, so the two never drift apart silently.

Status: `failed` (the rule does not hold) or `not_assessable` (an identity with a missing operand,
DOMAIN R9: never a pass). History against the previous comparable run: `new`, `persisting`, and
`resolved` rows in a separate table.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import collector, forked
from . import rules as R
from . import violations as V
from .frames import isin
from .kinds import Explanation
from .kinds import kind as rule_kind
from .kinds.base import FAILED, NOT_ASSESSABLE

NEW, PERSISTING, RESOLVED = "new", "persisting", "resolved"

FINDINGS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("report_id", pa.string()),
        pa.field("agency", pa.string()),
        pa.field("region", pa.string()),
        pa.field("year", pa.int32()),
        pa.field("rule_id", pa.string()),
        pa.field("severity", pa.string()),  # error | warn (the rule's, from the catalogue)
        pa.field("status", pa.string()),  # failed | not_assessable
        pa.field("message", pa.string()),  # Chinese: expected against printed
        pa.field("cells", pa.string()),  # JSON {column: value} of the cells involved
        pa.field("left_value", pa.float64()),  # identities: sum of the left side as printed
        pa.field("right_value", pa.float64()),
        pa.field("difference", pa.float64()),  # left - right
        pa.field("suite", pa.string()),
        pa.field("fix", pa.string()),  # Chinese: what to fix
        pa.field("history", pa.string()),  # new | persisting (| resolved in resolved.parquet)
        # Acknowledged by a waiver (nianbao.waivers) that holds for these printed values: shown, never counted.
        pa.field("waived", pa.bool_()),
        pa.field("waiver_reason", pa.string()),  # Chinese: the waiver's reason, approver and expiry
        # Across every run of the same scope (nianbao.ledger): the run ids that first and last saw this
        # finding's fingerprint (report_id + rule_id); this run's own id until the history says otherwise.
        pa.field("first_seen", pa.string()),
        pa.field("last_seen", pa.string()),
    ]
)
# Columns added after findings were first written, with the value an older findings.parquet means.
ADDED_COLUMNS = {"waived": False, "waiver_reason": None, "first_seen": None, "last_seen": None}
COLUMNS = FINDINGS_SCHEMA.names
# findings.parquet as written (write()): the findings and whether each was carried from the last run by
# an incremental nightly; read() drops `carried` (a finding is the same whichever run checked it).
STORED_SCHEMA = FINDINGS_SCHEMA.append(pa.field("carried", pa.bool_()))


@dataclass(frozen=True)
class Failure:
    """GX's verdict: this report broke this rule in this suite."""

    suite: str
    rule_id: str
    report_id: str


@dataclass
class Collected:
    """What the checkpoint result says, before values are read back."""

    failures: list[Failure] = field(default_factory=list)
    raised: list[dict] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    expectations: dict[str, dict] = field(default_factory=dict)  # per suite: evaluated, failed, raised, rows
    # Reports with a missing cell (any R9 rule, selected or not): their identities are not assessable.
    incomplete: list[Failure] = field(default_factory=list)


def raised(result) -> bool:
    """An expectation that raised (itself or in a metric) is never a pass: GX 1.24 records a metric's
    exception in exception_info and leaves `success` False without saying the rule failed."""
    exc = result.exception_info or {}
    if "raised_exception" in exc:
        return bool(exc["raised_exception"])
    return any(isinstance(v, dict) and v.get("raised_exception") for v in exc.values())


def _exception_message(result) -> str:
    exc = result.exception_info or {}
    if "exception_message" in exc:
        return str(exc.get("exception_message"))
    return "; ".join(str(v.get("exception_message")) for v in exc.values() if isinstance(v, dict))


def _severity(rule_id: str | None, config) -> str:
    """Catalogue severity; GX's own severity only for an expectation we do not know."""
    if rule_id in R.RULES_BY_ID:
        return R.RULES_BY_ID[rule_id].severity
    gx = str(getattr(config.severity, "value", config.severity))
    return R.ERROR if gx == "critical" else R.WARN


def _check_rules(config) -> tuple[str, list[str]]:
    """(check id, rule ids) an expectation verifies, from its meta (an unknown one: its type, no rules)."""
    meta = config.meta or {}
    return meta.get("check_id") or config.type, [r["rule_id"] for r in meta.get("rules", [])]


def _partial_ids(result: dict) -> list[str]:
    """The report ids GX shows: one per row, or (exclude_unexpected_values) one list per column."""
    rows = result.get("partial_unexpected_index_list") or result.get("unexpected_index_list") or []
    ids: list[str] = []
    for row in rows:
        value = row.get("report_id") if isinstance(row, dict) else None
        ids.extend(value if isinstance(value, list) else [value] if value is not None else [])
    return ids


def collect(checkpoint_result, selected: Callable[[str, str], bool], found: pa.Table) -> Collected:
    """Findings of the selected rules: GX's verdict per expectation, the rows from `found`.

    `found` is nianbao.violations' table for the rows GX validated. For every expectation the rows
    it lists as breaking the expectation's rules must be exactly the rows GX failed: same count, and
    every id GX shows among them; otherwise a `findings-disagree-with-gx` problem (a configuration
    error, never a pass). A raised expectation judges nothing: its rules give no findings.
    """
    out = Collected()
    judged: set[tuple[str, str]] = set()
    for vr in checkpoint_result.run_results.values():
        suite = vr.suite_name
        stats = out.expectations.setdefault(suite, {"evaluated": 0, "failed": 0, "raised": 0, "rows": None})
        for r in vr.results:
            check_id, rule_ids = _check_rules(r.expectation_config)
            severity = _severity(rule_ids[0] if rule_ids else None, r.expectation_config)
            chosen = (
                [x for x in rule_ids if selected(x, severity)]
                if rule_ids
                else ([check_id] if selected(check_id, severity) else [])
            )
            result = r.result or {}
            if result.get("element_count") is not None:
                stats["rows"] = result["element_count"]
            if raised(r):
                if chosen:
                    stats["raised"] += 1
                    out.raised.append(
                        {
                            "code": "expectation-raised",
                            "suite": suite,
                            "rule_id": check_id,
                            "message": _exception_message(r),
                        }
                    )
                continue
            if chosen:
                stats["evaluated"] += 1
                stats["failed"] += 0 if r.success else 1
            if not rule_ids:
                if not r.success and chosen:
                    out.problems.append(
                        {
                            "code": "unknown-expectation",
                            "suite": suite,
                            "rule_id": check_id,
                            "message": "an expectation without nianbao rules failed",
                        }
                    )
                continue
            judged.update((suite, x) for x in rule_ids)
            count, ids = V.rows_failing(found, suite, rule_ids)
            gx_count, shown = result.get("unexpected_count"), _partial_ids(result)
            if (not r.success) != (count > 0) or (gx_count is not None and gx_count != count) or not set(shown) <= ids:
                out.problems.append(
                    {
                        "code": "findings-disagree-with-gx",
                        "suite": suite,
                        "rule_id": check_id,
                        "message": f"GX: success={r.success}, {gx_count} failing rows (shown {shown[:3]}); "
                        f"findings query: {count} failing rows",
                    }
                )
    return add_failures(out, found, judged, selected)


def add_failures(
    out: Collected, found: pa.Table, judged: set[tuple[str, str]], selected: Callable[[str, str], bool]
) -> Collected:
    """`out` with the rows of `found` that break a judged (suite, rule): the selected rules' failures,
    and every report with a missing cell. Shared with the service (nianbao.serve), which judges by
    the same rules without GX."""
    found_pairs = V.pairs(found)
    for suite, report_id, rule_id in zip(*(found_pairs[c].to_pylist() for c in ("suite", "report_id", "rule_id"))):
        if (suite, rule_id) not in judged:
            continue
        failure = Failure(suite, rule_id, report_id)
        if _is_presence(rule_id):
            out.incomplete.append(failure)  # selected or not: blanks make identities not assessable
        if selected(rule_id, R.RULES_BY_ID[rule_id].severity if rule_id in R.RULES_BY_ID else R.ERROR):
            out.failures.append(failure)
    return out


def add_derived_values(reports: dict[str, dict], derived_values: dict[str, pa.Table]) -> None:
    """Give each report read back its rows of the derived assets (the year pairs: nianbao.engines.DERIVED),
    as `values[suite]`, what its findings there are explained from."""
    for suite, table in derived_values.items():
        for row in table.to_pylist():
            rep = reports.get(row["report_id"])
            if rep is not None:
                rep["values"][suite] = row


def _is_presence(rule_id: str) -> bool:
    rule = R.RULES_BY_ID.get(rule_id)
    return rule is not None and rule_kind(rule.kind).marks_missing


# --- explanations --------------------------------------------------------------------------------


def explain(rule: R.Rule, values: dict, level: str | None = None) -> Explanation | None:
    """Why `values` break `rule`, in Chinese; None when they do not (the rule's kind explains)."""
    return rule_kind(rule.kind).explain(rule, values, level)


# --- building the table ----------------------------------------------------------------------------


def _row(run_id: str, failure: Failure, meta, rule: R.Rule | None, ex: Explanation) -> tuple:
    """One finding as a tuple in COLUMNS order (a night can have 300,000: no dict per row)."""
    diff = None if ex.left is None or ex.right is None else ex.left - ex.right
    return (
        run_id,
        failure.report_id,
        meta.get("agency"),
        meta.get("region"),
        meta.get("year"),
        failure.rule_id,
        rule.severity if rule else R.ERROR,
        ex.status,
        ex.message,
        cells_json(ex.cells),
        ex.left,
        ex.right,
        diff,
        failure.suite,
        ex.fix,
        NEW,
        False,
        None,
        run_id,
        run_id,
    )


_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps builds an encoder per call when given options


def cells_json(cells: dict[str, Any]) -> str:
    """The cells as JSON (json.dumps(cells, ensure_ascii=False)): a bad night writes 300,000 of these."""
    return _JSON.encode(cells)


def _table(rows: list[tuple]) -> pa.Table:
    """Row tuples as a findings table, built column by column."""
    columns = list(zip(*rows)) if rows else [()] * len(COLUMNS)
    return pa.table([pa.array(list(c), f.type) for c, f in zip(columns, FINDINGS_SCHEMA)], schema=FINDINGS_SCHEMA)


def frame_of_rows(rows: list[tuple]) -> pd.DataFrame:
    """The findings frame of row tuples (COLUMNS order), built column by column through Arrow."""
    return _ordered(_table(rows))


PARALLEL_FROM = 20_000  # failures; below this, forking workers costs more than it saves


def build(
    run_id: str, collected: Collected, reports: dict[str, dict], selected: Callable[[str, str], bool]
) -> tuple[pd.DataFrame, list[dict]]:
    """Findings of GX's failures, plus the identities that a missing cell makes not assessable.

    `reports[report_id]` = {"meta": {...agency, region, year, level}, "values": {table: {col: value}}}.
    A bad night explains 300,000 findings in pure Python: from PARALLEL_FROM failures on, forked
    workers (which see the reports without pickling them) each explain the findings of a share of
    the reports and send back an Arrow table. Problems are ordered by report and rule either way.
    """
    processes = forked.workers()
    if len(collected.failures) >= PARALLEL_FROM:
        shards = _shards(collected, processes * 4)
        parts = forked.forked_map(_explain_shard, (run_id, shards, reports, selected), range(len(shards)), processes)
        if parts is not None:
            return (
                _ordered(pa.concat_tables([t for t, _ in parts])),
                sorted_problems([p for _, problems in parts for p in problems]),
            )
    rows, problems = _explain_all(run_id, collected.failures, collected.incomplete, reports, selected)
    return frame_of_rows(rows), sorted_problems(problems)


_ROW_ORDER = (COLUMNS.index("report_id"), COLUMNS.index("rule_id"))


def build_rows(
    run_id: str, collected: Collected, reports: dict[str, dict], selected: Callable[[str, str], bool]
) -> tuple[list[tuple], list[dict]]:
    """build() for a few reports, without the frame: the findings as tuples in COLUMNS order, in the
    frame's order (report, rule), and the problems. The service (nianbao.serve) answers for one draft
    in milliseconds, where making a frame of its handful of findings costs more than explaining them."""
    rows, problems = _explain_all(run_id, collected.failures, collected.incomplete, reports, selected)
    rows.sort(key=lambda row: (row[_ROW_ORDER[0]], row[_ROW_ORDER[1]]))
    return rows, sorted_problems(problems)


def _shards(collected: Collected, n: int) -> list[tuple[list, list]]:
    """The failures and incomplete reports split into n shards, each report's in one shard."""
    shard_of: dict[str, int] = {}
    shards: list[tuple[list, list]] = [([], []) for _ in range(n)]
    for f in collected.failures:
        shards[shard_of.setdefault(f.report_id, len(shard_of) % n)][0].append(f)
    for f in collected.incomplete:
        shards[shard_of.setdefault(f.report_id, len(shard_of) % n)][1].append(f)
    return shards


def _explain_shard(job: tuple, i: int) -> tuple[pa.Table, list[dict]]:
    """Findings of shard i (in a forked worker)."""
    run_id, shards, reports, selected = job
    with collector.paused():
        rows, problems = _explain_all(run_id, *shards[i], reports, selected)
    return _table(rows), problems


def sorted_problems(problems: list[dict]) -> list[dict]:
    return sorted(problems, key=lambda p: (p["report_id"], p["rule_id"]))


def _explain_all(
    run_id: str,
    failures: list[Failure],
    incomplete: list[Failure],
    reports: dict[str, dict],
    selected: Callable[[str, str], bool],
) -> tuple[list[tuple], list[dict]]:
    """Finding rows of the failures, then of the identities the incomplete reports leave not assessable."""
    rows, problems, seen = [], [], set()
    for f in failures:
        rule = R.RULES_BY_ID.get(f.rule_id)
        rep = reports.get(f.report_id, {"meta": {}, "values": {}})
        values = rep["values"].get(rule.table, {}) if rule else {}
        ex = explain(rule, values, rep["meta"].get("level")) if rule else None
        if ex is None or ex.status != FAILED:
            problems.append(
                {
                    "code": "explanation-mismatch",
                    "rule_id": f.rule_id,
                    "report_id": f.report_id,
                    "message": "GX failed this rule but the values read back do not break it",
                }
            )
            ex = Explanation(FAILED, rule.description if rule else f.rule_id, {}, "请对照规则说明核对相关单元格。")
        rows.append(_row(run_id, f, rep["meta"], rule, ex))
        seen.add((f.report_id, f.rule_id))
    for f in incomplete:
        rep = reports.get(f.report_id, {"meta": {}, "values": {}})
        rows += _not_assessable(run_id, f, rep, R.RULES_BY_ID[f.rule_id].table, selected, seen)
    return rows, problems


_RULE_ORDER = {r.id: i for i, r in enumerate(R.RULES)}  # (RULES.index compares whole Rule dataclasses)


@functools.cache
def _identities_by_column(table: str) -> dict[str, tuple[R.Rule, ...]]:
    """The table's identity rules in which each column is an operand, in catalogue order."""
    out: dict[str, list[R.Rule]] = {}
    for rule in R.RULES:
        if rule_kind(rule.kind).needs_every_operand and rule.table == table:
            for column in rule.operands:
                out.setdefault(column, []).append(rule)
    return {c: tuple(rules) for c, rules in out.items()}


def _not_assessable(run_id, failure: Failure, rep: dict, table: str, selected, seen: set) -> list[dict]:
    """Identities of the table that a missing cell of this report leaves unverifiable."""
    rows = []
    values = rep["values"].get(table, {})
    version = rep["meta"].get("format_version")
    by_column = _identities_by_column(table)
    # Only identities with a blank operand can be unverifiable; a table 三 has about 180 cells.
    candidates = {r.id: r for c, v in values.items() if v is None for r in by_column.get(c, ())}
    for rule in sorted(candidates.values(), key=lambda r: _RULE_ORDER[r.id]):
        if (
            (version and version not in rule.versions)
            or (failure.report_id, rule.id) in seen
            or not selected(rule.id, rule.severity)
        ):
            continue
        ex = explain(rule, values)
        if ex is not None and ex.status == NOT_ASSESSABLE:
            f = Failure(failure.suite, rule.id, failure.report_id)
            rows.append(_row(run_id, f, rep["meta"], rule, ex))
            seen.add((failure.report_id, rule.id))
    return rows


def to_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The findings frame with the Parquet schema's types, in a stable order."""
    missing = {c: v for c, v in ADDED_COLUMNS.items() if c not in frame.columns}  # an older run's file
    frame = frame.assign(**missing) if missing else frame
    return _ordered(pa.Table.from_pandas(frame[COLUMNS], schema=FINDINGS_SCHEMA, preserve_index=False))


def _ordered(table: pa.Table) -> pd.DataFrame:
    """A findings table as a frame in the stable order (report, rule)."""
    return table.to_pandas().sort_values(["report_id", "rule_id"], kind="stable").reset_index(drop=True)


def empty() -> pd.DataFrame:
    return to_frame(pd.DataFrame(columns=COLUMNS))


# --- history ---------------------------------------------------------------------------------------


def mark_history(current: pd.DataFrame, previous: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mark each finding new or persisting; return with it the previous findings now resolved."""
    current = current.copy(deep=False)  # copy-on-write: the columns set below are new, the rest shared
    if previous is None or previous.empty:
        current["history"] = NEW
        return current, empty()
    # Keys as one string column each side, compared with isin: tuples per row took 250 MB at a million.
    before, now = _keys(previous), _keys(current)
    current["history"] = np.where(isin(now, before), PERSISTING, NEW)
    resolved = previous[~isin(before, now)].copy(deep=False)
    resolved["history"] = RESOLVED
    return current, to_frame(resolved)


def _keys(frame: pd.DataFrame) -> pd.Series:
    """Each row's (report_id, rule_id, status) as one string."""
    return frame.report_id.astype(str) + "\x1f" + frame.rule_id.astype(str) + "\x1f" + frame.status.astype(str)


WRITE_BATCH_ROWS = 100_000  # findings converted to Arrow and written at a time


def write(frame: pd.DataFrame, path: Path, carried: set[tuple[str, str]] = frozenset()) -> None:
    """Write a findings table as Parquet with the fixed schema and the column `carried`: true for the
    findings an incremental nightly carried from the last run (their (report_id, rule_id) in `carried`,
    nianbao.incremental), false for those found by this run's checks. Written WRITE_BATCH_ROWS at a
    time (one row group each): a bad night's million findings as one Arrow table doubled their memory."""
    with pq.ParquetWriter(path, STORED_SCHEMA) as writer:
        for start in range(0, len(frame), WRITE_BATCH_ROWS):
            part = frame.iloc[start : start + WRITE_BATCH_ROWS]
            table = pa.Table.from_pandas(part[COLUMNS], schema=FINDINGS_SCHEMA, preserve_index=False)
            flags = (
                [(r, k) in carried for r, k in zip(part.report_id.tolist(), part.rule_id.tolist())]
                if carried
                else [False] * len(part)
            )
            writer.write_table(table.append_column(STORED_SCHEMA.field("carried"), pa.array(flags, pa.bool_())))
        if not len(frame):
            writer.write_table(STORED_SCHEMA.empty_table())


def table_where(path: Path, keep: Callable[[pa.RecordBatch], pa.Array]) -> pa.Table:
    """The rows of a Parquet file that `keep` marks, read a batch at a time (the rows left out are never
    all in memory)."""
    source = pq.ParquetFile(path)
    batches = [b.filter(keep(b)) for b in source.iter_batches(batch_size=WRITE_BATCH_ROWS)]
    return pa.Table.from_batches(batches, schema=source.schema_arrow)


def read_where(path: Path, keep: Callable[[pa.RecordBatch], pa.Array]) -> pd.DataFrame:
    """The findings of a findings.parquet whose rows `keep` marks (table_where)."""
    return to_frame(table_where(path, keep).to_pandas())


def read(path: Path) -> pd.DataFrame:
    return to_frame(pq.read_table(path).to_pandas())


def counts(findings: pd.DataFrame, resolved: pd.DataFrame) -> dict:
    """Counts by rule, severity, status and history for run_results.json; waived findings are counted
    apart (`waived`), never as failures."""
    waived = int(findings.waived.fillna(False).astype(bool).sum()) if "waived" in findings.columns else 0
    if waived:
        findings = findings[~findings.waived.fillna(False).astype(bool)]
    by_rule: dict[str, dict] = {}
    for (rule_id, status), n in findings.groupby(["rule_id", "status"]).size().items():
        entry = by_rule.setdefault(
            rule_id,
            {
                "severity": R.RULES_BY_ID[rule_id].severity if rule_id in R.RULES_BY_ID else None,
                FAILED: 0,
                NOT_ASSESSABLE: 0,
            },
        )
        entry[status] = int(n)
    failed = findings[findings.status == FAILED]
    return {
        "findings": len(findings),
        "failing_reports": int(failed.report_id.nunique()),
        "reports_with_findings": int(findings.report_id.nunique()),
        "by_severity": {s: int((failed.severity == s).sum()) for s in (R.ERROR, R.WARN)},
        "by_status": {s: int((findings.status == s).sum()) for s in (FAILED, NOT_ASSESSABLE)},
        "by_rule": dict(sorted(by_rule.items())),
        "history": {
            NEW: int((findings.history == NEW).sum()),
            PERSISTING: int((findings.history == PERSISTING).sum()),
            RESOLVED: len(resolved),
        },
        "waived": waived,
    }
