"""Each report's content sums, kept per data file, so that a night reads only the files that changed.

A report's content hash per part (meta, table, text: nianbao.incremental) is the hash of two sums over its
rows: of each row's 64-bit hash and of the row count. Sums add over files, so tonight's are last night's
plus what the files new since then hold, minus what the files gone since then held. What one file holds
(report_id, sum, rows) is one small Parquet entry under ENTRIES_DIR/SCOPE/, written the night the file is
first read and never changed (it is named by a fresh id); the run folder lists the files a night summed
and their entries (FILES_FILE), and its report hashes carry the sums.

A file counts as the one summed before while its path, size, mtime, ctime and inode are those listed, and
it was already older than its listing by more than a clock step when it was listed (git's racy-clean
rule: a file written in the tick it was listed in is read again the next night). ctime moves on every
write and rename and cannot be set back by tools that keep a file's mtime (cp -p, rsync -t). An entry
that is gone or unreadable makes the night sum every file again; `--full-refresh` always does.

A row is hashed with its table's name over the columns its own file has (not the union over the table's
files, which a new file with a new column would change for every old row): files are read in groups of
one schema.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import datafolder

FILES_FILE = "report_files.parquet"
PARTS = ("meta", "table", "text")
SUM_TYPE = pa.decimal128(38, 0)  # DuckDB's HUGEINT: a sum of 64-bit hashes
SUM_COLUMNS = tuple(c for p in PARTS for c in (f"{p}_sum", f"{p}_rows"))
SUMS_SCHEMA = pa.schema(
    [pa.field("report_id", pa.string())]
    + [pa.field(c, SUM_TYPE if c.endswith("_sum") else pa.int64()) for c in SUM_COLUMNS]
)
FILES_SCHEMA = pa.schema(
    [
        pa.field("table", pa.string()),
        pa.field("path", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
        pa.field("ctime_ns", pa.int64()),
        pa.field("inode", pa.int64()),
        pa.field("listed_ns", pa.int64()),  # when the night listed it: the racy-clean rule's reference
        pa.field("entry", pa.string()),  # ENTRIES_DIR/SCOPE/<entry>.parquet
    ]
)
ENTRY_SCHEMA = pa.schema([pa.field("report_id", pa.string()), pa.field("sum", SUM_TYPE), pa.field("rows", pa.int64())])
IDENTITY = ("table", "path", "size", "mtime_ns", "ctime_ns", "inode")
FILE_COLUMN = "_nianbao_file"  # each row's file, as DuckDB names it (a table may have a column `filename`)
CLOCK_STEP_NS = 2_000_000_000  # coarser than any file system's timestamps (FAT's 2 s)


class EntryMissing(Exception):
    """An entry a file's sums were kept in is gone or unreadable: sum every file again."""


def list_files(snapshot: datafolder.Snapshot, parts: dict[str, str]) -> pa.Table:
    """The snapshot's files of the tables in `parts`, as they are now (entries not yet known)."""
    listed = time.time_ns()
    rows = []
    for table in parts:
        for f in snapshot.files(table):
            st = f.stat()
            rows.append((table, str(f), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, listed, ""))
    return pa.Table.from_pylist([dict(zip(FILES_SCHEMA.names, r)) for r in rows], schema=FILES_SCHEMA)


def read_previous(
    run_dir: Path | None, hashes_file: str, hashes: pa.Table | None = None
) -> tuple[pa.Table, pa.Table] | None:
    """The files a run summed (with the metadata it wrote beside them) and its reports' sums (from `hashes`,
    its report hashes when already read); None when it has none or they cannot be read."""
    if run_dir is None:
        return None
    try:
        listed = pq.read_table(run_dir / FILES_FILE)
        files = listed.cast(FILES_SCHEMA).replace_schema_metadata(listed.schema.metadata)  # its readers' notes
        if hashes is None:
            hashes = pq.read_table(run_dir / hashes_file, columns=list(SUMS_SCHEMA.names))
        sums = hashes.select(list(SUMS_SCHEMA.names)).cast(SUMS_SCHEMA)
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return None
    if pc.any(pc.is_null(sums[SUM_COLUMNS[1]])).as_py():  # sums never recorded
        return None
    return files, sums


