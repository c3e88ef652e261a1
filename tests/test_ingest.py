"""`nianbao ingest` end to end: real corpus files into real Parquet tables, re-runs, bad files, manifests."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nianbao import ingest as I
from nianbao import ingest_file as F
from nianbao import model as M
from nianbao import schema as S
from nianbao.cli import UsageError, build_parser
from nianbao.exitcodes import ExitCode
from nianbao.parse import parse_file
from nianbao.parse import render as R
from nianbao.paths import ROOT

CORPUS = Path(os.environ.get("NIANBAO_CORPUS", ROOT.parent / "shared" / "corpus"))
REAL = CORPUS / "real"
REAL_FILES = sorted(p for p in REAL.iterdir() if p.suffix == ".txt")


def table(out: Path, name: str) -> pa.Table:
    """Ingest's rows of one table in the data folder's current snapshot."""
    return I.stored_table(out, name)


def changes(out: Path) -> list[dict]:
    return I.stored_table(out, "changes").to_pylist()


def by_file(out: Path) -> dict[str, dict]:
    """The reports rows, by source file name."""
    return {Path(r["source_file"]).name: r for r in table(out, "reports").to_pylist()}


def row_of(out: Path, name: str, report_id: str) -> dict:
    rows = [r for r in table(out, name).to_pylist() if r["report_id"] == report_id]
    assert len(rows) == 1, (name, report_id, len(rows))
    return rows[0]


def write_report(path: Path, report: dict, layout: str = "pipe") -> Path:
    path.write_text(R.render_text(report, layout), encoding="utf-8")
    return path


# --- The real corpus.


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The whole shared corpus (text excerpts, HTML pages, PDFs) ingested once into a fresh data folder."""
    out = tmp_path_factory.mktemp("data")
    summary = I.ingest([REAL, CORPUS / "html", CORPUS / "pdf"], out)
    return out, summary


def test_every_corpus_file_has_exactly_one_outcome(corpus):
    """One reports row per input file, with the status parse_file gives; .json transcriptions are skipped."""
    out, summary = corpus
    files = REAL_FILES + sorted((CORPUS / "html").iterdir()) + sorted((CORPUS / "pdf").iterdir())
    rows = table(out, "reports").to_pylist()
    assert sorted(r["source_file"] for r in rows) == sorted(str(p.resolve()) for p in files)
    assert summary.skipped == {".json": len(list(REAL.glob("*.json")))}
    for r in rows:
        assert r["parse_status"] in S.PARSE_STATUSES
        assert (r["parse_reason"] == "") == (r["parse_status"] == "parsed"), r
    assert summary.by_status() == Counter(r["parse_status"] for r in rows)


def test_corpus_outcomes_follow_the_transcriptions(corpus):
    """Complete transcriptions parse, excerpts are partial, the run-together 030 is rejected with a reason."""
    out, _ = corpus
    rows = by_file(out)
    for path in REAL_FILES:
        doc = json.loads(path.with_name(path.name.split(".")[0] + ".json").read_text(encoding="utf-8"))
        expected = "parsed" if doc.get("complete") else "partial"
        if path.name.startswith("030"):
            expected = "rejected"  # all cells run together: never guessed numbers
        assert rows[path.name]["parse_status"] == expected, (path.name, rows[path.name]["parse_reason"])
    assert rows["030.tables.txt"]["parse_reason"].split(":")[0]
    assert not [
        r for r in table(out, "applications").to_pylist() if r["report_id"] == rows["030.tables.txt"]["report_id"]
    ]


def test_report_000_values_equal_its_transcription(corpus):
    """Every value of report 000 in the statutory tables equals 000.json; the fee is the exact decimal."""
    out, _ = corpus
    doc = json.loads((REAL / "000.json").read_text(encoding="utf-8"))
    rep = by_file(out)["000.txt"]
    assert (rep["agency"], rep["year"], rep["format_version"]) == (doc["agency"], doc["year"], "2021")
    assert rep["report_id"] == S.report_id_for(rep["agency"], rep["region"], rep["year"])
    active = row_of(out, "active_disclosure", rep["report_id"])
    assert active["fees_10k_yuan"] == Decimal("180.338174")
    assert [active[c] for c in ("rules_issued", "rules_repealed", "rules_in_force")] == doc["tables"]["active"]["rules"]
    assert active["normative_in_force"] == 3 and active["v2019_rules_made"] is None
    apps = row_of(out, "applications", rep["report_id"])
    for key, values in doc["tables"]["applications"].items():
        assert [apps[S.app_col(key, c)] for c, _ in S.APPLICANT_COLUMNS] == values, key
    review = row_of(out, "review_litigation", rep["report_id"])
    for g, _ in S.REVIEW_GROUPS:
        assert [review[f"{g}_{o}"] for o, _ in S.REVIEW_OUTCOMES] == doc["tables"]["review_litigation"][g]
    cells = [c for c in table(out, "cells").to_pylist() if c["report_id"] == rep["report_id"]]
    assert len(cells) == 10 + 25 * 7 + 15
    fee = next(c for c in cells if c["column"] == "fees_10k_yuan")
    assert fee["text"] == "180.338174" and fee["numeric"] and fee["source"]
    blank = next(c for c in cells if c["column"] == "other_1_person")
    assert blank["text"] == "" and not blank["numeric"]


