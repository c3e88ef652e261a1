"""The incremental nightly (like dbt's state:modified): validate again only what changed since the last
completed nightly, carry the other reports' findings forward, and get what a full run would.

A run is full when nothing safe can be carried: no previous completed run of the scope, its outputs
unreadable, or the state hash changed (suites, checkpoints, the rule catalogue, plugins, nianbao's
version: what judges the rows). Otherwise each report's content hash (every row of every data-folder
table, per report, order-independent, from sums kept per data file: nianbao.report_sums) says which
reports are new or corrected, and revalidate() adds the reports whose findings read theirs. What a run
records for the next one (report_hashes.parquet in the run folder): the hashes and their sums, each
report's year and agency key, and the suites whose assets held it; report_files.parquet, the files summed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import agency_key, datafolder, derived, duck, localise, paths, report_sums
from . import findings as F
from . import rules as R

HASHES_FILE = "report_hashes.parquet"
STATE_KEY = "state_hash"  # in run_results.json
HASHES_SCHEMA = pa.schema(
    [
        pa.field("report_id", pa.string()),
        pa.field("year", pa.int32()),
        pa.field("agency_key", pa.string()),  # nianbao.agency_key: who the cross-year rules link
        pa.field("meta_hash", pa.string()),  # the reports row
        pa.field("table_hash", pa.string()),  # the statutory tables
        pa.field("text_hash", pa.string()),  # sections and versions: what the report-text asset reads
        pa.field("has_text", pa.bool_()),
        pa.field("suites", pa.string()),  # comma-separated suites whose assets held the report
        *(f for f in report_sums.SUMS_SCHEMA if f.name != "report_id"),  # what the hashes are of
    ]
)
# The data folder's tables the suites read (nianbao.derived.TABLES). Not `cells`: it only locates the
# printed values on the pages, which are written again from the data folder every night.
TEXT_TABLES = (datafolder.SECTIONS, datafolder.VERSIONS)
META_TABLES = (datafolder.REPORTS,)
TABLE_TABLES = tuple(t for t in derived.TABLES if t not in TEXT_TABLES + META_TABLES)  # the statutory tables
assert set(derived.TABLES) == {*TEXT_TABLES, *META_TABLES, *TABLE_TABLES}
HASH_COLUMNS = ("meta_hash", "table_hash", "text_hash", "agency_key")


# --- the state hash --------------------------------------------------------------------------------


def _files_digest(h, folder: Path, pattern: str) -> None:
    for path in sorted(folder.glob(pattern)) if folder.is_dir() else ():
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")


def state_hash(version: str) -> str:
    """What judges the rows: the suites, the checkpoints, the rule catalogue as data, the plugins and
    nianbao's version and code. Any change makes the next nightly full (findings carried from another state
    would not be what a full run finds)."""
    h = hashlib.sha256()
    for name, pattern in (("expectations", "*.json"), ("checkpoints", "**/*"), ("plugins", "**/*")):
        h.update(f"[{name}]".encode())
        _files_digest(h, paths.ROOT / name, pattern)
    rules = [dataclasses.asdict(r) for r in R.RULES]
    h.update(json.dumps(rules, sort_keys=True, ensure_ascii=False, default=str).encode())
    h.update(f"[version]{version}".encode())
    # Whether reports are localised: a night with it off has no diagnoses to carry.
    h.update(f"[localise]{localise.disabled()}".encode())
    # nianbao's own code too: its parsers of the text, its derived assets and explanations judge rows,
    # and an installed checkout keeps its version number while its code changes.
    h.update(b"[code]")
    _files_digest(h, Path(__file__).resolve().parent, "**/*.py")
    return h.hexdigest()


# --- per-report content hashes ------------------------------------------------------------------


_PARTS = {  # each table's part of a report's hashes
    **dict.fromkeys(META_TABLES, "meta"),
    **dict.fromkeys(TABLE_TABLES, "table"),
    **dict.fromkeys(TEXT_TABLES, "text"),
}


def _hashed(con, sums: str, years: str, keys: str) -> pa.Table:
    """Each report's hashes (HASHES_SCHEMA, suites blank) from its sums (nianbao.report_sums), with its
    year from `years` and agency key from `keys` (relations with report_id): per part (meta, table, text),
    the hash of the sum of its rows' 64-bit hashes (order-independent; a repeated row still counts, as it
    would not under XOR) and of its row count. DuckDB's own row hash: a quarter of the time of an md5 of
    each row as JSON (measured on the sections of a million reports, 3.2 s against 13.6 s). Not in report
    order: nothing reads the hashes in order (a sort of a million ids took 2 s)."""
    parts = ", ".join(f"hash(m.{p}_sum::HUGEINT, m.{p}_rows)::VARCHAR AS {p}_hash" for p in report_sums.PARTS)
    sums_columns = ", ".join("m." + c for c in report_sums.SUM_COLUMNS)
    return (
        con.sql(
            f"""SELECT m.report_id, y.year, k.agency_key, {parts}, m.text_rows > 0 AS has_text, '' AS suites,
  {sums_columns}