def _kept(now: pa.Table, before: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table]:
    """(files of tonight unchanged since before, with their entries; tonight's files to read; before's
    files gone or changed, whose entries are taken off)."""
    trusted = pc.less(
        pc.max_element_wise(before["mtime_ns"], before["ctime_ns"]), pc.subtract(before["listed_ns"], CLOCK_STEP_NS)
    )
    old = {tuple(r[c] for c in IDENTITY): r for r in before.filter(trusted).to_pylist()}
    kept, fresh, seen = [], [], set()
    for r in now.to_pylist():
        hit = old.get(tuple(r[c] for c in IDENTITY))
        if hit is None:
            fresh.append(r)
        else:
            kept.append(hit)  # its listing time and entry stay those of the night it was read
            seen.add(hit["entry"])
    gone = before.filter(pc.invert(pc.is_in(before["entry"], value_set=pa.array(sorted(seen), pa.string()))))
    as_table = lambda rows: pa.Table.from_pylist(rows, schema=FILES_SCHEMA)
    return as_table(kept), as_table(fresh), gone


def _schema_groups(files: pa.Table) -> list[tuple[str, list[str]]]:
    """Tonight's files to read as (table, paths) groups of one table and one column schema."""
    groups: dict[tuple[str, str], list[str]] = {}
    for table, path in zip(files["table"].to_pylist(), files["path"].to_pylist()):
        schema = pq.read_schema(path).remove_metadata()
        groups.setdefault((table, schema.to_string()), []).append(path)
    return [(table, paths) for (table, _), paths in groups.items()]


def _read_files(con, files: pa.Table, entries: Path) -> pa.Table:
    """Sum tonight's new or changed files: each file's (report_id, sum, rows) written as its entry; the
    files with their entries named."""
    entries.mkdir(parents=True, exist_ok=True)
    named = {}
    for table, paths in _schema_groups(files):
        sources = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        got = con.sql(
            f"""SELECT {FILE_COLUMN}, report_id,
  sum(hash('{table}', *COLUMNS(* EXCLUDE ({FILE_COLUMN}))))::HUGEINT AS sum, count(*) AS rows
FROM read_parquet([{sources}], filename = '{FILE_COLUMN}') WHERE report_id IS NOT NULL
GROUP BY {FILE_COLUMN}, report_id ORDER BY {FILE_COLUMN}"""
        ).to_arrow_table()
        counts = pc.value_counts(got[FILE_COLUMN])
        offsets = dict.fromkeys(paths, (0, 0))
        start = 0
        for name, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()):
            offsets[name] = (start, n)
            start += n
        for path, (at, n) in offsets.items():
            entry = uuid.uuid4().hex
            rows = got.slice(at, n).select(["report_id", "sum", "rows"]).cast(ENTRY_SCHEMA)
            tmp = entries / f".{entry}.tmp"
            pq.write_table(rows, tmp)
            tmp.rename(entries / f"{entry}.parquet")
            named[path] = entry
    return files.set_column(
        files.schema.get_field_index("entry"),
        "entry",
        pa.array([named[p] for p in files["path"].to_pylist()], pa.string()),
    )


def _entry_rows(files: pa.Table, entries: Path, parts: dict[str, str], sign: int) -> str:
    """SELECT the rows of the files' entries as (report_id, part, sum, rows), times sign."""
    selects = []
    for part in PARTS:
        names = [e for t, e in zip(files["table"].to_pylist(), files["entry"].to_pylist()) if parts.get(t) == part]
        if not names:
            continue
        paths = [entries / f"{e}.parquet" for e in names]
        if not all(p.is_file() for p in paths):
            raise EntryMissing(str(next(p for p in paths if not p.is_file())))
        sources = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
        selects.append(
            f"SELECT report_id, '{part}' AS part, ({sign} * sum::HUGEINT)::HUGEINT AS sum, "
            f"({sign} * rows)::BIGINT AS rows FROM read_parquet([{sources}])"
        )
    return " UNION ALL ".join(selects)