def test_non_numeric_print_of_a_real_report_is_kept(corpus):
    """017 prints '? 0' (a mangled non-breaking space) in 本年废止件数: null in the table, the text in cells."""
    out, _ = corpus
    rid = by_file(out)["017.tables.txt"]["report_id"]
    active = row_of(out, "active_disclosure", rid)
    assert (active["rules_issued"], active["rules_repealed"], active["normative_repealed"]) == (0, None, None)
    cells = {c["column"]: c for c in table(out, "cells").to_pylist() if c["report_id"] == rid}
    for column in ("rules_repealed", "normative_repealed"):
        assert (cells[column]["text"], cells[column]["numeric"]) == ("? 0", False)
        assert cells[column]["source"].startswith("line ")


def test_2019_format_goes_to_the_2019_columns(corpus):
    """027 prints the 2019 table 二: its values land in v2019_* and the 2021 columns stay null."""
    out, _ = corpus
    rep = by_file(out)["027.tables.txt"]
    assert rep["format_version"] == "2019"
    active = row_of(out, "active_disclosure", rep["report_id"])
    assert active["format_version"] == "2019"
    assert active["v2019_fees_prev_items"] == 2 and active["v2019_fees_change"] == 0
    assert all(active[c] is None for _, _, c, _ in S.ACTIVE_2021)


# --- Values that are not numbers, exact decimals, 2019 columns: through real files.


def _report(**over) -> dict:
    report = R.random_report(random.Random(7), over.pop("version", S.FORMAT_2021), **over)
    return report


def test_printed_text_is_kept_and_fee_is_exact(tmp_path):
    """'/', '—', '无' become null values with their text in cells; an 18-digit fee is stored exactly."""
    report = _report(agency="测试县财政局", year=2024)
    apps = report["tables"]["applications"]
    apps["new"] = ["/", "—", "无", None, 0, 5, 5]
    report["tables"]["active"]["fees_10k_yuan"] = "123456789012.345678"  # printed as is by the renderer
    src = write_report(tmp_path / "r.txt", report)
    out = tmp_path / "data"
    summary = I.ingest([src], out)
    assert summary.by_status() == {"parsed": 1}, summary.text()
    rid = S.report_id_for("测试县财政局", None, 2024)
    apps_row = row_of(out, "applications", rid)
    assert [apps_row[S.app_col("new", c)] for c, _ in S.APPLICANT_COLUMNS] == [None, None, None, None, 0, 5, 5]
    cells = {c["column"]: c for c in table(out, "cells").to_pylist() if c["report_id"] == rid}
    for column, text in (("new_person", "/"), ("new_business", "—"), ("new_research", "无")):
        assert (cells[column]["text"], cells[column]["numeric"]) == (text, False)
    assert (cells["new_charity"]["text"], cells["new_charity"]["numeric"]) == ("", False)
    assert row_of(out, "active_disclosure", rid)["fees_10k_yuan"] == Decimal("123456789012.345678")


def test_report_rows_maps_2019_and_rejected_reports():
    """report_rows: 2019 table 二 fills v2019_* only; a rejected report has a reports row and nothing else."""
    doc = _report(version=S.FORMAT_2019)
    active_2019 = {
        "rules": [1, 2, 3],
        "normative_docs": [4, "/", None],
        "licensing": [7, -2, 9],
        "other_services": [0, 0, 0],
        "punishment": [5, 1, 6],
        "enforcement": [0, 0, 0],
        "fees": [2, 0],
        "procurement": [3, 12.5],
    }
    rep = M.ParsedReport(
        source_file="/x/a.txt",
        source_sha256="a" * 64,
        status="parsed",
        agency="甲",
        year=2020,
        format_version="2019",
        tables=doc["tables"],
        active_2019=active_2019,
    )
    rep.cells = [M.Cell("active_disclosure", "v2019_procurement_amount", "12.50", 12.5, "line 40")]
    active = F.report_rows(rep)["active_disclosure"][0]
    assert active["format_version"] == "2019"
    made = ("v2019_rules_made", "v2019_rules_published", "v2019_rules_published_total")
    assert [active[c] for c in made] == [1, 2, 3]
    assert (active["v2019_normative_published"], active["v2019_normative_published_total"]) == (None, None)
    assert active["v2019_licensing_change"] == -2 and active["v2019_fees_prev_items"] == 2
    assert active["v2019_procurement_amount"] == Decimal("12.5")
    assert all(active[c] is None for _, _, c, _ in S.ACTIVE_2021)
    rows = F.report_rows(rep)
    assert [c for c in rows["cells"] if c["table"] == "active_disclosure" and c["text"] == "/"] == [
        {
            "report_id": rows["reports"][0]["report_id"],
            "table": "active_disclosure",
            "column": "v2019_normative_published",
            "text": "/",
            "numeric": False,
            "source": "",
        }
    ]
    bad = M.ParsedReport(source_file="/x/b.txt", source_sha256="b" * 64, status="rejected", reason="empty-file: 空")
    rows = F.report_rows(bad)
    assert len(rows["reports"]) == 1 and not any(rows[t] for t in S.STATUTORY_TABLES) and not rows["cells"]
    assert rows["reports"][0]["parse_reason"] == "empty-file: 空"


