"""Golden tests: every text and PDF file of the corpus parses to its transcription, cell for cell.

One case per file (corpus/html is covered by tests/test_parse_html.py). Expected tables come from the
transcribed JSON (corpus/real/*.json, tests/golden/pdf/*.json written from pdfplumber's table grids and
checked by eye); what a truncated excerpt lacks is derived from the JSON, not from the parser.
"""

from __future__ import annotations

import json
import os
import random
from functools import cache
from pathlib import Path

import pdfplumber
import pytest

from nianbao import schema as S
from nianbao.parse import parse_file
from nianbao.paths import ROOT

CORPUS = Path(os.environ.get("NIANBAO_CORPUS", ROOT.parent / "shared" / "corpus"))
GOLDEN = Path(__file__).parent / "golden" / "pdf"
TABLE_NAMES = {"active_disclosure", "applications", "review_litigation"}
EXCERPT = (None, None)  # a tables-only excerpt prints no title: agency and year stay unknown

# (file under corpus/, transcription, status, reason code, format version, deviations, (agency, year))
CASES = [
    ("real/000.txt", CORPUS / "real/000.json", "parsed", "", "2021", [], ("深州市人民政府办公室", 2021)),
    ("real/002.tables.txt", CORPUS / "real/002.json", "parsed", "", "2021", ["other-single-row"], EXCERPT),
    ("real/005.tables.txt", CORPUS / "real/005.json", "partial", "tables-incomplete", "2021", [], EXCERPT),
    ("real/007.tables.txt", CORPUS / "real/007.json", "partial", "tables-incomplete", "2021", [], EXCERPT),
    ("real/009.tables.txt", CORPUS / "real/009.json", "partial", "tables-incomplete", "2021", [], EXCERPT),
    ("real/011.tables.txt", CORPUS / "real/011.json", "partial", "tables-incomplete", "2021", [], EXCERPT),
    ("real/013.tables.txt", CORPUS / "real/013.json", "partial", "tables-incomplete", "2021", [], EXCERPT),
    ("real/015.tables.txt", CORPUS / "real/015.json", "partial", "tables-incomplete", "2021", [], EXCERPT),
    ("real/017.tables.txt", CORPUS / "real/017.json", "partial", "tables-incomplete", "2021", [], EXCERPT),
    ("real/019.tables.txt", CORPUS / "real/019.json", "partial", "tables-incomplete", "2021", [], EXCERPT),
    ("real/021.tables.txt", CORPUS / "real/021.json", "parsed", "", "2021", [], EXCERPT),
    ("real/023.tables.txt", CORPUS / "real/023.json", "partial", "tables-incomplete", "2021", [], EXCERPT),
    ("real/025.tables.txt", CORPUS / "real/025.json", "partial", "tables-incomplete", "2021", [], EXCERPT),
    ("real/027.tables.txt", CORPUS / "real/027.json", "partial", "tables-incomplete", "2019", [], EXCERPT),
    ("real/029.tables.txt", CORPUS / "real/029.json", "partial", "tables-incomplete", "2021", [], EXCERPT),
    # All cells run together: the values cannot be separated, so nothing is read (030.json came from the HTML).
    ("real/030.tables.txt", CORPUS / "real/030.json", "rejected", "cells-run-together", None, [], EXCERPT),
    (
        "pdf/hongze-2023.pdf",
        CORPUS / "real/002.json",
        "parsed",
        "",
        "2021",
        ["other-single-row"],
        ("洪泽区人民政府", 2023),
    ),
    (
        "pdf/hongze-2024.pdf",
        GOLDEN / "hongze-2024.json",
        "parsed",
        "",
        "2021",
        ["other-single-row"],
        ("淮安市洪泽区人民政府", 2024),
    ),
    ("pdf/huaian-2024.pdf", GOLDEN / "huaian-2024.json", "parsed", "", "2021", [], ("淮安市人民政府", 2024)),
]
PDF_GOLDEN = {
    "hongze-2023.pdf": CORPUS / "real/002.json",
    "hongze-2024.pdf": GOLDEN / "hongze-2024.json",
    "huaian-2024.pdf": GOLDEN / "huaian-2024.json",
}


