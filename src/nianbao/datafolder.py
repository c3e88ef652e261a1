"""The data folder: DATA/<table>/*.parquet, one folder per table. This module owns the table names,
finding a table's files, reading reports back, and writing tables as atomic snapshots.

Tables: `reports` (one row per report), the three statutory tables (nianbao.schema.STATUTORY_TABLES)
`cells` (every statutory cell as printed) and `sections` (the report's text by part; a folder written
before it existed has no sections/ folder, read as an empty table).

Snapshots. Files are never changed once written. Ingest writes its tables as new files
(`<table>/ingest-<snapshot>.parquet`, its state and change log under `_ingest/`) and then commits them
all at once by replacing one small file, `_ingest/snapshot.json`, that names them (os.replace: a
reader sees the old snapshot or the new one, never a mix; a killed ingest leaves the old one). Other
writers' files (`synth-*.parquet`) are read as they are. A reader opens a Snapshot once, holding the
folder's readers lock (shared), and reads only the files it lists from start to end, whatever ingests
commit meanwhile; files no snapshot names any more are deleted by the next ingest when no reader holds
the lock. A folder without `snapshot.json` (made by synth, or by an earlier ingest) is read as it lies.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import duck
from . import schema as S

REPORTS = "reports"
CELLS = "cells"
SECTIONS = "sections"
VERSIONS = "versions"
TABLES = (REPORTS, *S.STATUTORY_TABLES, CELLS, SECTIONS, VERSIONS)
INGEST_DIR = "_ingest"
POINTER = "snapshot.json"  # in INGEST_DIR: the committed snapshot
READERS_LOCK = "readers.lock"  # in INGEST_DIR: held shared by readers, exclusively by the cleanup
INGEST_PREFIX = "ingest"  # ingest's own files: <table>/ingest-<snapshot>.parquet


@dataclass(frozen=True)
class Snapshot:
    """One consistent view of a data folder: the files of every table, as committed at one moment."""

    data_dir: Path
    id: str
    tables: dict[str, tuple[Path, ...]]
    listed: dict[str, str]  # ingest's own files of the snapshot: table or "state"/"changes" -> name

    def files(self, table: str) -> list[Path]:
        """The Parquet files of one table in this snapshot, sorted."""
        return list(self.tables.get(table, ()))

    def source(self, table: str) -> str | None:
        """DuckDB's read_parquet over the table's files, or None when the table has none."""
        files = self.files(table)
        if not files:
            return None
        names = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        return f"read_parquet([{names}], union_by_name = true)"

    def ingest_file(self, name: str) -> Path | None:
        """Ingest's own file of a table (or its "state", "changes") in this snapshot; None before any ingest."""
        listed = self.listed.get(name)
        return None if listed is None else self.data_dir / listed


def pointer_path(data_dir: Path) -> Path:
    """Where the committed snapshot is named."""
    return Path(data_dir) / INGEST_DIR / POINTER


def open_snapshot(data_dir: Path) -> Snapshot:
    """The data folder's current snapshot (its files listed once, now)."""
    data_dir = Path(data_dir)
    pointer = pointer_path(data_dir)
    doc = json.loads(pointer.read_text(encoding="utf-8")) if pointer.is_file() else None
    listed = dict(doc["files"]) if doc else {}
    tables = {}
    for table in TABLES:
        folder = data_dir / table
        found = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        if doc is not None:  # ingest's files count only when the snapshot names them
            own = listed.get(table)
            found = [f for f in found if not f.name.startswith(INGEST_PREFIX) or f"{table}/{f.name}" == own]
        tables[table] = tuple(found)
    return Snapshot(data_dir, doc["id"] if doc else _unversioned_id(tables), tables, listed)