FROM {sums} AS m LEFT JOIN {years} AS y USING (report_id) LEFT JOIN {keys} AS k USING (report_id)"""
        )
        .to_arrow_table()
        .select(HASHES_SCHEMA.names)
        .cast(HASHES_SCHEMA)
    )


@dataclass(frozen=True)
class Hashed:
    """Tonight's report hashes and the agency keys made for them: the engine takes the keys as they are
    (nianbao.derived.build_inputs) instead of building them a second time."""

    hashes: pa.Table  # HASHES_SCHEMA, suites empty
    keys: pa.Table  # (report_id, agency_key), nianbao.agency_key.build_keys's table
    keys_record: dict  # what build_keys records for run_results.json
    files: pa.Table  # nianbao.report_sums.FILES_SCHEMA: the files summed, for the next night
    files_record: dict  # files read, kept and gone

    @property
    def agency_keys(self) -> tuple[pa.Table, dict]:
        return self.keys, self.keys_record


def report_hashes(
    snapshot: datafolder.Snapshot,
    entries: Path | None = None,
    previous: Path | None = None,
    before: pa.Table | None = None,
) -> Hashed:
    """Every report's hashes, year and agency key, over every table of the snapshot the suites read:
    from the sums the last run `previous` kept per file (nianbao.report_sums, entries under `entries`),
    reading only the files new or changed since; every file without them.

    before: the last run's hashes, made under tonight's state. Then a night whose reports table is as it
    was takes each report's year and agency key from them (keys depend on the reports table alone, as
    nianbao.agency_key builds them), and only the reports whose sums changed are hashed again; otherwise
    the keys are built over the whole data folder, as the run builds them."""
    con = duck.connect()
    try:
        with contextlib.ExitStack() as stack:
            if entries is None:  # nothing kept: every file read, its entries thrown away
                entries = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nianbao-sums-")))
                previous = None
            last = report_sums.read_previous(previous, HASHES_FILE, before)
            summed = report_sums.update(con, snapshot, _PARTS, entries, last)
        known = _keys_record(last[0]) if before is not None and last is not None else None
        if known is not None and summed.changed is not None and datafolder.REPORTS not in summed.tables_read:
            hashes = _rehashed(con, before, summed)
            keys = before.filter(pc.greater(before["meta_rows"], 0)).select(["report_id", "agency_key"])
            record = {**summed.record, "agency_keys_built": False}
            return Hashed(hashes, keys, known, _with_keys_record(summed.files, known), record)
        reports = snapshot.source(datafolder.REPORTS)
        con.execute(
            "CREATE VIEW inc_reports AS SELECT report_id, agency, region, CAST(year AS INTEGER) AS year "
            + (
                f"FROM {reports}"
                if reports
                else "FROM (SELECT NULL AS report_id, NULL AS agency, NULL AS region, NULL AS year) WHERE false"
            )
        )
        keys_record = agency_key.build_keys(con, "inc_", "agency_keys")
        con.register("inc_sums", summed.sums)
        hashes = _hashed(con, "inc_sums", "inc_reports", "inc_agency_keys")
        keys = con.sql("SELECT report_id, agency_key FROM inc_agency_keys").to_arrow_table()
        record = {**summed.record, "agency_keys_built": True}
        return Hashed(hashes, keys, keys_record, _with_keys_record(summed.files, keys_record), record)
    finally:
        con.close()


def _rehashed(con, before: pa.Table, summed: report_sums.Summed) -> pa.Table:
    """Tonight's hashes when the reports table is as it was: the last run's rows of the reports whose
    sums are the same, the others hashed from their new sums with their year and key of the last run
    (a report without one has no row in the reports table, then or now)."""
    moved = pc.is_in(before["report_id"], value_set=summed.changed)
    kept = before.filter(pc.invert(moved))
    kept = kept.set_column(kept.schema.get_field_index("suites"), "suites", pa.array([""] * kept.num_rows, pa.string()))
    new = summed.sums.filter(pc.is_in(summed.sums["report_id"], value_set=summed.changed))
    con.register("inc_sums", new)
    con.register("inc_before", before.filter(moved).select(["report_id", "year", "agency_key"]))
    return pa.concat_tables([kept.cast(HASHES_SCHEMA), _hashed(con, "inc_sums", "inc_before", "inc_before")])


_KEYS_RECORD = b"agency_keys"  # report_files.parquet's metadata: what build_keys recorded for the keys


def _with_keys_record(files: pa.Table, record: dict) -> pa.Table:
    return files.replace_schema_metadata({_KEYS_RECORD: json.dumps(record, ensure_ascii=False, default=str)})


def _keys_record(files: pa.Table) -> dict | None:
    """What the last run's build of the agency keys recorded, from its list of files; None if not there."""
    meta = files.schema.metadata or {}
    try:
        return json.loads(meta[_KEYS_RECORD]) if _KEYS_RECORD in meta else None
    except ValueError:
        return None