def as_json(value):
    """Compare as JSON values, the way the transcriptions store them."""
    return json.loads(json.dumps(value))


def expected_missing(doc: dict) -> list[str]:
    """What a parse of an excerpt lacks, from its transcription: absent tables, then absent rows."""
    tables, out = doc["tables"], []
    if tables["active"] is None and "active_2019_format" not in doc:
        out.append("active")
    apps = tables["applications"]
    keys = S.APPLICATION_ROW_KEYS_SINGLE if apps and "other" in apps else S.APPLICATION_ROW_KEYS_SUBROWS
    out += ["applications"] if apps is None else [f"applications.{k}" for k in keys if k not in apps]
    review = tables["review_litigation"]
    out += (
        ["review_litigation"]
        if review is None
        else [f"review_litigation.{g}" for g, _ in S.REVIEW_GROUPS if g not in review]
    )
    return out


@cache
def parsed(name: str):
    """Each corpus file is parsed once per session (PDFs take seconds); tests only read the report."""
    return parse_file(CORPUS / name)


def test_every_corpus_file_has_a_case():
    """The case table covers exactly the text and PDF files of the corpus."""
    files = {f"real/{p.name}" for p in (CORPUS / "real").glob("*.txt")}
    files |= {f"pdf/{p.name}" for p in (CORPUS / "pdf").glob("*.pdf")}
    assert files == {c[0] for c in CASES}


@pytest.mark.parametrize("name,transcription,status,code,version,deviations,meta", CASES, ids=[c[0] for c in CASES])
def test_golden(name, transcription, status, code, version, deviations, meta):
    """Outcome and reason code, format, metadata, and the three tables equal the transcription."""
    doc = json.loads(transcription.read_text(encoding="utf-8"))
    report = parsed(name)
    assert (report.status, report.reason.split(":")[0]) == (status, code), report.reason
    assert (report.format_version, report.deviations) == (version, deviations)
    assert (report.agency, report.year) == meta
    if status == "rejected":
        assert report.tables == {"active": None, "applications": None, "review_litigation": None}
        assert report.cells == [] and report.active_2019 is None
        return
    assert as_json(report.tables) == doc["tables"]
    if version == S.FORMAT_2019:
        assert report.active_2019 == {k: v for k, v in doc["active_2019_format"].items() if k != "_columns"}
    assert report.missing == (expected_missing(doc) if status == "partial" else [])


@pytest.mark.parametrize("name", [c[0] for c in CASES if c[2] != "rejected"])
def test_cells_point_back_to_the_source(name):
    """One Cell per value found, in schema columns, whose source line prints exactly its text."""
    report = parsed(name)
    values = [
        v for t in report.tables.values() if t for row in t.values() for v in (row if isinstance(row, list) else [row])
    ]
    values += [v for row in (report.active_2019 or {}).values() for v in row]
    assert len(report.cells) == len(values)
    columns = {
        "active_disclosure": set(S.ACTIVE_COLUMNS),
        "applications": set(S.APPLICATION_COLUMNS),
        "review_litigation": set(S.REVIEW_COLUMNS),
    }
    assert all(c.column in columns[c.table] for c in report.cells)
    assert len({(c.table, c.column) for c in report.cells}) == len(report.cells)
    if name.endswith(".pdf"):
        assert all(c.source.startswith("page ") for c in report.cells)
        return
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    for c in report.cells:
        number = int(c.source.split()[1])
        assert c.text in lines[number - 1], (c, lines[number - 1])


@pytest.mark.parametrize("name", sorted(PDF_GOLDEN))
def test_pdf_text_layer_as_text(name, tmp_path):
    """The PDFs' text layer saved as .txt (numbers printed before or inside wrapped labels, vertical
    group labels interleaved) parses to the same tables as the PDF's grid."""
    with pdfplumber.open(CORPUS / "pdf" / name) as pdf:
        text = "\n".join(page.extract_text() or "" for page in pdf.pages)
    path = tmp_path / (name + ".txt")
    path.write_text(text, encoding="utf-8")
    report = parse_file(path)
    assert (report.status, report.reason) == ("parsed", "")
    assert as_json(report.tables) == json.loads(PDF_GOLDEN[name].read_text(encoding="utf-8"))["tables"]


