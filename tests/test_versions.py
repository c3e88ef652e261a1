"""一报多版: two files of one agency's report for one year with different numbers are both kept.

The tables hold the version checked (the better read, or the newer file that replaced the stored one);
the versions table holds the other, with its numbers and the cells that differ. Identical copies (the
same report on two sites) are no version. Re-ingesting changes nothing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nianbao import datafolder, ingest

REAL = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real" / "000.txt"
REVIEW_ROW = "2 | 0 | 0 | 0 | 2 | 1 | 0 | 0 | 0 | 1 | 2 | 0 | 0 | 0 | 2 |"
CORRECTED_ROW = "3 | 0 | 0 | 0 | 3 | 1 | 0 | 0 | 0 | 1 | 2 | 0 | 0 | 0 | 2 |"

pytestmark = pytest.mark.skipif(not REAL.is_file(), reason="needs ../shared/corpus")


def corrected_copy(folder: Path, name: str) -> Path:
    """Report 000 as published, with its table 四 行政复议 row printed 3 … 3 instead of 2 … 2."""
    text = REAL.read_text(encoding="utf-8")
    assert REVIEW_ROW in text
    path = folder / name
    path.write_text(text.replace(REVIEW_ROW, CORRECTED_ROW), encoding="utf-8")
    return path


def versions(data: Path) -> list[dict]:
    (snapshot,) = [datafolder.open_snapshot(data)]
    files = snapshot.files(datafolder.VERSIONS)
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def review_total(data: Path) -> int:
    files = datafolder.open_snapshot(data).files("review_litigation")
    (row,) = [r for f in files for r in pq.read_table(f, columns=["review_total"]).to_pylist()]
    return row["review_total"]


def test_two_files_with_different_numbers_are_both_kept(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    original = src / "a-000.txt"
    shutil.copy(REAL, original)
    corrected = corrected_copy(src, "b-000.txt")
    shutil.copy(REAL, src / "c-000-mirror.txt")  # the same report on another site: no version
    data = tmp_path / "data"
    summary = ingest.ingest([original, corrected, src / "c-000-mirror.txt"], data, workers=1)
    assert sorted(o.action for o in summary.outcomes) == ["added", "conflict", "conflict"]
    assert review_total(data) == 2  # the first file of equals is checked
    (v,) = versions(data)
    assert v["source_file"].endswith("b-000.txt") and v["current_source_file"].endswith("a-000.txt")
    assert v["differing"] == "review_litigation.review_total,review_litigation.review_upheld"
    kept = json.loads(v["statutory_values"])
    assert kept["review_litigation"]["review_upheld"] == 3 and kept["review_litigation"]["review_total"] == 3
    assert kept["applications"]["new_total"] is not None  # its whole tables, not only what differs

    again = ingest.ingest([original, corrected, src / "c-000-mirror.txt"], data, workers=1)
    assert "added" not in {o.action for o in again.outcomes}
    assert versions(data) == [v]  # re-ingest: the same row, not a second one


def test_a_corrected_republication_replaces_the_stored_report_and_keeps_it_as_a_version(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    first = src / "2022-01-12.txt"
    shutil.copy(REAL, first)
    data = tmp_path / "data"
    ingest.ingest([first], data, workers=1)
    assert versions(data) == [] and review_total(data) == 2
    later = corrected_copy(src, "2022-02-01-corrected.txt")
    summary = ingest.ingest([later], data, workers=1)
    assert [o.action for o in summary.outcomes] == ["replaced"]
    assert review_total(data) == 3  # the re-publication is checked
    (v,) = versions(data)
    assert v["source_file"].endswith("2022-01-12.txt") and v["current_source_file"].endswith("corrected.txt")
    assert json.loads(v["statutory_values"])["review_litigation"]["review_total"] == 2