def _summed(con, before: pa.Table, delta: str) -> pa.Table:
    """Per report, before's sums plus the rows of `delta` (a SELECT of report_id, part, sum, rows);
    reports left with no row dropped."""
    con.register("nb_sums_before", before)
    long = " UNION ALL ".join(
        [
            *(
                f"SELECT report_id, '{p}' AS part, {p}_sum::HUGEINT AS sum, {p}_rows AS rows FROM nb_sums_before"
                for p in PARTS
            ),
            *([delta] if delta else []),
        ]
    )
    cols = ", ".join(
        f"coalesce(sum(sum) FILTER (WHERE part = '{p}'), 0)::HUGEINT AS {p}_sum, "
        f"coalesce(sum(rows) FILTER (WHERE part = '{p}'), 0)::BIGINT AS {p}_rows"
        for p in PARTS
    )
    out = con.sql(f"SELECT report_id, {cols} FROM ({long}) GROUP BY report_id HAVING sum(rows) > 0").to_arrow_table()
    con.unregister("nb_sums_before")
    return out.cast(SUMS_SCHEMA)


def _net(con, gone: str, read: str) -> pa.Table:
    """The entries read tonight less those taken off, per report and part, where they differ: a file
    written again holds mostly the same rows, and those cancel out."""
    rows = " UNION ALL ".join(x for x in (gone, read) if x)
    if not rows:
        return pa.table({"report_id": pa.array([], pa.string())})
    return con.sql(
        f"""SELECT report_id, part, sum(sum)::HUGEINT AS sum, sum(rows)::BIGINT AS rows FROM ({rows})
GROUP BY report_id, part HAVING sum(sum) <> 0 OR sum(rows) <> 0"""
    ).to_arrow_table()


@dataclass(frozen=True)
class Summed:
    """Tonight's sums and where they come from."""

    sums: pa.Table  # SUMS_SCHEMA, one row per report with a row in any file
    changed: pa.Array | None  # the reports whose sums differ from the last run's (deleted ones too); None: all read
    files: pa.Table  # FILES_SCHEMA: tonight's files and their entries
    tables_read: frozenset[str]  # the tables with a file read or gone tonight
    record: dict  # files read, kept, gone (and why all were read)


def update(
    con, snapshot: datafolder.Snapshot, parts: dict[str, str], entries: Path, previous: tuple[pa.Table, pa.Table] | None
) -> Summed:
    """Tonight's sums per report. `previous`: read_previous() of the last run, None to read every file."""
    now = list_files(snapshot, parts)
    if previous is not None:
        try:
            kept, fresh, gone = _kept(now, previous[0])
            taken_off = _entry_rows(gone, entries, parts, -1)
            read = _read_files(con, fresh, entries)
            net = _net(con, taken_off, _entry_rows(read, entries, parts, 1))
            changed = pc.unique(net["report_id"])
            con.register("nb_net", net)
            before = previous[1]
            moved = pc.is_in(before["report_id"], value_set=changed)
            sums = pa.concat_tables(
                [
                    before.filter(pc.invert(moved)),
                    _summed(
                        con, before.filter(moved), "SELECT report_id, part, sum, rows FROM nb_net" if len(net) else ""
                    ),
                ]
            )
            con.unregister("nb_net")
            files = pa.concat_tables([kept, read])
            _collect(entries, files, previous[0])
            return Summed(
                sums,
                changed,
                files,
                frozenset(read["table"].to_pylist() + gone["table"].to_pylist()),
                {"files_read": read.num_rows, "files_kept": kept.num_rows, "files_gone": gone.num_rows},
            )
        except (EntryMissing, OSError, pa.ArrowException, duckdb.Error) as exc:  # an entry lost: read every file
            reason = f"{type(exc).__name__}: {exc}"
    else:
        reason = "no previous sums"
    read = _read_files(con, now, entries)
    sums = _summed(con, SUMS_SCHEMA.empty_table(), _entry_rows(read, entries, parts, 1))
    _collect(entries, read, previous[0] if previous is not None else None)
    record = {"files_read": read.num_rows, "files_kept": 0, "files_gone": 0, "all_read": reason}
    return Summed(sums, None, read, frozenset(parts), record)


def _collect(entries: Path, *lists: pa.Table | None) -> None:
    """Delete the entries neither tonight's files nor the last run's name (that run stays the one the next
    night starts from, should this one not complete)."""
    keep = {e for t in lists if t is not None for e in t["entry"].to_pylist()}
    for f in entries.glob("*.parquet"):
        if f.stem not in keep:
            f.unlink(missing_ok=True)
    for f in entries.glob(".*.tmp"):
        f.unlink(missing_ok=True)