def _rebuilt(rows, table=None, index=0, column=None, value=None):
    """report_tuples rows with every string a new object (equal value), and optionally one value replaced."""
    out = {}
    for t, table_rows in rows.items():
        out[t] = [tuple(json.loads(json.dumps(v)) if isinstance(v, str) else v for v in row) for row in table_rows]
    if table:
        row = list(out[table][index])
        row[S.TABLE_SCHEMAS[table].names.index(column)] = value
        out[table][index] = tuple(row)
    return out


def test_rows_digest_follows_the_values_not_the_objects():
    """Equal rows digest equally whichever string objects hold them (marshal format 2 has no back-references);
    a changed value, a count printed as 1 instead of 1.0, or a different fee changes the digest; ingested_at
    does not."""
    doc = _report()
    rep = M.ParsedReport(
        source_file="/x/a.txt",
        source_sha256="a" * 64,
        status="parsed",
        agency="甲",
        year=2021,
        format_version="2021",
        tables=doc["tables"],
    )
    rep.cells = [
        M.Cell("active_disclosure", "fees_10k_yuan", "0.5", 0.5, "line 9"),
        M.Cell("applications", "new_person", "3", 3, "table 2 row 4 col 2"),
    ]
    rows = F.report_tuples(rep)
    digest = F.rows_digest(rows)
    assert F.rows_digest(_rebuilt(rows)) == digest
    assert F.rows_digest(_rebuilt(rows, "reports", 0, "ingested_at", "another time")) == digest
    assert F.rows_digest(_rebuilt(rows, "applications", 0, "new_person", 4)) != digest
    assert F.rows_digest(_rebuilt(rows, "cells", 1, "text", "4")) != digest
    assert F.rows_digest(_rebuilt(rows, "active_disclosure", 0, "fees_10k_yuan", Decimal("0.500001"))) != digest
    fee = S.ACTIVE_SCHEMA.names.index("fees_10k_yuan")
    assert type(rows["active_disclosure"][0][fee]) is Decimal  # the Decimal path was digested
    as_float = {
        t: [tuple(float(v) if type(v) is int else v for v in row) for row in table_rows]
        for t, table_rows in rows.items()
    }
    assert F.rows_digest(as_float) != digest
    # A value marshal does not know (only a hand-built row has one) still digests, deterministically.
    odd = F.rows_digest(_rebuilt(rows, "reports", 0, "agency", Path("/甲")))
    assert odd == F.rows_digest(_rebuilt(rows, "reports", 0, "agency", Path("/甲"))) != digest
    # report_rows is the same rows by column name.
    now = datetime(2026, 1, 2, tzinfo=UTC)
    assert {
        t: [tuple(r.values()) for r in table_rows] for t, table_rows in F.report_rows(rep, ingested_at=now).items()
    } == dict(F.report_tuples(rep, ingested_at=now).items())


# --- Idempotency.


def test_reingest_is_idempotent_and_changes_are_recorded(tmp_path):
    """Same files again: identical tables, all 'unchanged'; one edited file: replaced and logged with both hashes."""
    src = tmp_path / "in"
    shutil.copytree(REAL, src)
    out = tmp_path / "data"
    I.ingest([src], out)
    before = {t: table(out, t) for t in S.TABLE_SCHEMAS}
    second = I.ingest([src], out)
    assert {t: table(out, t) for t in S.TABLE_SCHEMAS} == before
    assert set(second.by_action()) == {"unchanged"}
    target = src / "000.txt"
    old_sha = F.file_sha256(target)
    target.write_text(
        target.read_text(encoding="utf-8").replace("行政事业性收费 | 180.338174 |", "行政事业性收费 | 99.5 |"),
        encoding="utf-8",
    )
    third = I.ingest([src], out)
    assert third.by_action()["replaced"] == 1
    assert table(out, "reports").num_rows == before["reports"].num_rows
    rid = by_file(out)["000.txt"]["report_id"]
    assert row_of(out, "active_disclosure", rid)["fees_10k_yuan"] == Decimal("99.5")
    log = [c for c in changes(out) if c["action"] == "replaced"]
    assert [(c["report_id"], c["old_sha256"], c["new_sha256"]) for c in log] == [(rid, old_sha, F.file_sha256(target))]


def test_same_report_from_two_files_is_kept_once_and_listed(tmp_path):
    """Two different files for the same agency and year: one row, the other file named as a conflict."""
    (tmp_path / "in").mkdir()
    a = write_report(tmp_path / "in" / "a.txt", _report(agency="某市统计局", year=2023))
    b = write_report(tmp_path / "in" / "b.txt", _report(agency="某市统计局", year=2023), layout="markdown")
    summary = I.ingest([tmp_path / "in"], tmp_path / "data")
    assert table(tmp_path / "data", "reports").num_rows == 1
    [conflict] = summary.conflicts()
    assert conflict.path == str(b.resolve()) and str(a.resolve()) in conflict.detail
    assert str(b.resolve()) in summary.text()