def test_run_together_page_gives_no_number():
    """030: no cell, no table, no value; the reason names the line where the cells run together."""
    report = parsed("real/030.tables.txt")
    assert report.reason.startswith("cells-run-together: ") and "line 1" in report.reason
    assert report.to_json()["tables"] == {"active": None, "applications": None, "review_litigation": None}


def _transcribed_2019_reports() -> list[str]:
    """Corpus files whose transcription holds the 2019 (试行) table 二: 027, and 028 or any other once added."""
    names = []
    for doc in sorted((CORPUS / "real").glob("*.json")):
        if "active_2019_format" in json.loads(doc.read_text(encoding="utf-8")):
            names += [f"real/{p.name}" for p in sorted((CORPUS / "real").glob(f"{doc.stem}*.txt"))]
    return names


def test_the_corpus_has_2019_samples():
    assert "real/027.tables.txt" in _transcribed_2019_reports()


@pytest.mark.parametrize("name", _transcribed_2019_reports())
def test_2019_samples_are_detected_as_2019(name):
    """Detected from the table structure (027 is a 2023 report): format 2019, its table 二 as transcribed."""
    doc = json.loads((CORPUS / "real" / f"{Path(name).name.split('.')[0]}.json").read_text(encoding="utf-8"))
    report = parsed(name)
    assert report.format_version == S.FORMAT_2019 and report.tables["active"] is None
    assert report.active_2019 == {k: v for k, v in doc["active_2019_format"].items() if k != "_columns"}


def test_2019_table_is_never_mapped_onto_2021_columns():
    """027 prints the 2019 table 二 in a 2023 report: its cells go to the v2019_* columns only."""
    report = parsed("real/027.tables.txt")
    active = [c for c in report.cells if c.table == "active_disclosure"]
    assert report.tables["active"] is None and len(active) == 22
    assert all(c.column.startswith("v2019_") for c in active)
    by_column = {c.column: c.value for c in active}
    assert by_column["v2019_fees_prev_items"] == 2 and by_column["v2019_rules_published_total"] == 0


# Bytes that broke or could break a reader: control characters raw and as character references, BOMs,
# stray table and comment markup, absurd spans, broken UTF-8, a contradicting charset declaration.
_JUNK = [
    b"\x0b",
    b"\x00",
    b"\x01",
    b"\x0c",
    b"\x1c",
    b"\x7f",
    b"\x80",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"&#0;",
    b"&#x1;",
    b"&#11;",
    b"&#xD800;",
    b"<td>",
    b"</tr>",
    b"<table>",
    b"</table>",
    b"<br>",
    b"<img>",
    b"<!--",
    b"-->",
    b"<script>",
    b"<p>",
    b"<td rowspan=99999>",
    b"<td colspan=-1>",
    b"|",
    b"\n",
    b"\t",
    b"\xc2\xa0",
    b"\xe3\x80\x80",
    "\u2028".encode(),
    b"<meta charset=big5>",
    b"<?xml version='1.0'?>",
]


