"""Report hashes from the sums kept per data file (nianbao.report_sums) equal hashes read from every file.

One synthetic data folder, each table split into three files; a first night sums every file and keeps its
entries; then one change to the folder per case, and the second night, which reads only the files new or
changed since, must give exactly the hashes of a night that reads every file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from nianbao import datafolder, incremental, report_sums, synth

COMPARED = ("report_id", "year", "agency_key", "meta_hash", "table_hash", "text_hash", "has_text")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """100 agencies' reports of 2021-2023 with text, each table in three files."""
    out = tmp_path_factory.mktemp("sums") / "data"
    synth.generate_series(100, out, first=2021, last=2023, seed=5)
    for table in datafolder.TABLES:
        files = sorted((out / table).glob("*.parquet"))
        if not files:
            continue
        rows = pa.concat_tables([pq.read_table(f) for f in files])
        for f in files:
            f.unlink()
        third = -(-rows.num_rows // 3)
        for k in range(3):
            write(out / table / f"part-{k}.parquet", rows.slice(k * third, third))
    return out


def write(path: Path, table: pa.Table) -> None:
    """Replace a file as writers do: a new file renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def night(data: Path, entries: Path, previous: Path | None, run: Path) -> incremental.Hashed:
    """One night's hashes, recorded in `run` as a run folder records them; the last run's hashes count as
    made under tonight's state (an incremental night's)."""
    before = pq.read_table(previous / incremental.HASHES_FILE) if previous else None
    hashed = incremental.report_hashes(datafolder.open_snapshot(data), entries, previous, before)
    run.mkdir(parents=True)
    pq.write_table(hashed.hashes, run / incremental.HASHES_FILE)
    pq.write_table(hashed.files, run / report_sums.FILES_FILE)
    return hashed


def rows(hashed: incremental.Hashed) -> list[dict]:
    return hashed.hashes.select(COMPARED).sort_by("report_id").to_pylist()


# --- the changes, one per case -------------------------------------------------------------------------


def nothing(data: Path, run1: Path, entries: Path) -> None:
    """Nothing changed."""


def cell_changed(data: Path, run1: Path, entries: Path) -> None:
    """One count cell of the first report in a file of one table."""
    f = data / "review_litigation" / "part-1.parquet"
    t = pq.read_table(f)
    col = t["review_upheld"]
    bumped = pa.concat_arrays([pa.array([(col[0].as_py() or 0) + 1], col.type), col.slice(1).combine_chunks()])
    write(f, t.set_column(t.schema.get_field_index("review_upheld"), "review_upheld", bumped))


def file_removed(data: Path, run1: Path, entries: Path) -> None:
    """A file of a statutory table gone: its reports lose those rows."""
    (data / "applications" / "part-2.parquet").unlink()


def file_added(data: Path, run1: Path, entries: Path) -> None:
    """New reports' rows in a new file of each table (a copy of part-0 under other ids)."""
    for table in datafolder.TABLES:
        src = data / table / "part-0.parquet"
        if src.is_file():
            t = pq.read_table(src)
            ids = pc.binary_join_element_wise(t["report_id"], pa.scalar("-new"), "")
            write(
                data / table / "part-9.parquet", t.set_column(t.schema.get_field_index("report_id"), "report_id", ids)
            )


def rows_moved(data: Path, run1: Path, entries: Path) -> None:
    """Rows of the sections table moved from one file to another, unchanged."""
    a, b = data / "sections" / "part-0.parquet", data / "sections" / "part-1.parquet"
    ta, tb = pq.read_table(a), pq.read_table(b)
    write(b, pa.concat_tables([tb, ta.slice(0, 50)]))
    write(a, ta.slice(50))


def report_deleted(data: Path, run1: Path, entries: Path) -> None:
    """Every row of one report removed from every table."""
    gone = pq.read_table(data / "reports" / "part-0.parquet")["report_id"][0]
    for table in datafolder.TABLES:
        for f in (data / table).glob("*.parquet"):
            t = pq.read_table(f)
            write(f, t.filter(pc.not_equal(t["report_id"], gone)))


def column_added(data: Path, run1: Path, entries: Path) -> None:
    """A file of the reports table written again with one more column."""
    f = data / "reports" / "part-2.parquet"
    t = pq.read_table(f)
    write(f, t.append_column("note", pa.array(["x"] * t.num_rows, pa.string())))