def test_broken_copy_never_overwrites_a_good_report(tmp_path):
    """A later run's empty file labelled as the same agency and year is listed as a conflict, not stored."""
    (tmp_path / "in").mkdir()
    write_report(tmp_path / "in" / "good.txt", _report(agency="某市审计局", year=2023))
    out = tmp_path / "data"
    I.ingest([tmp_path / "in"], out)
    (tmp_path / "late").mkdir()
    (tmp_path / "late" / "scan.pdf").write_bytes(b"")
    (tmp_path / "late" / "m.csv").write_text("file,agency,region,year\nscan.pdf,某市审计局,,2023\n", encoding="utf-8")
    summary = I.ingest([tmp_path / "late"], out, manifest=tmp_path / "late" / "m.csv")
    assert [o.action for o in summary.outcomes] == ["conflict"]
    assert [r["parse_status"] for r in table(out, "reports").to_pylist()] == ["parsed"]
    assert changes(out)[-1]["action"] == "conflict"


def test_file_whose_title_changed_replaces_its_old_report(tmp_path):
    """Editing the agency in a file's title re-keys its report: the old id is gone, the change is logged."""
    (tmp_path / "in").mkdir()
    path = write_report(tmp_path / "in" / "r.txt", _report(agency="旧名称局", year=2022))
    out = tmp_path / "data"
    I.ingest([path], out)
    old_id = by_file(out)["r.txt"]["report_id"]
    path.write_text(path.read_text(encoding="utf-8").replace("旧名称局", "新名称局"), encoding="utf-8")
    summary = I.ingest([path], out)
    assert [o.action for o in summary.outcomes] == ["replaced"] and old_id in summary.outcomes[0].detail
    ids = {t: set(table(out, t)["report_id"].to_pylist()) for t in S.TABLE_SCHEMAS}
    assert not ids.pop("versions")  # the same file re-keyed: no other version of any report
    assert all(i == {S.report_id_for("新名称局", None, 2022)} for i in ids.values()), ids


def test_failed_write_leaves_the_tables_as_they_were(tmp_path, monkeypatch):
    """A crash while writing (disk full, kill) never leaves a half-written or half-merged table."""
    (tmp_path / "in").mkdir()
    write_report(tmp_path / "in" / "a.txt", _report(agency="甲局", year=2022))
    out = tmp_path / "data"
    I.ingest([tmp_path / "in"], out)
    before = {t: table(out, t) for t in S.TABLE_SCHEMAS}
    write_report(tmp_path / "in" / "b.txt", _report(agency="乙局", year=2022))
    real_write, calls = pq.write_table, []

    def failing_write(t, where, **kw):
        calls.append(where)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_write(t, where, **kw)

    monkeypatch.setattr(pq, "write_table", failing_write)
    with pytest.raises(OSError):
        I.ingest([tmp_path / "in"], out)
    monkeypatch.undo()
    assert {t: table(out, t) for t in S.TABLE_SCHEMAS} == before
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


# --- Bad input never crashes the run nor loses the good reports.


def _bad_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "empty": folder / "empty.txt",
        "binary": folder / "binary.txt",
        "huge": folder / "huge.txt",
        "corrupt_pdf": folder / "corrupt.pdf",
        "gbk": folder / "gbk.txt",
        "good": folder / "good.txt",
    }
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(bytes(random.Random(1).randrange(256) for _ in range(4096)))
    with open(files["huge"], "wb") as fh:  # sparse: 51 MB on paper, nothing on disk
        fh.truncate(51 * 1024 * 1024)
    files["corrupt_pdf"].write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n" + b"\x00\xff" * 500)
    files["gbk"].write_bytes(R.render_text(_report(agency="某县民政局", year=2022), "pipe").encode("gbk"))
    write_report(files["good"], _report(agency="某县教育局", year=2022))
    return files


def test_bad_files_are_listed_not_fatal(tmp_path):
    """Empty, binary, huge (sparse 51 MB), corrupt PDF: rejected with reasons; GBK text and a good file parse."""
    files = _bad_files(tmp_path / "in")
    summary = I.ingest([tmp_path / "in"], tmp_path / "data")
    rows = by_file(tmp_path / "data")
    assert len(rows) == len(files)
    for name in ("empty", "binary", "huge", "corrupt_pdf"):
        row = rows[files[name].name]
        assert row["parse_status"] == "rejected", row
        assert row["parse_reason"].split(":")[0] and row["parse_reason"].split(":")[0].islower()
        assert str(files[name].resolve()) in summary.text()
    assert rows["huge.txt"]["parse_reason"].startswith("file-too-large")
    assert rows["huge.txt"]["source_sha256"] is None  # never read
    assert rows["gbk.txt"]["parse_status"] == "parsed", rows["gbk.txt"]["parse_reason"]
    assert rows["good.txt"]["parse_status"] == "parsed"
    assert summary.exit_code() == ExitCode.OK