def test_damaged_corpus_files_never_crash_a_reader(tmp_path):
    """Corpus text and HTML files with junk inserted, bytes changed, pieces cut out or the end cut off: each
    parses, is partial or is rejected with a reason, never a reader's crash (found this way: control
    characters made the HTML reader fail)."""
    rng = random.Random(7)
    sources = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".txt", ".md", ".html", ".htm"))
    outcomes = set()
    for i in range(300):
        source = rng.choice(sources)
        data = bytearray(source.read_bytes())
        ends = [k + 1 for k, b in enumerate(data) if b == ord(">")]
        for _ in range(rng.randint(1, 12)):
            pos, op = rng.randrange(len(data) + 1), rng.random()
            if ends and rng.random() < 0.5:  # where a text begins, after a tag: what readers write marks next to
                pos = min(rng.choice(ends), len(data))
            if op < 0.5:
                data[pos:pos] = rng.choice(_JUNK)
            elif op < 0.7:
                del data[pos : pos + rng.randint(1, 200)]
            elif op < 0.75:
                del data[pos:]
            elif data:
                data[min(pos, len(data) - 1)] = rng.randrange(256)
        damaged = tmp_path / f"{i}{source.suffix}"
        damaged.write_bytes(bytes(data))
        report = parse_file(damaged)
        assert not report.reason.startswith("parser-crash"), (source.name, damaged, report.reason)
        outcomes.add(report.status)
    assert outcomes == {"parsed", "partial", "rejected"}  # the damage was varied enough to reach every outcome


# --- Markdown as PDF-to-Markdown converters write it, hand-made from transcribed reports (tests/fixtures/
# markdown): one table per row group under headings, generic column headers, applicant headers as tables of
# dashes, group labels carried into the row's cell or left in a heading, '<br>', bold and escapes.

MARKDOWN = Path(__file__).parent / "fixtures" / "markdown"
TRANSCRIBED = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real"
MARKDOWN_CASES = [  # (fixture, transcription, status, format version, deviations)
    ("000-split.md", "000.json", "parsed", "2021", []),  # group headings over numbered sub-rows, '—' headers
    ("021-generic.md", "021.json", "parsed", "2021", []),  # one table each, '类别 | 数据1…', blank cells empty
    ("030-per-row.md", "030.json", "parsed", "2021", []),  # one table per row, '列1…列8', '**总计**' values
    ("027-split.md", "027.json", "partial", "2019", []),  # the 2019 table 二 only, '<br>' in printed headers
    ("002-html-blocks.md", "002.json", "parsed", "2021", ["other-single-row"]),  # table 三 an HTML block
    # table 四 one table per group under '### 行政诉讼 · 复议后起诉'; table 二 under '列1 | 列2' only
    ("002-review-split.md", "002.json", "parsed", "2021", ["other-single-row"]),
    ("030-review-rows.md", "030.json", "parsed", "2021", []),  # '### 行政诉讼' over its two groups as rows
]


@pytest.mark.parametrize("name,transcription,status,version,deviations", MARKDOWN_CASES)
def test_converted_markdown_golden(name, transcription, status, version, deviations):
    """Each converter shape reads back its transcription cell for cell, with the title's metadata."""
    doc = json.loads((TRANSCRIBED / transcription).read_text(encoding="utf-8"))
    report = parse_file(MARKDOWN / name)
    assert report.status == status, report.reason
    assert (report.format_version, report.deviations) == (version, deviations)
    assert (report.agency, report.year) == (doc["agency"], doc["year"])
    assert as_json(report.tables) == doc["tables"]
    if version == S.FORMAT_2019:
        assert report.active_2019 == {k: v for k, v in doc["active_2019_format"].items() if k != "_columns"}
    assert report.missing == (expected_missing(doc) if status == "partial" else [])


def _active_section(text: str, edit) -> str:
    """A fixture with `edit` applied to each line of its section 二 (table 二)."""
    head, rest = text.split("## 二、", 1)
    section, *tail = rest.split("## 三、", 1)
    return "## 三、".join([head + "## 二、" + "\n".join(map(edit, section.split("\n"))), *tail])


def _headers_lost(line: str) -> str:
    """Table 二's printed column headers as generic names: '| 信息内容 | 本年制发件数 | …' -> '| 列1 | 列2 | …'."""
    cells = line.strip("|").split("|")
    if line.startswith("| 信息内容 "):
        return "| " + " | ".join(f"列{k}" for k in range(1, len(cells) + 1)) + " |"
    return line


def _widened(line: str) -> str:
    """A two-column row of table 二 spread over four columns, as when the whole table is one grid."""
    if not line.startswith("|"):
        return line
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) != 2:
        return line
    fill = ["---"] * 2 if cells[1] == "---" else [f"列{k}" for k in (3, 4)] if cells[0] == "列1" else ["", ""]
    return "| " + " | ".join([*cells, *fill]) + " |"