def entry_lost(data: Path, run1: Path, entries: Path) -> None:
    """A cell changed and the entry of the file it was in deleted: every file is read again."""
    cell_changed(data, run1, entries)
    listed = pq.read_table(run1 / report_sums.FILES_FILE).to_pylist()
    entry = next(r["entry"] for r in listed if r["path"].endswith("review_litigation/part-1.parquet"))
    (entries / f"{entry}.parquet").unlink()


def files_list_unreadable(data: Path, run1: Path, entries: Path) -> None:
    """The last run's list of files damaged: every file is read again."""
    (run1 / report_sums.FILES_FILE).write_bytes(b"not parquet")


CASES = [
    # change, files read on the second night (None: all), hashes that differ from the first night's,
    # whether the agency keys are built again (the reports table changed, or every file was read)
    (nothing, 0, 0, False),
    (cell_changed, 1, 1, False),
    (file_removed, 0, None, False),
    (file_added, 6, None, True),  # one per table the suites read (not cells)
    (rows_moved, 2, 0, False),
    (report_deleted, None, None, True),
    (column_added, 1, None, True),
    (entry_lost, None, 1, True),
    (files_list_unreadable, None, 0, True),
]


@pytest.mark.parametrize(("change", "read", "differ", "keys_built"), CASES, ids=[c[0].__name__ for c in CASES])
def test_second_night_equals_reading_every_file(corpus, tmp_path, monkeypatch, change, read, differ, keys_built):
    # Files written moments ago are read again on principle (the racy-clean rule); here they count as old.
    monkeypatch.setattr(report_sums, "CLOCK_STEP_NS", 0)
    data, entries = tmp_path / "data", tmp_path / "entries"
    shutil.copytree(corpus, data)
    first = night(data, entries, None, tmp_path / "run1")
    assert first.files_record["files_read"] == first.files.num_rows > 0
    change(data, tmp_path / "run1", entries)
    second = night(data, entries, tmp_path / "run1", tmp_path / "run2")
    every_file = incremental.report_hashes(datafolder.open_snapshot(data))
    assert rows(second) == rows(every_file)
    total = second.files.num_rows
    assert second.files_record["files_read"] == (total if read is None else read)
    assert second.files_record["agency_keys_built"] is keys_built
    assert second.keys.sort_by("report_id").to_pylist() == every_file.keys.sort_by("report_id").to_pylist()
    assert second.keys_record == every_file.keys_record and every_file.keys_record["linked_reports"] > 0
    if differ is not None:
        before = {r["report_id"]: r for r in rows(first)}
        assert sum(before.get(r["report_id"]) != r for r in rows(second)) == differ
    # Only the entries of tonight's files and the last run's are kept.
    kept = {f.stem for f in entries.glob("*.parquet")}
    named = set(second.files["entry"].to_pylist())
    assert named <= kept
    if change is not files_list_unreadable:
        assert kept <= named | set(first.files["entry"].to_pylist())


def test_a_file_written_in_the_tick_it_was_listed_is_read_again(corpus, tmp_path):
    """With the default clock step, files written moments before the first night are not trusted."""
    data, entries = tmp_path / "data", tmp_path / "entries"
    shutil.copytree(corpus, data)
    night(data, entries, None, tmp_path / "run1")
    second = night(data, entries, tmp_path / "run1", tmp_path / "run2")
    assert second.files_record["files_read"] == second.files.num_rows


def test_a_file_rewritten_in_place_with_its_old_mtime_is_read_again(corpus, tmp_path, monkeypatch):
    """The same inode, size and mtime (cp -p and rsync -t keep a file's mtime): its ctime still moves."""
    monkeypatch.setattr(report_sums, "CLOCK_STEP_NS", 0)
    data, entries = tmp_path / "data", tmp_path / "entries"
    shutil.copytree(corpus, data)
    night(data, entries, None, tmp_path / "run1")
    f = data / "review_litigation" / "part-0.parquet"
    st, content = f.stat(), f.read_bytes()
    with open(f, "r+b") as out:
        out.write(content)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (f.stat().st_ino, f.stat().st_size, f.stat().st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
    second = night(data, entries, tmp_path / "run1", tmp_path / "run2")
    assert second.files_record["files_read"] == 1
    assert rows(second) == rows(incremental.report_hashes(datafolder.open_snapshot(data)))
