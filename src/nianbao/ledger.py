"""Finding history across every run of a scope: an append-only store, one events file per run.

    uncommitted/history/<scope id>/scope.json           the scope (checkpoint, data folder, selection)
    uncommitted/history/<scope id>/events-<RUN>.parquet one per completed run, written once, never rewritten

A run's events file lists every finding it saw (`opened` the first time, `reopened` when it comes back
after being resolved, `seen` otherwise) and every open finding it no longer saw (`resolved`). The state
of a fingerprint (first seen, last seen, resolved, reopened) is folded from all files in run order, so
deleting run folders (`nianbao prune`) loses none of it, and no earlier row is ever changed.

    uncommitted/history/<scope id>/state-<RUN>.parquet  the state after that run (a cache: the latest two kept)

A night reads the latest state before it and the events files after that one, not every file since the
first run: a scope of a year of nightlies at 40,000 findings a night holds 15 million events rows.
Without a readable state file the events are folded from the start, to the same state.

A finding's fingerprint is its report and rule (report_id + rule_id). The cells and printed values are
not part of it: a report that corrects one figure of a broken identity but still breaks it has the same
problem, not a fixed one and a new one; and an auditor follows an agency up by rule. The status is not
part of it either: an identity that becomes not assessable after a blank is still not shown to hold.
Runs of different scopes (the nightly run over data/, over another folder, a gate for one draft) keep
separate histories, as they are compared separately (nianbao.run.history).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import paths
from .frames import isin

OPENED, SEEN, REOPENED, RESOLVED = "opened", "seen", "reopened", "resolved"
EVENTS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("fingerprint", pa.string()),
        pa.field("report_id", pa.string()),
        pa.field("rule_id", pa.string()),
        pa.field("event", pa.string()),  # opened | seen | reopened | resolved
        pa.field("first_seen", pa.string()),  # carried on every row: one file tells a finding's age
        pa.field("agency", pa.string()),
        pa.field("region", pa.string()),
        pa.field("year", pa.int32()),
        pa.field("severity", pa.string()),
        pa.field("status", pa.string()),
        pa.field("waived", pa.bool_()),
    ]
)
STATE_COLUMNS = ["fingerprint", "report_id", "rule_id", "first_seen", "last_seen", "resolved_at", "reopened"]


def history_dir() -> Path:
    return paths.UNCOMMITTED / "history"


def fingerprint(report_id: str, rule_id: str) -> str:
    """A finding's identity across runs (see the module doc for why cells and values are left out)."""
    return f"{report_id}:{rule_id}"


def scope_id(scope: dict) -> str:
    """A folder name for a scope: readable checkpoint, then a hash of the whole scope."""
    doc = json.dumps(scope, ensure_ascii=False, sort_keys=True)
    name = "".join(c if c.isalnum() else "-" for c in str(scope.get("checkpoint", "run")))[:40]
    return f"{name}-{hashlib.sha256(doc.encode()).hexdigest()[:16]}"


def scope_dir(scope: dict) -> Path:
    return history_dir() / scope_id(scope)


def event_files(scope: dict, before: str | None = None) -> list[Path]:
    """The scope's events files in run order (run ids sort by time), those before run `before` only."""
    folder = scope_dir(scope)
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("events-*.parquet"))
    return [f for f in files if before is None or _run_of(f) < before]


def _run_of(path: Path) -> str:
    """The run of an events-RUN.parquet or state-RUN.parquet file."""
    return path.stem.split("-", 1)[1]


STATES_KEPT = 2  # state files kept per scope (the newest): one that a crash left unreadable has a fallback
_STATE_EVENTS = ["run_id", "fingerprint", "report_id", "rule_id", "event"]  # what fold() reads


def _state_file(scope: dict, run_id: str) -> Path:
    return scope_dir(scope) / f"state-{run_id}.parquet"


def write_state(scope: dict, run_id: str, state: pd.DataFrame) -> Path:
    """The state after run `run_id` (fold's columns), written atomically; older state files beyond
    STATES_KEPT removed (the events files stay: they are the history, these are a cache of it)."""
    final = _state_file(scope, run_id)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    pq.write_table(pa.Table.from_pandas(state[STATE_COLUMNS], preserve_index=False), tmp)
    os.replace(tmp, final)
    for old in sorted(final.parent.glob("state-*.parquet"))[:-STATES_KEPT]:
        old.unlink(missing_ok=True)
    return final