def suite_members(con) -> dict[str, list[str]]:
    """Per report, the suites whose assets on the DuckDB engine hold it (what reports_validated counts)."""
    out: dict[str, list[str]] = {}
    cursor = con.cursor()
    try:
        for suite in R.ALL_SUITES:
            for (rid,) in cursor.execute(f"SELECT DISTINCT report_id FROM {suite}").fetchall():
                out.setdefault(rid, []).append(suite)
    finally:
        cursor.close()
    return out


def with_suites(hashes: pa.Table, tonight: dict[str, list[str]], carried: pa.Table) -> pa.Table:
    """The hashes with each report's suites: tonight's for the reports validated, the last run's for the
    reports carried (their assets' rows are what they were: nothing they read has changed). carried:
    (report_id, suites) rows (carried_suites). A join in Arrow: a Python loop over a million ids took 2 s."""
    names = pa.table(
        {"report_id": list(tonight), "suites": [",".join(v) for v in tonight.values()]}, schema=_SUITES_SCHEMA
    )
    carried = carried.filter(pc.invert(pc.is_in(carried["report_id"], value_set=names["report_id"])))
    known = pa.concat_tables([names, carried.select(["report_id", "suites"]).cast(_SUITES_SCHEMA)])
    ids = hashes["report_id"]
    at = pc.index_in(ids, value_set=known["report_id"])
    suites = pc.fill_null(pc.take(known["suites"], at), "")
    return hashes.set_column(hashes.schema.get_field_index("suites"), "suites", suites.cast(pa.string()))


_SUITES_SCHEMA = pa.schema([("report_id", pa.string()), ("suites", pa.string())])


def covered(hashes: pa.Table) -> int:
    """reports_validated as a full run counts it (nianbao.run.outputs.reports_validated): per table, the
    rows of its suites' assets, the largest. Counted per distinct suites string (a few dozen)."""
    per_suite: dict[str, int] = {}
    counts = pc.value_counts(hashes["suites"])
    for suites, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()):
        for s in filter(None, (suites or "").split(",")):
            per_suite[s] = per_suite.get(s, 0) + n
    per_table: dict[str, int] = {}
    for suite, n in per_suite.items():
        table = R.SUITES.get(suite, (suite,))[0]
        per_table[table] = per_table.get(table, 0) + n
    return max(per_table.values(), default=0)


# --- what to validate again -------------------------------------------------------------------------


@dataclass
class Plan:
    """What tonight validates: everything (full) or the reports in `revalidate`; the rest is carried."""

    full: bool
    reason: str
    hashes: pa.Table  # tonight's (suites filled in after the engine has built the assets)
    previous: Path | None = None
    previous_hashes: pa.Table | None = None
    changed: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    revalidate: tuple[str, ...] = ()
    carried: pa.Array = dataclasses.field(default_factory=lambda: pa.array([], pa.string()))  # a million ids
    files: pa.Table | None = None  # nianbao.report_sums.FILES_SCHEMA: what the hashes were summed from
    files_record: dict = dataclasses.field(default_factory=dict)

    def summary(self, carried_findings: int) -> dict:
        return {
            "full": self.full,
            "reason": self.reason,
            "changed": len(self.changed),
            "deleted": len(self.deleted),
            "revalidated": None if self.full else len(self.revalidate),
            "carried_findings": carried_findings,
            **self.files_record,
        }