def test_thousands_of_small_files_links_loops_and_fifos(tmp_path):
    """2,000 tiny files (some empty, binary or corrupt), a symlink loop, a dangling link and a FIFO: all listed."""
    src = tmp_path / "in"
    rng = random.Random(5)
    for i in range(2000):
        sub = src / f"d{i % 20:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        kind = i % 4
        data = (
            b"",
            bytes(rng.randrange(256) for _ in range(64)),
            b"%PDF-1.4 broken",
            f"第{i}号 无表格的短文本".encode(),
        )[kind]
        (sub / f"f{i:04d}{'.pdf' if kind == 2 else '.txt'}").write_bytes(data)
    os.symlink("..", src / "d00" / "loop")
    os.symlink(src / "nowhere.txt", src / "dangling.txt")
    os.mkfifo(src / "pipe.txt")
    write_report(src / "real.txt", _report(agency="某区司法局", year=2023))
    summary = I.ingest([src], tmp_path / "data")
    assert len(summary.outcomes) == 2000 + 3
    assert table(tmp_path / "data", "reports").num_rows == 2003
    assert by_file(tmp_path / "data")["real.txt"]["parse_status"] == "parsed"
    reasons = summary.by_reason()
    assert reasons["not-a-file"] == 1 and reasons["not-found"] == 1
    assert summary.by_status()["rejected"] == 2002


@pytest.mark.skipif(not hasattr(os, "seteuid"), reason="needs POSIX users")
def test_unreadable_file_is_listed():
    """A file without read permission is rejected with its reason; as root, the run drops to user nobody."""
    base = Path(tempfile.mkdtemp(prefix="nianbao-perm-"))
    root = os.geteuid() == 0
    try:
        base.chmod(0o755)
        src, out = base / "in", base / "data"
        src.mkdir(mode=0o755)
        out.mkdir()
        out.chmod(0o777)
        write_report(src / "ok.txt", _report(agency="某局", year=2021)).chmod(0o644)
        write_report(src / "secret.txt", _report(agency="另一局", year=2021)).chmod(0)
        I.ingest([src / "ok.txt"], base / "warm-up")  # imports every module of a run while privileged
        if root:
            os.setegid(65534)
            os.seteuid(65534)
        try:
            summary = I.ingest([src], out)
        finally:
            if root:
                os.seteuid(0)
                os.setegid(0)
        reasons = {Path(o.path).name: o.reason for o in summary.outcomes}
        assert reasons["secret.txt"].startswith("unreadable-file") and reasons["ok.txt"] == ""
        assert by_file(out)["secret.txt"]["parse_status"] == "rejected"
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- Metadata: manifest per file > flags > parsed title.


def test_manifest_overrides_flags_and_title(tmp_path):
    """A manifest row beats --agency/--year flags, which beat the title; blank manifest cells fall through."""
    src = tmp_path / "in"
    src.mkdir()
    write_report(src / "a.txt", _report(agency="标题里的机关", year=2021))
    write_report(src / "b.txt", _report(agency="另一个标题机关", year=2021))
    (src / "c.txt").write_text("(无表格)", encoding="utf-8")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "file,agency,region,year,level\nin/a.txt,清单机关,江苏省宿迁市沭阳县,2023,县级政府部门\nin/b.txt,,,,\n",
        encoding="utf-8-sig",
    )
    summary = I.ingest([src], tmp_path / "data", manifest=manifest, meta={"region": "旗标地区", "year": 2022})
    rows = by_file(tmp_path / "data")
    a, b = rows["a.txt"], rows["b.txt"]
    assert (a["agency"], a["region"], a["year"]) == ("清单机关", "江苏省宿迁市沭阳县", 2023)
    assert a["level"] == "county_department"
    assert a["report_id"] == S.report_id_for("清单机关", "江苏省宿迁市沭阳县", 2023)
    assert (b["agency"], b["region"], b["year"], b["level"]) == ("另一个标题机关", "旗标地区", 2022, None)
    assert summary.manifest_unused == []


@pytest.mark.parametrize(
    "content, where",
    [
        ("name,agency\nx.txt,甲\n", ":1:"),
        ("file,agency,region,year\nx.txt,甲,,二〇二三\n", ":2:"),
        ("file,agency,region,year,level\nx.txt,甲,,2023,\ny.txt,乙,,2023,村委会\n", ":3:"),
        ("file,agency,region,year\nx.txt,甲,,2023\nx.txt,乙,,2023\n", ":3:"),
    ],
)
def test_bad_manifest_is_a_config_error_naming_file_and_line(tmp_path, content, where, capsys):
    """A bad manifest stops the command with CONFIG_ERROR and names the file and line."""
    manifest = tmp_path / "m.csv"
    manifest.write_text(content, encoding="utf-8")
    (tmp_path / "x.txt").write_text("x", encoding="utf-8")
    args = build_parser().parse_args(
        ["ingest", str(tmp_path / "x.txt"), "--out", str(tmp_path / "data"), "--manifest", str(manifest)]
    )
    assert I.command(args) == ExitCode.CONFIG_ERROR
    assert f"{manifest}{where}" in capsys.readouterr().err
    assert not (tmp_path / "data" / "reports").exists()