def _as_events(state: pd.DataFrame) -> pd.DataFrame:
    """Events that fold() folds to `state`: seen at the first and the last run, resolved at resolved_at,
    reopened at each run listed; folded with later events, they give what all the events would."""
    parts = [
        state.assign(run_id=state.first_seen, event=SEEN),
        state.assign(run_id=state.last_seen, event=SEEN),
        state[state.resolved_at.notna()].assign(run_id=lambda d: d.resolved_at, event=RESOLVED),
    ]
    runs = state.reopened.fillna("").str.split()
    again = state.assign(run_id=runs).explode("run_id")
    parts.append(again[again.run_id.notna()].assign(event=REOPENED))
    # As strings, as read from the events files: an object column made pandas' groupby min/max fall back
    # to Python per group (45,000 findings: 8 s against 0.3 s).
    return pd.concat([p[_STATE_EVENTS] for p in parts], ignore_index=True).astype("str")


def history_before(scope: dict, run_id: str) -> pd.DataFrame:
    """What fold() needs of the scope's history before run `run_id`: the latest state file written
    before it, as events, and the events files after that one (or every events file, without one)."""
    files = event_files(scope, before=run_id)
    runs = {_run_of(f) for f in files}
    folder = scope_dir(scope)
    cached = sorted(folder.glob("state-*.parquet")) if folder.is_dir() else []
    for path in reversed(cached):
        since = _run_of(path)
        if since not in runs:  # not a run before this one (or its events file is gone): not this history
            continue
        try:
            state = pq.read_table(path, columns=STATE_COLUMNS).to_pandas()
        except (OSError, pa.ArrowException):  # a cache: fold the events instead
            continue
        later = [f for f in files if _run_of(f) > since]
        tables = [pq.read_table(f, columns=_STATE_EVENTS) for f in later]
        return pd.concat([_as_events(state), *(t.to_pandas() for t in tables)], ignore_index=True)
    return read_events(scope, before=run_id, columns=_STATE_EVENTS)


def read_events(scope: dict, before: str | None = None, columns: list[str] | None = None) -> pd.DataFrame:
    files = event_files(scope, before)
    schema = EVENTS_SCHEMA if columns is None else pa.schema([EVENTS_SCHEMA.field(c) for c in columns])
    if not files:
        return schema.empty_table().to_pandas()
    return pa.concat_tables([pq.read_table(f, columns=schema.names) for f in files]).to_pandas()


def fold(events: pd.DataFrame) -> pd.DataFrame:
    """Per fingerprint: first and last run seen, the run that resolved it (None while open), and the
    runs in which it came back after being resolved (space separated)."""
    if events.empty:
        return pd.DataFrame(columns=STATE_COLUMNS)
    seen = events[events.event != RESOLVED]
    g = seen.groupby("fingerprint", sort=True)
    state = pd.DataFrame(
        {
            "report_id": g.report_id.first(),
            "rule_id": g.rule_id.first(),
            "first_seen": g.run_id.min(),
            "last_seen": g.run_id.max(),
        }
    )
    last_resolved = events[events.event == RESOLVED].groupby("fingerprint").run_id.max()
    resolved = last_resolved.reindex(state.index).fillna("")
    # Resolved only when the resolution is later than the last sighting: otherwise it came back since.
    state["resolved_at"] = [r if r > last else None for r, last in zip(resolved, state.last_seen)]
    reopened = events[events.event == REOPENED].groupby("fingerprint").run_id.agg(lambda s: " ".join(sorted(s)))
    state["reopened"] = reopened.reindex(state.index).fillna("")
    return state.reset_index()[STATE_COLUMNS]