def _previous_state(previous: Path) -> tuple[str | None, pa.Table | None]:
    """The last run's state hash and report hashes; (why, None) when its outputs cannot be read."""
    try:
        doc = json.loads((previous / "run_results.json").read_text(encoding="utf-8"))
        hashes = pq.read_table(previous / HASHES_FILE).cast(HASHES_SCHEMA)
        for name in ("findings.parquet", "diagnoses.parquet"):  # readable: their rows are carried
            pq.read_metadata(previous / name)
    except (OSError, ValueError, pa.ArrowException) as exc:  # a run whose outputs cannot be read: run full
        return f"unreadable: {type(exc).__name__}", None
    return doc.get(STATE_KEY), hashes


def _judged_everything(previous: Path) -> bool:
    """Whether the last run judged every expectation: one that raised gave no findings to carry, and
    findings that disagreed with GX are not to be trusted (nianbao.run.checkpoint.CONFIG_PROBLEMS)."""
    doc = json.loads((previous / "run_results.json").read_text(encoding="utf-8"))
    codes = {p.get("code") for p in doc.get("problems") or []}
    return not doc.get("raised") and not codes & {"findings-disagree-with-gx", "unknown-expectation"}


def full_reason(previous: Path | None, state: str, *, full_refresh: bool) -> tuple[str | None, pa.Table | None]:
    """Why tonight must be full, known before the data is read (then the report hashes are computed
    beside the engine's work, not before it); else (None, the last run's report hashes)."""
    if full_refresh:
        return "--full-refresh", None
    if previous is None:
        return "没有可对比的上次完成的 nightly 运行", None
    before_state, before = _previous_state(previous)
    if before is None:
        return f"上次运行 {previous.name} 的结果无法读取({before_state})", None
    if before_state != state:
        return "规则、期望套件、检查点、插件或版本已变化(状态哈希不同)", None
    if not _judged_everything(previous):  # its findings are not all a full run's: nothing to carry
        return f"上次运行 {previous.name} 有期望执行出错或与 GX 不一致的问题", None
    return None, before


def compare(hashed: Hashed, previous: Path, before: pa.Table) -> Plan:
    """Full or incremental, and which reports tonight validates again: from tonight's hashes and the last
    run's (`before`, read by full_reason)."""
    hashes = hashed.hashes
    changed, deleted, revalidate = revalidate_ids(hashes, before)
    again = pa.array(sorted(revalidate), pa.string())
    carried = hashes["report_id"].filter(pc.invert(pc.is_in(hashes["report_id"], value_set=again)))
    files = {"files": hashed.files, "files_record": hashed.files_record}
    if not len(carried):  # revalidate holds only tonight's reports
        return Plan(True, "所有报告都需重新检查", hashes, previous, before, changed, deleted, **files)
    return Plan(
        False,
        "增量:只检查新增、更正的报告及依赖它们的报告",
        hashes,
        previous,
        before,
        changed,
        deleted,
        tuple(again.to_pylist()),
        carried.combine_chunks(),
        **files,
    )