def test_command_prints_summary_and_exit_codes(tmp_path, capsys):
    """The command prints the Chinese summary; OK when something was read, INPUT_UNREADABLE when nothing was."""
    write_report(tmp_path / "r.txt", _report(agency="某镇人民政府", year=2024))
    (tmp_path / "empty.txt").write_bytes(b"")
    out = str(tmp_path / "data")
    args = build_parser().parse_args(
        ["ingest", str(tmp_path / "r.txt"), str(tmp_path / "empty.txt"), "--out", out, "--level", "township"]
    )
    assert I.command(args) == ExitCode.OK
    text = capsys.readouterr().out
    assert "完整解析(parsed):1" in text and "拒收(rejected):1" in text and str(tmp_path / "empty.txt") in text
    assert by_file(tmp_path / "data")["r.txt"]["level"] == "township"
    args = build_parser().parse_args(
        ["ingest", str(tmp_path / "empty.txt"), str(tmp_path / "missing.txt"), "--out", out]
    )
    assert I.command(args) == ExitCode.INPUT_UNREADABLE
    assert "not-found" in capsys.readouterr().out
    with pytest.raises(UsageError):  # a bad value on the command line is a usage error (exit 64)
        build_parser().parse_args(["ingest", str(tmp_path / "r.txt"), "--out", out, "--level", "村"])


def test_parser_crash_is_contained(tmp_path, monkeypatch):
    """Should parse_file ever raise, that file is rejected as parser-crash and the others still load."""
    write_report(tmp_path / "ok.txt", _report(agency="甲", year=2021))
    write_report(tmp_path / "boom.txt", _report(agency="乙", year=2021))
    import nianbao.parse as parse_package

    def fragile(path, **meta):
        if Path(path).name == "boom.txt":
            raise RecursionError("maximum recursion depth exceeded")
        return parse_file(path, **meta)

    monkeypatch.setattr(parse_package, "parse_file", fragile)
    summary = I.ingest([tmp_path / "ok.txt", tmp_path / "boom.txt"], tmp_path / "data")
    rows = by_file(tmp_path / "data")
    assert rows["boom.txt"]["parse_reason"].startswith("parser-crash: RecursionError")
    assert rows["ok.txt"]["parse_status"] == "parsed" and summary.exit_code() == ExitCode.OK


def test_a_reader_crash_is_that_files_rejection(tmp_path, monkeypatch, capsys):
    """A reader that raises (a bug met on one page) gives `nianbao parse` a rejection naming it, not a traceback."""
    page = tmp_path / "boom.html"
    page.write_text("<html><body><p>二、主动公开政府信息情况</p></body></html>", encoding="utf-8")
    import nianbao.parse.html as H

    def broken(data, path):
        raise KeyError("td")

    monkeypatch.setattr(H, "read_page", broken)
    report = parse_file(page)
    assert (report.status, report.reason) == ("rejected", "parser-crash: KeyError: 'td'")
    import nianbao.parse as parse_package

    assert parse_package.command(build_parser().parse_args(["parse", str(page)])) == ExitCode.INPUT_UNREADABLE
    assert "parser-crash: KeyError" in capsys.readouterr().out


def test_a_hung_parse_is_stopped_and_the_others_still_load(tmp_path, monkeypatch):
    """A parse that never ends (even one catching Exception) is rejected as parser-timeout; nothing is lost."""
    write_report(tmp_path / "ok.txt", _report(agency="甲", year=2021))
    write_report(tmp_path / "hang.txt", _report(agency="乙", year=2021))
    import nianbao.parse as parse_package

    def hangs(path, **meta):
        while Path(path).name == "hang.txt":
            with contextlib.suppress(Exception):
                time.sleep(0.01)
        return parse_file(path, **meta)

    monkeypatch.setattr(parse_package, "parse_file", hangs)
    started = time.monotonic()
    summary = I.ingest([tmp_path / "ok.txt", tmp_path / "hang.txt"], tmp_path / "data", timeout=0.5)
    assert time.monotonic() - started < 30
    rows = by_file(tmp_path / "data")
    assert rows["hang.txt"]["parse_status"] == "rejected"
    assert rows["hang.txt"]["parse_reason"].startswith("parser-timeout: 解析超过 0.5 秒")
    assert rows["hang.txt"]["source_sha256"] == F.file_sha256(tmp_path / "hang.txt")
    assert rows["ok.txt"]["parse_status"] == "parsed" and summary.by_reason()["parser-timeout"] == 1
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # no timer left behind


def test_parser_processes_keep_the_time_limit(tmp_path):
    """The limit reaches the parser processes: with a limit far below a parse, every file times out there."""
    for i in range(4):
        write_report(tmp_path / f"r{i}.txt", _report(agency=f"局{i}", year=2021))
    summary = I.ingest([tmp_path], tmp_path / "data", workers=2, timeout=1e-5)
    assert [o.reason.split(":")[0] for o in summary.outcomes] == ["parser-timeout"] * 4
    assert I.ingest([tmp_path], tmp_path / "again", workers=2, timeout=0).by_status() == Counter(parsed=4)


@pytest.mark.parametrize("value, seconds", [(None, F.DEFAULT_PARSE_TIMEOUT), ("2.5", 2.5), (0, 0.0)])
def test_parse_timeout_value(value, seconds, monkeypatch):
    monkeypatch.delenv(F.PARSE_TIMEOUT_ENV, raising=False)
    assert F.parse_timeout(value) == seconds