def _unversioned_id(tables: dict[str, tuple[Path, ...]]) -> str:
    """A folder without a committed snapshot: an id from its files' names, sizes and times."""
    digest = hashlib.sha256()
    for table, files in sorted(tables.items()):
        for f in files:
            st = f.stat()
            digest.update(f"{table}/{f.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return "files-" + digest.hexdigest()[:16]


def as_snapshot(data: Path | Snapshot) -> Snapshot:
    """A snapshot, opened now when given a folder."""
    return data if isinstance(data, Snapshot) else open_snapshot(data)


@contextmanager
def reading(data_dir: Path):
    """The current snapshot, kept from deletion while the block runs (the readers lock, shared)."""
    lock_dir = Path(data_dir) / INGEST_DIR
    if not Path(data_dir).is_dir():
        yield open_snapshot(data_dir)
        return
    try:
        lock_dir.mkdir(exist_ok=True)
        fh = open(lock_dir / READERS_LOCK, "a")  # noqa: SIM115  held for the block
    except OSError:  # a read-only data folder: nobody can clean it up under us
        yield open_snapshot(data_dir)
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_SH)  # before the pointer is read: a cleanup then waits for us
        yield open_snapshot(data_dir)


def new_snapshot_id(now: datetime | None = None) -> str:
    """Sortable, unique snapshot id: UTC time to the microsecond and a random tail."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{os.urandom(3).hex()}"


def commit(
    data_dir: Path,
    tables: dict[str, object],
    parent: Snapshot,
    step: Callable[[str], None] = lambda name: None,
) -> Snapshot:
    """Write ingest's tables (table, "state" or "changes" -> Arrow table) as one new snapshot.

    Every file is new, written and flushed to disk before the pointer is replaced: a kill at any step
    leaves `parent`, and the files it wrote are unnamed, deleted by a later cleanup. `step(name)` is
    called after each file operation (tests kill the process there).
    """
    import pyarrow.parquet as pq

    data_dir = Path(data_dir)
    snap = new_snapshot_id()
    listed = {}
    for name, table in tables.items():
        rel = f"{name}/{INGEST_PREFIX}-{snap}.parquet" if name in TABLES else f"{INGEST_DIR}/{name}-{snap}.parquet"
        path = data_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        _fsync(path)
        listed[name] = rel
        step(f"write-{name}")
    doc = {
        "id": snap,
        "parent": parent.id,
        "committed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": listed,
    }
    pointer = pointer_path(data_dir)
    tmp = pointer.with_name(f".{POINTER}.{snap}.tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _fsync(tmp)
    step("write-pointer")
    os.replace(tmp, pointer)  # the commit
    _fsync(pointer.parent)
    step("commit")
    return open_snapshot(data_dir)


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_up(data_dir: Path, current: Snapshot) -> int:
    """Delete ingest's files the current snapshot does not name, when no reader holds an older one.

    Returns how many files went; 0 when a reader is active (the next ingest tries again).
    """
    data_dir = Path(data_dir)
    lock_dir = data_dir / INGEST_DIR
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / READERS_LOCK, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0
        named = {data_dir / rel for rel in current.listed.values()}
        stale = [f for table in TABLES for f in (data_dir / table).glob(f"{INGEST_PREFIX}*.parquet")]
        stale += list(lock_dir.glob("state*.parquet")) + list(lock_dir.glob("changes*.parquet"))
        stale += list(lock_dir.glob(f".{POINTER}.*.tmp"))
        stale += [f for table in TABLES for f in (data_dir / table).glob(".*.tmp")]
        removed = 0
        for f in stale:
            if f not in named:
                f.unlink(missing_ok=True)
                removed += 1
        return removed


def read_table(path: Path, schema):
    """A table we wrote earlier, or an empty one; an unreadable file stops the caller rather than being overwritten."""
    import pyarrow.parquet as pq

    if not path.exists():
        return schema.empty_table()
    try:
        return pq.read_table(path, schema=schema)
    except Exception as e:
        raise RuntimeError(f"无法读取已有数据文件 {path}({e});为免丢失数据,本次导入未写入任何文件") from e


@contextmanager
def locked(data_dir: Path):
    """One writer at a time per data folder: two concurrent merges would lose each other's rows."""
    lock_dir = Path(data_dir) / INGEST_DIR
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_report(rows: dict[str, list[dict]], out: Path, stem: str = "gate") -> Path:
    """Write one report's rows as a data folder (OUT/<table>/<stem>.parquet)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for table, schema in S.TABLE_SCHEMAS.items():
        (out / table).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows.get(table, []), schema=schema), out / table / f"{stem}.parquet")
    return out


def unsafe_row(data: Path | Snapshot) -> tuple[str, str] | None:
    """(file, report id) of a row whose id is not R+16 hex digits, or whose level is unknown; None if none."""
    snapshot = as_snapshot(data)
    con = duck.connect()
    try:
        levels = ", ".join("'" + lv + "'" for lv in S.LEVELS)
        for table in (REPORTS, *S.STATUTORY_TABLES):
            files = [str(f) for f in snapshot.files(table)]
            if not files:
                continue
            level_test = f"OR (level IS NOT NULL AND level NOT IN ({levels}))" if table == REPORTS else ""
            bad = con.execute(
                f"SELECT filename, report_id FROM read_parquet(?, filename=true, union_by_name=true) "
                f"WHERE report_id IS NULL OR NOT regexp_full_match(report_id, '{S.REPORT_ID_PATTERN.pattern[1:-1]}') "
                f"{level_test} LIMIT 1",
                [files],
            ).fetchone()
            if bad:
                return bad[0], bad[1]
        return None
    finally:
        con.close()


def count_reports(data: Path | Snapshot) -> int:
    """Number of distinct report ids in `reports`."""
    files = [str(f) for f in as_snapshot(data).files(REPORTS)]
    if not files:
        return 0

    con = duck.connect()
    try:
        return con.execute(
            "SELECT count(DISTINCT report_id) FROM read_parquet(?, union_by_name=true)", [files]
        ).fetchone()[0]
    finally:
        con.close()


def checked_by_region(data: Path | Snapshot) -> dict[str, int]:
    """Reports checked per region string ('' when none), rejected ones left out (never validated):
    one GROUP BY over `reports`, a fraction of a second at 1,000,000 reports."""
    import duckdb

    files = [str(f) for f in as_snapshot(data).files(REPORTS)]
    if not files:
        return {}
    con = duck.connect()
    query = (  # ordered: the landing page must not change with DuckDB's hash order
        "SELECT coalesce(region, ''), count(DISTINCT report_id) FROM read_parquet(?, union_by_name=true) {} "
        "GROUP BY 1 ORDER BY 1"
    )
    try:
        try:
            rows = con.execute(query.format("WHERE coalesce(parse_status, 'parsed') <> 'rejected'"), [files]).fetchall()
        except duckdb.BinderException:  # a folder written before parse_status existed: all were checked
            rows = con.execute(query.format(""), [files]).fetchall()
    finally:
        con.close()
    return {region: int(n) for region, n in rows}


# --- reading reports back ---------------------------------------------------------------------------


class TupleRow(Mapping):
    """One table row as a read-only mapping over the tuple DuckDB returned.

    A dict per row cost about 10 KB for table 三's 180 cells; a night with 20,000 failing reports
    kept 60,000 of them (the tuple and its shared column index: about 1.5 KB).
    """

    __slots__ = ("_index", "_values")

    def __init__(self, index: Columns, values: tuple):
        self._index, self._values = index, values

    def __getitem__(self, column: str):
        return self._values[self._index[column]]

    def get(self, column: str, default=None):
        i = self._index.get(column)
        return default if i is None else self._values[i]

    def __contains__(self, column) -> bool:
        return column in self._index

    def __iter__(self):
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def items(self):
        """(column, value) pairs in column order (the index was built in the tuple's order)."""
        return zip(self._index, self._values)

    def values_for(self, columns: tuple[str, ...]) -> list:
        """The values of `columns` in order (None for a column the row lacks), without a lookup per call."""
        index = self._index
        positions = index.positions.get(columns)
        if positions is None:
            positions = index.positions[columns] = [index.get(c, -1) for c in columns]
        values = self._values
        return [values[i] if i >= 0 else None for i in positions]


class Columns(dict):
    """Column name -> tuple position, shared by every TupleRow of one read, with the positions of the
    column lists asked of its rows (values_for), computed once per read."""

    __slots__ = ("positions",)

    def __init__(self, names):
        super().__init__((name, i) for i, name in enumerate(names))
        self.positions: dict[tuple, list[int]] = {}


def values_of(values: Mapping | None, columns: tuple[str, ...]) -> list:
    """The values of `columns` in order, None where absent, from a TupleRow (positions found once per read)
    or a plain mapping."""
    if isinstance(values, TupleRow):
        return values.values_for(columns)
    return [(values or {}).get(c) for c in columns]


def _of_wanted(con, files: list[str], columns: str = "t.*", order: str = ""):
    """A cursor over the rows of `files` whose report_id is in the registered table `wanted`."""
    sql = f"SELECT {columns} FROM read_parquet(?, union_by_name=true) t SEMI JOIN wanted w ON t.report_id = w.report_id"
    return con.execute(f"{sql} {order}", [files])


def _reports_rows(data: Path | Snapshot, ids: list[str], columns: str, order: str = "") -> list[tuple]:
    """Rows of `columns` of the reports table for the given report ids (none without ids or files)."""
    import pyarrow as pa

    files = [str(f) for f in as_snapshot(data).files(REPORTS)]
    if not ids or not files:
        return []
    con = duck.connect()
    try:
        con.register("wanted", pa.table({"report_id": pa.array(ids, pa.string())}))
        return _of_wanted(con, files, columns, order).fetchall()
    finally:
        con.close()


def levels_of(data: Path | Snapshot, report_ids: Iterable[str]) -> dict[str, str | None]:
    """The 行政层级 of the given reports as their latest ingest records it (None when none is known):
    one column read, not the reports (the landing page's level filter, for pages not rendered again)."""
    ids = sorted(set(report_ids))
    out: dict[str, str | None] = dict.fromkeys(ids)
    # The latest ingest wins, as in read_reports.
    out.update(_reports_rows(data, ids, "t.report_id, t.level", "ORDER BY t.ingested_at NULLS FIRST"))
    return out


def present(data: Path | Snapshot, report_ids: Iterable[str]) -> set[str]:
    """Those of the given reports that have a row in the reports table: one column read (whether a report
    left the data folder), not the reports."""
    return {r for (r,) in _reports_rows(data, sorted(set(report_ids)), "DISTINCT t.report_id")}


def read_reports(data: Path | Snapshot, report_ids: Iterable[str], *, with_text: bool = True) -> dict[str, dict]:
    """Meta, values and printed text of the given reports: {id: {"meta", "values": {table: {col: v}}, "text"}}."""
    import pyarrow as pa

    snapshot = as_snapshot(data)

    ids = sorted(set(report_ids))
    out: dict[str, dict] = {i: {"meta": {}, "values": {}, "text": {}} for i in ids}
    if not ids:
        return out
    con = duck.connect()
    try:
        con.register("wanted", pa.table({"report_id": pa.array(ids, pa.string())}))

        def rows(table: str, order: str = "") -> list[TupleRow]:
            files = [str(f) for f in snapshot.files(table)]
            if not files:
                return []
            cur = _of_wanted(con, files, order=order)
            index = Columns(d[0] for d in cur.description)
            return [TupleRow(index, row) for row in cur.fetchall()]

        for row in rows(REPORTS, "ORDER BY ingested_at NULLS FIRST"):
            out[row["report_id"]]["meta"] = row  # the latest ingest wins
        for table in S.STATUTORY_TABLES:
            for row in rows(table):
                out[row["report_id"]]["values"][table] = row
        if with_text:
            for row in rows(CELLS):
                out[row["report_id"]]["text"].setdefault(row["table"], {})[row["column"]] = row["text"]
    finally:
        con.close()
    return out
