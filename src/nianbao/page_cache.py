"""Agency pages a night need not write again: a page is a function of its content key.

An agency page shows one report (its rows, which nianbao.incremental hashes), its findings, the
findings resolved since the last run, where the error is, and its history, as this version of
nianbao renders them. The key hashes all of them. A page whose key is the one the previous run wrote
is that run's file, hard-linked into tonight's build: a night of 1,000 changes at 1,000,000 reports
drew 24,000 pages (25 KB each), all but about 2,000 of them the same bytes as the night before
(benchmarks/scale.md).

For that, nothing on a page is tonight's alone: the time it shows is when its results last changed
(the run that first made its key, carried from run to run in PAGES_FILE), its GX links go through one
page per suite (nianbao/gx/, written every run), and its timeline shows a current finding's last run
as 最近一次运行, not tonight's run id.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .frames import isin

PAGES_FILE = "agency_pages.parquet"  # in each run folder: the key and result time of every page written
SCHEMA = pa.schema([("report_id", pa.string()), ("key", pa.string()), ("since", pa.string())])
# Columns of a finding that change every run without changing its page (its run, when it was last seen).
NIGHTLY_FIELDS = frozenset({"run_id", "last_seen", "carried"})


CONTENT_COLUMNS = ("report_id", "meta_hash", "table_hash", "text_hash")  # of nianbao.incremental's hashes


def content_hashes(hashes: pa.Table | None) -> Callable[[list[str]], dict[str, str]]:
    """What gives the content hash of each of a list of reports (their meta, tables and text hashed by
    nianbao.incremental); a report without hashes has none, and its page is always written."""

    def lookup(ids: list[str]) -> dict[str, str]:
        if hashes is None or not hashes.num_rows or not ids:
            return {}
        rows = hashes.filter(pc.is_in(hashes["report_id"], value_set=pa.array(ids, pa.string())))
        parts = zip(*(rows[c].to_pylist() for c in CONTENT_COLUMNS))
        return {rid: f"{m}|{t}|{x}" for rid, m, t, x in parts}

    return lookup


def read(run_dir: Path | None) -> dict[str, tuple[str, str]]:
    """The keys and result times of the pages a run wrote: report id -> (key, since); none if unreadable."""
    path = None if run_dir is None else run_dir / PAGES_FILE
    if path is None or not path.is_file():
        return {}
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid):  # a damaged file costs one night of writing every page
        return {}
    return dict(zip(table["report_id"].to_pylist(), zip(table["key"].to_pylist(), table["since"].to_pylist())))


def _per_report(rows: pd.DataFrame | pa.Table, columns: list[str], ids: pd.Index) -> np.ndarray:
    """One uint64 per report of `ids` for its rows (0 for none): each row's hash, of its values as text
    (a number is the same whether its chunk made the column integers or floats), times an odd weight by
    its place among the report's rows, summed with wrap-around. A changed, added, removed or moved row
    changes it."""
    out = np.zeros(len(ids), dtype=np.uint64)
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(rows, preserve_index=False)
    if not table.num_rows:
        return out
    text = pa.table({c: pc.cast(table[c], pa.string()) for c in columns}).to_pandas()
    hashed = pd.util.hash_pandas_object(text, index=False).to_numpy()
    report_ids = table["report_id"].to_pandas()
    place = report_ids.groupby(report_ids, sort=False).cumcount().to_numpy().astype(np.uint64)
    summed = pd.Series(hashed * (2 * place + 1), index=report_ids.to_numpy()).groupby(level=0).sum()
    at = ids.get_indexer(summed.index)
    out[at[at >= 0]] = summed.to_numpy()[at >= 0]
    return out


def _stable_columns(rows: pd.DataFrame | pa.Table) -> list[str]:
    """The columns of findings or diagnoses that do not change every run."""
    names = rows.column_names if isinstance(rows, pa.Table) else list(rows.columns)
    return [c for c in names if c not in NIGHTLY_FIELDS]


@dataclass
class PageCache:
    """The previous run's pages and keys, and the keys of tonight's pages as they are made."""

    base: str  # what every key starts from: nianbao's state hash (code, suites, rules, plugins)
    now: str  # this run's start (run_results.json's started_at)
    hashes: Callable[[list[str]], dict[str, str]]  # content_hashes
    before: dict[str, tuple[str, str]] = field(default_factory=dict)  # read(previous run)
    pages_before: Path | None = None  # the previous build's agency pages, when they may be linked
    run_id: str = ""  # this run: a current finding's last run in the history
    history: pd.DataFrame | None = None  # the history's state after this run (nianbao.ledger), when kept
    made: dict[str, tuple[str, str]] = field(default_factory=dict)
    linked: int = 0

    def keys(
        self, ids: list[str], findings: pd.DataFrame, resolved: pd.DataFrame, diagnoses: pa.Table, gx_suites
    ) -> dict[str, str | None]:
        """The content keys of the pages of `ids` (None: no content hash, always written): their reports'
        content hashes, their findings and resolved findings (without what changes every run), whether
        each finding's suite has a GX page, their diagnoses and their history (self.history; a current
        finding's last run is this run). Hashed in columns, not page by page: a night links 28,000 pages
        and draws a few hundred."""
        index = pd.Index(ids)
        mine = findings[isin(findings.report_id, index)]
        mine = mine.assign(_gx=mine.suite.isin(list(gx_suites)))
        located = diagnoses.filter(pc.is_in(diagnoses["report_id"], value_set=pa.array(ids, pa.string())))
        parts = [
            _per_report(mine, _stable_columns(mine), index),
            _per_report(resolved[isin(resolved.report_id, index)], _stable_columns(resolved), index),
            _per_report(located, _stable_columns(located), index),
        ]
        if self.history is not None and len(self.history):
            seen = self.history[isin(self.history.report_id, index)].sort_values(["report_id", "rule_id"])
            seen = seen.assign(last_seen=seen.last_seen.where(seen.last_seen != self.run_id, "*"))
            parts.append(_per_report(seen, [c for c in seen.columns if c != "fingerprint"], index))
        content = self.hashes(ids)
        out: dict[str, str | None] = {}
        for rid, *hashed in zip(ids, *(part.tolist() for part in parts)):
            known = content.get(rid)
            text = f"{self.base}|{known}|{hashed}"
            out[rid] = None if known is None else hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        return out

    def since(self, rid: str, key: str | None) -> str:
        """When the page's results last changed: the run that first made this key (recorded), else now."""
        old = self.before.get(rid)
        since = old[1] if old is not None and key is not None and old[0] == key else self.now
        if key is not None:
            self.made[rid] = (key, since)
        return since

    def link(self, rid: str, key: str | None, to: Path) -> bool:
        """Hard-link the previous build's page to `to` when its key is this one; False to write it."""
        old = self.before.get(rid)
        if self.pages_before is None or key is None or old is None or old[0] != key:
            return False
        source = self.pages_before / f"{rid}.html"
        try:
            os.link(source, to)
        except FileNotFoundError:
            return False
        except OSError:  # a file system without hard links: a copy still saves the rendering
            try:
                shutil.copyfile(source, to)
            except OSError:
                return False
        self.made[rid] = old
        self.linked += 1
        return True

    def table(self) -> pa.Table:
        """The keys of tonight's pages, for PAGES_FILE."""
        ids = sorted(self.made)
        return pa.table(
            {"report_id": ids, "key": [self.made[r][0] for r in ids], "since": [self.made[r][1] for r in ids]},
            schema=SCHEMA,
        )