@pytest.mark.parametrize("env, what", [(F.PARSE_TIMEOUT_ENV, "解析时限"), ("NIANBAO_PARSE_MEMORY", "内存上限")])
@pytest.mark.parametrize("bad", ["abc", "-1", "inf", "nan"])
def test_a_bad_limit_is_a_clear_error(bad, env, what, monkeypatch, tmp_path):
    monkeypatch.setenv(env, bad)
    with pytest.raises(I.ManifestError, match=what):
        I.ingest([tmp_path], tmp_path / "data")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("bad", ["x", "-1", "nan", "inf"])
def test_a_bad_memory_limit_as_an_argument_or_for_nianbao_parse(tmp_path, bad):
    write_report(tmp_path / "r.txt", _report(agency="甲", year=2021))
    with pytest.raises(F.ManifestError, match="内存上限"):
        I.ingest([tmp_path / "r.txt"], tmp_path / "out", memory_mb=bad)
    run = subprocess.run(
        [sys.executable, "-m", "nianbao", "parse", str(tmp_path / "r.txt")],
        capture_output=True,
        text=True,
        env={**os.environ, "NIANBAO_PARSE_MEMORY": bad},
    )
    assert run.returncode == ExitCode.CONFIG_ERROR and "内存上限" in run.stderr


def test_worker_processes_write_what_one_process_writes(tmp_path):
    """Rows built in parser processes (ingest_all with workers) equal those built in this process."""
    src = tmp_path / "in"
    src.mkdir()
    for i, layout in enumerate(R.LAYOUTS * 2):
        report = R.random_report(
            random.Random(i), S.FORMAT_2019 if i % 3 == 0 else S.FORMAT_2021, agency=f"并行测试第{i}局", year=2023
        )
        write_report(src / f"r{i:02d}.txt", report, layout)
    (src / "empty.txt").write_bytes(b"")
    serial = I.ingest([src], tmp_path / "serial", workers=1)
    parallel = I.ingest([src], tmp_path / "parallel", workers=2)
    assert [(o.path, o.status, o.reason, o.report_id) for o in serial.outcomes] == [
        (o.path, o.status, o.reason, o.report_id) for o in parallel.outcomes
    ]
    assert serial.by_status()["parsed"] == 2 * len(R.LAYOUTS) and serial.by_status()["rejected"] == 1
    for name in S.TABLE_SCHEMAS:
        a, b = table(tmp_path / "serial", name), table(tmp_path / "parallel", name)
        if name == "reports":  # each run stamps its own ingest time
            a, b = a.drop_columns(["ingested_at"]), b.drop_columns(["ingested_at"])
        if name == "versions":  # one file per report: no other versions
            assert a.num_rows == b.num_rows == 0
            continue
        assert a.num_rows > 0 and a.sort_by("report_id").equals(b.sort_by("report_id")), name


