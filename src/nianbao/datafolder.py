"""The data folder: DATA/<table>/*.parquet, one folder per table. This module owns the table names,
finding a table's files, reading reports back, and writing tables without leaving a half-written file.

Tables: `reports` (one row per report), the three statutory tables (nianbao.schema.STATUTORY_TABLES)
and `cells` (every statutory cell as printed). Readers glob `*.parquet`, so hidden temporary files
(`.name.tmp`) are never read; ingest keeps its state under DATA/_ingest/.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path

from . import schema as S

REPORTS = "reports"
CELLS = "cells"
TABLES = (REPORTS, *S.STATUTORY_TABLES, CELLS)
INGEST_DIR = "_ingest"


def table_files(data_dir: Path, table: str) -> list[Path]:
    """The Parquet files of one table, sorted."""
    folder = Path(data_dir) / table
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def table_glob(data_dir: Path, table: str) -> str | None:
    """A glob over the table's files for DuckDB's read_parquet, or None when the table has none."""
    folder = Path(data_dir) / table
    return str(folder / "*.parquet") if any(folder.glob("*.parquet")) else None


def read_table(path: Path, schema):
    """A table we wrote earlier, or an empty one; an unreadable file stops the caller rather than being overwritten."""
    import pyarrow.parquet as pq

    if not path.exists():
        return schema.empty_table()
    try:
        return pq.read_table(path, schema=schema)
    except Exception as e:
        raise RuntimeError(f"无法读取已有数据文件 {path}({e});为免丢失数据,本次导入未写入任何文件") from e


def write_tables(tables: dict[Path, object]) -> None:
    """Write every file to a temporary name first, then move them into place: never a half-written table."""
    import pyarrow.parquet as pq

    temps = []
    try:
        for path, table in tables.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # hidden: outside every reader's glob
            temps.append((tmp, path))
            pq.write_table(table, tmp)
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, path in temps:
        os.replace(tmp, path)


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


def unsafe_row(data_dir: Path) -> tuple[str, str] | None:
    """(file, report id) of a row whose id is not R+16 hex digits, or whose level is unknown; None if none."""
    import duckdb

    con = duckdb.connect()
    try:
        levels = ", ".join("'" + lv + "'" for lv in S.LEVELS)
        for table in (REPORTS, *S.STATUTORY_TABLES):
            glob = table_glob(data_dir, table)
            if glob is None:
                continue
            level_test = f"OR (level IS NOT NULL AND level NOT IN ({levels}))" if table == REPORTS else ""
            bad = con.execute(
                f"SELECT filename, report_id FROM read_parquet(?, filename=true, union_by_name=true) "
                f"WHERE report_id IS NULL OR NOT regexp_full_match(report_id, '{S.REPORT_ID_PATTERN.pattern[1:-1]}') "
                f"{level_test} LIMIT 1",
                [glob],
            ).fetchone()
            if bad:
                return bad[0], bad[1]
        return None
    finally:
        con.close()


def count_reports(data_dir: Path) -> int:
    """Number of distinct report ids in `reports`."""
    import duckdb

    con = duckdb.connect()
    try:
        return con.execute(
            "SELECT count(DISTINCT report_id) FROM read_parquet(?)", [table_glob(data_dir, REPORTS)]
        ).fetchone()[0]
    finally:
        con.close()


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


def read_reports(data_dir: Path, report_ids: Iterable[str], *, with_text: bool = True) -> dict[str, dict]:
    """Meta, values and printed text of the given reports: {id: {"meta", "values": {table: {col: v}}, "text"}}."""
    import duckdb
    import pyarrow as pa

    ids = sorted(set(report_ids))
    out: dict[str, dict] = {i: {"meta": {}, "values": {}, "text": {}} for i in ids}
    if not ids:
        return out
    con = duckdb.connect()
    try:
        con.register("wanted", pa.table({"report_id": pa.array(ids, pa.string())}))

        def rows(table: str, order: str = "") -> list[TupleRow]:
            glob = table_glob(data_dir, table)
            if glob is None:
                return []
            sql = (
                f"SELECT t.* FROM read_parquet(?, union_by_name=true) t "
                f"SEMI JOIN wanted w ON t.report_id = w.report_id {order}"
            )
            cur = con.execute(sql, [glob])
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