def revalidate_ids(now: pa.Table, before: pa.Table) -> tuple[tuple[str, ...], tuple[str, ...], set[str]]:
    """(changed, deleted, to validate again). Changed: new, or any hash, the year or the agency key differs.

    The two nights' hashes are compared in DuckDB (only the rows that differ come back to Python), then
    the reports to validate again are picked out of tonight's with Arrow: pandas set arithmetic over a
    million ids took 5 s."""
    cols = ["report_id", "year", *HASH_COLUMNS, "has_text"]
    con = duck.connect()
    try:
        con.register("now_h", now.select(cols))
        con.register("old_h", before.select(cols))
        distinct = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in (*HASH_COLUMNS, "year"))
        text_distinct = " OR ".join(
            f"n.{c} IS DISTINCT FROM o.{c}" for c in ("meta_hash", "text_hash", "agency_key", "year")
        )
        diff = con.sql(
            f"""SELECT coalesce(n.report_id, o.report_id) AS report_id, n.report_id IS NULL AS deleted,
  n.year AS year_now, o.year AS year_old, n.agency_key AS key_now, o.agency_key AS key_old,
  (coalesce(n.has_text, false) OR coalesce(o.has_text, false))
    AND (n.report_id IS NULL OR o.report_id IS NULL OR {text_distinct}) AS text_changed
FROM now_h AS n FULL OUTER JOIN old_h AS o ON n.report_id = o.report_id
WHERE n.report_id IS NULL OR o.report_id IS NULL OR {distinct}"""
        ).to_arrow_table()
    finally:
        con.close()
    rows = diff.to_pylist()
    changed = {r["report_id"] for r in rows if not r["deleted"]}
    deleted = {r["report_id"] for r in rows if r["deleted"]}
    # The changed reports themselves: their own rows are what every suite reads.
    revalidate = set(changed)
    # Their agency's reports in every other year, under the key they had and the key they have: R11/R12
    # on year Y read the agency's report of Y-1 (year_pairs), and a report is a year_pairs row only while
    # its agency has an earlier report; a key that appears or goes (two reports of one year, a name that
    # fits two regions) changes which reports are linked at all.
    keys = {k for r in rows for k in (r["key_now"], r["key_old"]) if k is not None}
    # The report-text suite: R30.same_year compares a report with every other agency's report of its
    # year, and the year's template sentences are counted over all of them; R30.previous_year compares it
    # with the agency's report of the year before. So a report with text that is new, deleted, or changed
    # in its text, metadata, year or key makes every report of its year (then and now) and of the year
    # after checked again. A change in its tables alone does not: other reports' text facts never read them.
    years = {
        int(y) + d
        for r in rows
        if r["text_changed"]
        for y in (r["year_now"], r["year_old"])
        if y is not None
        for d in (0, 1)
    }
    picked = pc.or_(
        pc.is_in(now["agency_key"], value_set=pa.array(sorted(keys), now.schema.field("agency_key").type)),
        pc.is_in(now["year"], value_set=pa.array(sorted(years), now.schema.field("year").type)),
    )
    revalidate.update(now["report_id"].filter(pc.fill_null(picked, False)).to_pylist())
    return tuple(sorted(changed)), tuple(sorted(deleted)), revalidate


# --- carrying ----------------------------------------------------------------------------------------


def carried_findings(p: Plan, run_id: str) -> pd.DataFrame:
    """The last run's findings of the reports not validated tonight, as tonight's run would find them:
    its run id, history, waivers and first/last seen are set again after (nianbao.run.outputs). Only
    the suites' findings: the run-level ones (R28/R29, nianbao.roster) are checked again every night.
    Filtered in Arrow before pandas sees them (Series.isin over a million carried ids took 8 s)."""
    if p.full or not len(p.carried):
        return F.empty()
    ids = p.carried
    suites = pa.array(sorted(R.ALL_SUITES), pa.string())
    out = F.read_where(
        p.previous / "findings.parquet",
        lambda b: pc.fill_null(
            pc.and_(pc.is_in(b["report_id"], value_set=ids), pc.is_in(b["suite"], value_set=suites)), False
        ),
    )
    out["run_id"] = run_id
    out["history"] = F.NEW
    out["waived"] = False
    out["waiver_reason"] = None
    out["first_seen"] = run_id
    out["last_seen"] = run_id
    return F.to_frame(out)


def carried_diagnoses(p: Plan, run_id: str) -> pa.Table:
    """The last run's localisations of the reports carried, as tonight's: the same values and the same
    failed rules give the same cells (nianbao.localise is deterministic); only the run id is tonight's."""
    if p.full or not len(p.carried):
        return localise.DIAGNOSES_SCHEMA.empty_table()
    ids = p.carried
    t = F.table_where(p.previous / "diagnoses.parquet", lambda b: pc.fill_null(pc.is_in(b["report_id"], ids), False))
    return t.cast(localise.DIAGNOSES_SCHEMA).set_column(0, "run_id", pa.array([run_id] * t.num_rows, pa.string()))


def carried_suites(p: Plan) -> pa.Table:
    """The last run's suites of each report carried, as (report_id, suites) rows (those of the reports
    validated again left out: a few thousand ids to look up, not the million carried)."""
    if p.full or p.previous_hashes is None:
        return _SUITES_SCHEMA.empty_table()
    t = p.previous_hashes
    again = pa.array(p.revalidate, pa.string())
    return t.filter(pc.invert(pc.is_in(t["report_id"], value_set=again))).select(["report_id", "suites"])