def test_a_file_that_kills_its_parser_process_is_rejected_and_the_others_load(tmp_path):
    """A parser process killed while it reads one file (here by the kernel, at a CPU-time limit, as its
    out-of-memory killer would): that file is retried alone in a process of its own, dies again and is
    rejected as parser-crash; every other file loads, and the ingest itself lives. (Before, the rest was
    parsed in the ingest's own process, that file too, which the kernel would then kill.)"""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(20):
        write_report(src / f"r{i:02d}.txt", _report(agency=f"崩溃测试第{i}局", year=2023))
    # Seconds of CPU to parse; every other file takes milliseconds.
    (src / "r10-killer.txt").write_text("二、主动公开政府信息情况\n" + "规章 1 2 3\n" * 400_000, encoding="utf-8")
    code = """if True:
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (3, 3))   # inherited by every parser process it starts
        from nianbao import ingest
        summary = ingest.ingest([sys.argv[1]], sys.argv[2], workers=2)
        print(json.dumps([(o.path, o.status, o.reason) for o in summary.outcomes], ensure_ascii=False))
    """
    run = subprocess.run(
        [sys.executable, "-c", code, str(src), str(tmp_path / "out")], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    outcomes = {Path(path).name: (status, reason) for path, status, reason in json.loads(run.stdout)}
    assert len(outcomes) == 21
    assert outcomes.pop("r10-killer.txt") == ("rejected", I.PROCESS_DIED)
    assert {status for status, _ in outcomes.values()} == {"parsed"}
    assert table(tmp_path / "out", "reports").num_rows == 21


def test_the_alarm_handler_is_restored_even_when_the_limit_is_tiny(tmp_path):
    write_report(tmp_path / "r.txt", _report(agency="甲", year=2021))
    before = signal.getsignal(signal.SIGALRM)
    for _ in range(20):
        assert F.parse_one(tmp_path / "r.txt", {}, timeout=1e-6).reason.startswith("parser-timeout")
    assert signal.getsignal(signal.SIGALRM) is before and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_parser_processes_do_not_import_pyarrow():
    """What a parser process imports (ingest_file and the readers) leaves pyarrow, pandas and numpy out."""
    code = (
        "import sys, nianbao.ingest_file, nianbao.parse.html, nianbao.parse.text; "
        "print(sorted(m for m in ('pyarrow', 'pandas', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_html_and_text_reports_are_read_without_reference_cycles():
    """What ingest_one reads with the collector paused (CYCLE_FREE_SUFFIXES) leaves no cyclic garbage behind.
    In a fresh interpreter: other tests leave threads behind that make garbage of their own."""
    files = sorted(str(p) for p in CORPUS.rglob("*") if p.suffix.lower() in F.CYCLE_FREE_SUFFIXES)
    assert {Path(p).suffix for p in files} >= {".html", ".txt"}
    code = """if True:
        import gc, json, sys
        from datetime import datetime, timezone
        from pathlib import Path
        from nianbao import ingest_file
        files, now = [Path(p) for p in json.loads(sys.argv[1])], datetime.now(timezone.utc)
        for path in files:   # once first: lazy caches and compiled patterns are made once, not per file
            ingest_file.ingest_one(path, {}, now, 0)
        gc.collect()
        gc.disable()
        for path in files:
            ingest_file.ingest_one(path, {}, now, 0)
        print(gc.collect())
    """
    out = subprocess.run([sys.executable, "-c", code, json.dumps(files)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def _flate_bomb(mb: int) -> bytes:
    """A zlib stream of `mb` MB of spaces, about 1,000 times smaller: one 1 MB deflate block after each
    full flush (which resets the history, so every block is the same bytes), then the checksum."""
    chunk = b" " * 2**20
    c = zlib.compressobj(9)
    first = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)  # with the 2-byte zlib header
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(mb):
        adler = zlib.adler32(chunk, adler)
    return first + block * (mb - 1) + b"\x03\x00" + adler.to_bytes(4, "big")


def write_pdf_bomb(path: Path, mb: int) -> Path:
    """A valid one-page PDF whose content stream inflates to `mb` MB (pdfminer inflates a stream whole)."""
    stream = _flate_bomb(mb)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def test_a_decompression_bomb_is_rejected_within_the_memory_budget_and_the_others_load(tmp_path):
    """A 0.5 MB PDF whose stream inflates to 512 MB, ingested with --parse-memory 64 beside real reports:
    it is rejected as parser-out-of-memory, the others load, and the ingest's memory stays near its own
    (without the cap the inflated stream alone takes 512 MB: a 50 MB file of this kind takes 50 GB,
    and the kernel kills the process that parses it)."""
    src = tmp_path / "in"
    src.mkdir()
    write_pdf_bomb(src / "bomb.pdf", 512)
    assert (src / "bomb.pdf").stat().st_size < 2**20
    for name in ("hongze-2023.pdf", "pingtan-2023.html"):
        shutil.copy(CORPUS / ("pdf" if name.endswith(".pdf") else "html") / name, src / name)
    write_report(src / "r.txt", _report(agency="炸弹测试局", year=2023))
    # The peak is VmHWM, this process's own: ru_maxrss would count the parent's size at the spawn too.
    code = """if True:
        import re, sys
        from nianbao import ingest
        from nianbao.cli import UsageError, build_parser
        code = ingest.command(build_parser().parse_args(["ingest", *sys.argv[1:], "--parse-memory", "64"]))
        with open("/proc/self/status") as fh:
            peak_kb = int(re.search(r"VmHWM:\\s*(\\d+)", fh.read()).group(1))
        print(f"peak-mb={peak_kb // 1024}", file=sys.stderr)
        sys.exit(code)
    """
    run = subprocess.run(
        [sys.executable, "-c", code, str(src), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == ExitCode.OK, run.stderr[-3000:]
    assert "parser-out-of-memory:1" in run.stdout.replace(" ", "")
    peak_mb = int(re.search(r"peak-mb=(\d+)", run.stderr).group(1))
    assert peak_mb < 450, run.stderr
    reports = {Path(r["source_file"]).name: r for r in table(tmp_path / "out", "reports").to_pylist()}
    assert reports.pop("bomb.pdf")["parse_reason"].startswith("parser-out-of-memory: ")
    assert {r["parse_status"] for r in reports.values()} == {"parsed"} and len(reports) == 3


def test_the_memory_cap_is_lifted_after_each_parse_and_real_reports_fit_a_small_one(tmp_path):
    """In a fresh process (the cap is process-wide; pytest's own threads must not meet it): every corpus
    report parses the same under a 64 MB cap as without, the bomb does not, and the limit is as before."""
    write_pdf_bomb(tmp_path / "bomb.pdf", 256)
    code = """if True:
        import json, resource, sys
        from pathlib import Path
        from nianbao.parse import parse_file
        files, bomb = [Path(p) for p in json.loads(sys.argv[1])], sys.argv[2]
        before = resource.getrlimit(resource.RLIMIT_AS)
        same = [parse_file(p, memory_mb=64).to_json() == parse_file(p, memory_mb=0).to_json() for p in files]
        capped = [parse_file(p, memory_mb=64).status for p in files]
        print(json.dumps({"same": all(same), "statuses": sorted(set(capped)),
                          "bomb": parse_file(bomb, memory_mb=64).reason.split(":")[0],
                          "restored": resource.getrlimit(resource.RLIMIT_AS) == before}))
    """
    files = sorted(str(p) for p in CORPUS.rglob("*") if p.suffix in (".txt", ".html", ".pdf"))
    run = subprocess.run(
        [sys.executable, "-c", code, json.dumps(files), str(tmp_path / "bomb.pdf")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout) == {
        "same": True,
        "statuses": ["parsed", "partial", "rejected"],
        "bomb": "parser-out-of-memory",
        "restored": True,
    }