def _replace_once(old: str, new: str):
    return lambda text: text.replace(old, new, 1)


GENERIC_CASES = [  # (case, fixture, edit, status, reason code, format version, tables left unread)
    # (五)(六)(八) under '列1 | 列2': one value column, which only the 2021 format prints
    ("2021 told by the count", "000-split.md", lambda t: _active_section(t, _headers_lost), "parsed", "", "2021", []),
    # 第(八)项 under three generic columns: two values for the fee, which only the 2019 format prints
    (
        "2019 told by the count",
        "027-split.md",
        lambda t: _active_section(t, _headers_lost),
        "partial",
        "tables-incomplete",
        "2019",
        [],
    ),
    # every block spread over four columns (one grid): no count tells the format
    (
        "no count tells",
        "002-review-split.md",
        lambda t: _active_section(t, _widened),
        "partial",
        "unknown-format",
        None,  # (六) is one row here: nothing else tells the format either
        ["active"],
    ),
    # 行政许可 under three columns: two values, which neither format nor a whole grid of table 二 prints
    (
        "table 二 count matches none",
        "002-review-split.md",
        _replace_once(
            "| 列1 | 列2 |\n| --- | --- |\n| 行政许可 | 550 |",
            "| 列1 | 列2 | 列3 |\n| --- | --- | --- |\n| 行政许可 | 550 |  |",
        ),
        "partial",
        "columns-unmatched",
        "2021",
        ["active"],
    ),
    # a row table of table 三 whose generic header lost a column: 7 columns for a label and 7 values
    (
        "table 三 count matches none",
        "000-split.md",
        _replace_once(
            "| 数据5 | 数据6 | 总计 |\n| --- | --- | --- | --- | --- | --- | --- | --- |",
            "| 数据5 | 总计 |\n| --- | --- | --- | --- | --- | --- | --- |",
        ),
        "partial",
        "columns-unmatched",
        "2021",
        ["applications"],
    ),
    # 行政复议's table under four generic columns over its five values
    (
        "table 四 count matches none",
        "030-review-rows.md",
        _replace_once(
            "| 列1 | 列2 | 列3 | 列4 | 列5 |\n| --- | --- | --- | --- | --- |",
            "| 列1 | 列2 | 列3 | 列4 |\n| --- | --- | --- | --- |",
        ),
        "partial",
        "columns-unmatched",
        "2021",
        ["review_litigation"],
    ),
]


@pytest.mark.parametrize("case,name,edit,status,code,version,unread", GENERIC_CASES, ids=[c[0] for c in GENERIC_CASES])
def test_generic_columns_are_trusted_only_when_their_count_matches(
    tmp_path, case, name, edit, status, code, version, unread
):
    """Generic column names ('列1', '数据1') place numbers only where the column count is the statutory
    table's, and tell table 二's format where its rows' counts differ between the formats (2021 prints one
    value for 行政许可, 2019 three; 2021 one fee, 2019 two); any other count leaves its table unread with
    the reason. The tables not concerned read back their transcription."""
    text = (MARKDOWN / name).read_text(encoding="utf-8")
    edited = edit(text)
    assert edited != text
    path = tmp_path / name
    path.write_text(edited, encoding="utf-8")
    doc = json.loads((TRANSCRIBED / f"{name[:3]}.json").read_text(encoding="utf-8"))
    report = parse_file(path)
    assert (report.status, report.reason.split(":")[0], report.format_version) == (status, code, version), report.reason
    for table in ("active", "applications", "review_litigation"):
        expected = None if table in unread else doc["tables"][table]
        assert as_json(report.tables[table]) == expected, table
    if version == S.FORMAT_2019:
        assert report.active_2019 == {k: v for k, v in doc["active_2019_format"].items() if k != "_columns"}
    assert [m for m in report.missing if "." not in m] == unread + (
        ["applications", "review_litigation"] if name.startswith("027") else []
    )