def mark(
    findings: pd.DataFrame, run_id: str, scope: dict, still_present: Callable[[set[str]], Iterable[str]]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """This run's findings with first_seen/last_seen, this run's events, and the state after this run.

    `still_present(report_ids)` says which of these reports are still in the data folder: an open
    finding of a report that left it was not corrected, so it is not resolved (as in run history).
    """
    earlier = history_before(scope, run_id)
    state = fold(earlier).set_index("fingerprint")
    # Column by column, never a Python list per column: a bad night has a million findings.
    findings = findings.reset_index(drop=True)  # copy-on-write: shares the columns
    fps = findings.report_id.astype(str) + ":" + findings.rule_id.astype(str)  # fingerprint(), vectorised
    reopening = isin(fps, state.index[state.resolved_at.notna()])
    kinds = np.where(reopening, REOPENED, np.where(isin(fps, state.index), SEEN, OPENED))
    findings["first_seen"] = fps.map(state.first_seen).fillna(run_id).astype(str).array
    findings["last_seen"] = run_id
    waived = (
        findings.waived.fillna(False).astype(bool) if "waived" in findings else pd.Series(False, index=findings.index)
    )
    now = pd.DataFrame(
        {
            "run_id": run_id,
            "fingerprint": fps.array,
            "report_id": findings.report_id.array,
            "rule_id": findings.rule_id.array,
            "event": kinds,
            "first_seen": findings.first_seen.array,
            "agency": findings.agency.array,
            "region": findings.region.array,
            "year": findings.year.array,
            "severity": findings.severity.array,
            "status": findings.status.array,
            "waived": waived.to_numpy(),
        }
    )
    gone = state[state.resolved_at.isna().to_numpy() & ~isin(state.index, fps)]
    present = set(still_present(set(gone.report_id))) if len(gone) else set()
    gone = gone[isin(gone.report_id, present)]
    resolved = pd.DataFrame(
        {
            "run_id": run_id,
            "fingerprint": gone.index.tolist(),
            "report_id": gone.report_id.tolist(),
            "rule_id": gone.rule_id.tolist(),
            "event": RESOLVED,
            "first_seen": gone.first_seen.tolist(),
        }
    )
    events = pa.Table.from_pandas(
        pd.concat([now, resolved], ignore_index=True).reindex(columns=EVENTS_SCHEMA.names),
        schema=EVENTS_SCHEMA,
        preserve_index=False,
    ).to_pandas()
    after = fold(pd.concat([earlier, events[_STATE_EVENTS]], ignore_index=True))
    return findings, events, after


def write_events(scope: dict, run_id: str, events: pd.DataFrame) -> Path:
    """Add this run's events file; an existing one is never replaced (os.link fails if it exists)."""
    folder = scope_dir(scope)
    folder.mkdir(parents=True, exist_ok=True)
    doc = folder / "scope.json"
    if not doc.exists():
        doc.write_text(json.dumps(scope, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    final = folder / f"events-{run_id}.parquet"
    tmp = folder / f".events-{run_id}.{os.getpid()}.tmp"
    pq.write_table(pa.Table.from_pandas(events, schema=EVENTS_SCHEMA, preserve_index=False), tmp)
    try:
        os.link(tmp, final)  # atomic, and refuses to overwrite: history rows are never rewritten
    finally:
        tmp.unlink(missing_ok=True)
    return final


def trends(scope: dict, current: pd.DataFrame, last_runs: int = 10) -> pd.DataFrame:
    """Findings counted per run, region and rule over the last runs (this one's events included), waived
    findings left out: columns run_id, region, rule_id, n."""
    files = event_files(scope, before=current.run_id.iloc[0] if len(current) else None)
    columns = ["run_id", "region", "rule_id", "event", "waived"]
    frames = [pq.read_table(f, columns=columns).to_pandas() for f in files[-(last_runs - 1) :]] if last_runs > 1 else []
    frames.append(current[columns])
    ev = pd.concat(frames, ignore_index=True)
    ev = ev[(ev.event != RESOLVED) & ~ev.waived.fillna(False).astype(bool)]
    return ev.groupby(["run_id", "region", "rule_id"], dropna=False).size().rename("n").reset_index()


def runs_in(scope: dict, current_run: str, last_runs: int = 10) -> list[str]:
    """The run ids of the last runs of the scope, this one last."""
    earlier = [_run_of(f) for f in event_files(scope, before=current_run)]
    return [*earlier[-(last_runs - 1) :], current_run] if last_runs > 1 else [current_run]


def timelines(state: pd.DataFrame, report_ids: Iterable[str] | None = None) -> dict[str, list[dict]]:
    """Per report: its fingerprints' histories (rule, first seen, last seen, resolved, reopened)."""
    rows = state if report_ids is None else state[isin(state.report_id, set(report_ids))]
    # Through Arrow: pandas' to_dict("records") took a second for a night's 50,000 rows.
    table = pa.Table.from_pandas(rows, preserve_index=False)
    out: dict[str, list[dict]] = {}
    for rec in table.sort_by([("report_id", "ascending"), ("rule_id", "ascending")]).to_pylist():
        out.setdefault(rec["report_id"], []).append(rec)
    return out
