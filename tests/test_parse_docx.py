"""Word input: real .docx files built with python-docx (merged cells, auto-numbering, images), read back."""

from __future__ import annotations

import functools
import io
import json
import os
import struct
import zipfile
import zlib
from pathlib import Path
from xml.sax.saxutils import escape

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from nianbao import schema as S
from nianbao.parse import docx as wordx
from nianbao.parse.encoding import InputError
from nianbao.paths import ROOT

CORPUS = Path(os.environ.get("NIANBAO_CORPUS", ROOT.parent / "shared" / "corpus"))
REPORT = json.loads((CORPUS / "real" / "000.json").read_text(encoding="utf-8"))  # a complete 2021 report
PROSE = [
    line
    for line in (CORPUS / "real" / "000.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and "|" not in line
]
HEADINGS = {
    "二": "二、主动公开政府信息情况",
    "三": "三、收到和处理政府信息公开申请情况",
    "四": "四、政府信息公开行政复议、行政诉讼情况",
}
FULLWIDTH = str.maketrans("(),:", "（），：")

Cell = tuple[str, int, int]  # text ('\n' = new paragraph in the cell), colspan, rowspan


def _v(value) -> str:
    """A value as the report prints it ('' for blank)."""
    return "" if value is None else str(value)


def _active_grid(a: dict) -> list[list[Cell]]:
    """Table 二 as the national format lays it out: 4 columns, block titles across the table."""

    def block(title, header, rows):
        return [[(title, 4, 1)], [("信息内容", 1, 1), *header]] + [[(label, 1, 1), *vals] for label, vals in rows]

    wide = lambda x: [(_v(x), 3, 1)]
    return (
        block(
            "第二十条第（一）项",
            [("本年制发件数", 1, 1), ("本年废止件数", 1, 1), ("现行有效件数", 1, 1)],
            [
                ("规章", [(_v(x), 1, 1) for x in a["rules"]]),
                ("行政规范性文件", [(_v(x), 1, 1) for x in a["normative_docs"]]),
            ],
        )
        + block("第二十条第（五）项", [("本年处理决定数量", 3, 1)], [("行政许可", wide(a["licensing"]))])
        + block(
            "第二十条第（六）项",
            [("本年处理决定数量", 3, 1)],
            [("行政处罚", wide(a["punishment"])), ("行政强制", wide(a["enforcement"]))],
        )
        + block(
            "第二十条第（八）项", [("本年收费金额（单位：万元）", 3, 1)], [("行政事业性收费", wide(a["fees_10k_yuan"]))]
        )
    )


def _applications_grid(apps: dict) -> list[list[Cell]]:
    """Table 三: 10 grid columns, the result groups merged down their sub-rows."""
    grid = [
        [("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", 3, 3), ("申请人情况", 7, 1)],
        [("自然人", 1, 2), ("法人或其他组织", 5, 1), ("总计", 1, 2)],
        [("商业\n企业", 1, 1), ("科研\n机构", 1, 1), ("社会公益组织", 1, 1), ("法律服务机构", 1, 1), ("其他", 1, 1)],
    ]
    values = {k: [(_v(x), 1, 1) for x in v] for k, v in apps.items()}
    labels = {r.key: r.label.translate(FULLWIDTH).split("·") for r in S.APPLICATION_ROWS}
    seen = set()
    for r in S.APPLICATION_ROWS:
        label = labels[r.key]
        if len(label) == 1:  # 一、二、(七)总计、四、
            grid.append([(label[0], 3 if r.key != "total" else 2, 1), *values[r.key]])
            continue
        group, sub = label
        row = []
        if r.key == "granted":
            row.append(("三、本年度办理结果", 1, 22))
        if group.startswith("三、"):
            row.append((sub, 2, 1))
        else:
            if group not in seen:
                row.append((group, 1, sum(1 for x in labels.values() if x[0] == group)))
                seen.add(group)
            row.append((sub, 1, 1))
        grid.append(row + values[r.key])
    return grid


def _review_grid(review: dict) -> list[list[Cell]]:
    """Table 四: 15 grid columns, 行政复议's outcomes merged over two header rows."""
    outcomes = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
    return [
        [("行政复议", 5, 1), ("行政诉讼", 10, 1)],
        [*[(o, 1, 2) for o in outcomes], ("未经复议直接起诉", 5, 1), ("复议后起诉", 5, 1)],
        [(o, 1, 1) for o in outcomes * 2],
        [(_v(x), 1, 1) for g, _ in S.REVIEW_GROUPS for x in review[g]],
    ]


def _add_table(document, grid: list[list[Cell]], width: int):
    """A Word table with merged cells written as Word writes them: w:gridSpan, w:vMerge restart/continue.

    (python-docx's cell.merge() gives the same XML but is quadratic in the table size.)
    """
    table = document.add_table(rows=0, cols=width)
    table.style = "Table Grid"
    below: dict[int, tuple[int, int]] = {}  # grid column -> (rows still merged below, colspan)
    for row in grid:
        cells, c, pending = [], 0, iter(row)
        while c < width:
            if c in below:
                left, span = below[c]
                cells.append(_tc("", span, "continue"))
                below[c] = (left - 1, span)
                if left == 1:
                    del below[c]
                c += span
                continue
            cell = next(pending, None)
            if cell is None:
                break
            text, span, rows = cell
            cells.append(_tc(text, span, "restart" if rows > 1 else None))
            if rows > 1:
                below[c] = (rows - 1, span)
            c += span
        table._tbl.append(parse_xml(f"<w:tr {nsdecls('w')}>{''.join(cells)}</w:tr>"))
    return table


def _tc(text: str, span: int, vmerge: str | None) -> str:
    """One w:tc; each line of `text` is a paragraph."""
    pr = (f'<w:gridSpan w:val="{span}"/>' if span > 1 else "") + (
        f'<w:vMerge w:val="{vmerge}"/>' if vmerge == "restart" else "<w:vMerge/>" if vmerge else ""
    )
    paragraphs = "".join(f"<w:p><w:r><w:t>{escape(line)}</w:t></w:r></w:p>" for line in text.split("\n"))
    return f"<w:tc><w:tcPr>{pr}</w:tcPr>{paragraphs}</w:tc>"


def _grids(report: dict) -> dict[str, tuple[list[list[Cell]], int]]:
    """Section number -> (grid, width) of the three statutory tables."""
    t = report["tables"]
    return {
        "二": (_active_grid(t["active"]), 4),
        "三": (_applications_grid(t["applications"]), 10),
        "四": (_review_grid(t["review_litigation"]), 15),
    }


def _numbering(document, num_id: int = 90) -> int:
    """Add a Chinese outline list ('一、' then '（一）') to the document; returns its numId."""
    numbering = document.part.numbering_part.element
    numbering.insert(
        0,
        parse_xml(
            f'<w:abstractNum {nsdecls("w")} w:abstractNumId="{num_id}">'
            '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="%1、"/></w:lvl>'
            '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/>'
            '<w:lvlText w:val="（%2）"/></w:lvl>'
            '<w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%3."/></w:lvl>'
            "</w:abstractNum>"
        ),
    )
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="{num_id}"><w:abstractNumId w:val="{num_id}"/></w:num>'))
    return num_id


def _number(paragraph, num_id: int, level: int) -> None:
    """Give a paragraph an automatic list number."""
    ppr = paragraph._p.get_or_add_pPr()
    ppr.append(parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>'))


def _png() -> bytes:
    """A valid 8x8 grey PNG (python-docx reads its header)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80" * 8 for _ in range(8))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@functools.cache
def build_000(*, numbered_headings: bool = False, images: bool = False) -> bytes:
    """000 as .docx, built once per variant."""
    return build_report(REPORT, numbered_headings=numbered_headings, images=images)


def build_report(report: dict, *, numbered_headings: bool = False, images: bool = False) -> bytes:
    """A full report as .docx: the prose of 000.txt, each statutory table after its heading."""
    document = docx.Document()
    num_id = _numbering(document) if numbered_headings else None
    grids = _grids(report)
    for text in PROSE:
        section = text[0] if text[:2] in {f"{n}、" for n in "一二三四五六"} else None
        if section and num_id:
            _number(document.add_paragraph(text[2:]), num_id, 0)
        else:
            document.add_paragraph(text)
        if section in grids and images:
            document.add_paragraph().add_run().add_picture(io.BytesIO(_png()))
        elif section in grids:
            _add_table(document, *grids[section])
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _rows(lines, table: int) -> list[list[tuple[str, str]]]:
    """(text, grid column) of every row of table `table`."""
    prefix = f"table {table} row "
    return [
        [(c.text, c.source.rsplit(" ", 1)[-1]) for c in line] for line in lines if line[0].source.startswith(prefix)
    ]


def test_merged_cells_appear_once_at_their_grid_column():
    """vMerge continuations and gridSpan columns are not repeated; blank cells are '' at their column."""
    lines, _text = wordx.read_lines(build_000(), "000.docx")
    three = _rows(lines, 2)
    assert three[0] == [
        ("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", "1"),
        ("申请人情况", "4"),
    ]
    assert three[1] == [("自然人", "4"), ("法人或其他组织", "5"), ("总计", "10")]
    assert three[2] == [
        ("商业企业", "5"),
        ("科研机构", "6"),
        ("社会公益组织", "7"),
        ("法律服务机构", "8"),
        ("其他", "9"),
    ]
    assert three[5][:3] == [("三、本年度办理结果", "1"), ("（一）予以公开", "2"), ("14", "4")]
    assert three[6][0] == ("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", "2")
    assert three[7][:2] == [("（三）不予公开", "2"), ("1.属于国家秘密", "3")]
    assert three[8][:2] == [("2.其他法律行政法规禁止公开", "3"), ("0", "4")]
    other_1 = three[3 + S.APPLICATION_ROW_KEYS_SUBROWS.index("other_1")]
    assert other_1[:2] == [
        ("（六）其他处理", "2"),
        ("1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", "3"),
    ]
    assert other_1[2:] == [("", str(c)) for c in range(4, 11)]
    assert len(three) == 28
    assert _rows(lines, 1)[13] == [("行政事业性收费", "1"), ("180.338174", "2")]
    assert _rows(lines, 3)[1][5:] == [("未经复议直接起诉", "6"), ("复议后起诉", "11")]
    assert [t for t, _ in _rows(lines, 3)[3]] == [
        "2",
        "0",
        "0",
        "0",
        "2",
        "1",
        "0",
        "0",
        "0",
        "1",
        "2",
        "0",
        "0",
        "0",
        "2",
    ]


def test_python_docx_merges_read_back():
    """Cells merged with python-docx's own cell.merge() (across, down, and both) appear once."""
    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "横向合并"
    table.cell(1, 0).merge(table.cell(2, 0)).text = "纵向合并"
    table.cell(1, 1).merge(table.cell(2, 2)).text = "7"
    table.cell(0, 2).text = "x"
    out = io.BytesIO()
    document.save(out)
    lines, _ = wordx.read_lines(out.getvalue(), "merge.docx")
    assert [[(c.text, c.source) for c in line] for line in lines] == [
        [("横向合并", "table 1 row 1 col 1"), ("x", "table 1 row 1 col 3")],
        [("纵向合并", "table 1 row 2 col 1"), ("7", "table 1 row 2 col 2")],
    ]


def test_paragraphs_keep_their_place_between_tables():
    """Headings and prose are one-cell 'paragraph N' lines in document order around the tables."""
    lines, text = wordx.read_lines(build_000(), "000.docx")
    firsts = [line[0] for line in lines]
    assert [c.text for c in firsts if c.source.startswith("paragraph")] == PROSE
    for section, table in (("二", 1), ("三", 2), ("四", 3)):
        i = next(i for i, c in enumerate(firsts) if c.text == HEADINGS[section])
        assert firsts[i + 1].source == f"table {table} row 1 col 1"
    assert text.splitlines() == PROSE


def test_automatic_numbering_is_rendered():
    """Auto-numbered headings read '一、…', '（一）…' (restarting under each heading), '1.…' in a table cell."""
    document = docx.Document()
    num_id = _numbering(document)
    for text, level in (
        ("总体情况", 0),
        ("主动公开方面", 1),
        ("依申请公开方面", 1),
        ("主动公开政府信息情况", 0),
        ("第一项", 1),
    ):
        _number(document.add_paragraph(text), num_id, level)
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "属于国家秘密"
    _number(table.cell(0, 0).paragraphs[0], num_id, 2)
    table.cell(0, 1).text = "0"
    out = io.BytesIO()
    document.save(out)
    lines, _ = wordx.read_lines(out.getvalue(), "numbered.docx")
    assert [[c.text for c in line] for line in lines] == [
        ["一、总体情况"],
        ["（一）主动公开方面"],
        ["（二）依申请公开方面"],
        ["二、主动公开政府信息情况"],
        ["（一）第一项"],
        ["1.属于国家秘密", "0"],
    ]


def test_grid_before_shifts_the_first_cell():
    """A row that starts after skipped grid columns (w:gridBefore) reports the real column."""
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    for c, text in enumerate(("a", "b", "c")):
        table.cell(0, c).text = text
    tr = table.rows[1]._tr
    tr.remove(tr.tc_lst[0])
    tr.insert(0, parse_xml(f'<w:trPr {nsdecls("w")}><w:gridBefore w:val="1"/></w:trPr>'))
    tr.tc_lst[0].append(parse_xml(f"<w:p {nsdecls('w')}><w:r><w:t>1</w:t></w:r></w:p>"))
    out = io.BytesIO()
    document.save(out)
    lines, _ = wordx.read_lines(out.getvalue(), "gb.docx")
    assert [[(c.text, c.source) for c in line] for line in lines][1] == [
        ("1", "table 1 row 2 col 2"),
        ("", "table 1 row 2 col 3"),
    ]


def test_layout_table_is_read_as_paragraphs():
    """A one-cell table holding prose and a nested data table: prose as paragraphs, the nested table as table 1."""
    document = docx.Document()
    outer = document.add_table(rows=1, cols=1).cell(0, 0)
    outer.text = "二、主动公开政府信息情况"
    inner = outer.add_table(rows=1, cols=2)
    inner.cell(0, 0).text, inner.cell(0, 1).text = "规章", "0"
    out = io.BytesIO()
    document.save(out)
    lines, _ = wordx.read_lines(out.getvalue(), "layout.docx")
    assert [[(c.text, c.source) for c in line] for line in lines if any(c.text for c in line)] == [
        [("二、主动公开政府信息情况", "paragraph 1")],
        [("规章", "table 1 row 1 col 1"), ("0", "table 1 row 1 col 2")],
    ]


def test_hidden_and_deleted_text_is_not_read():
    """Runs marked hidden (w:vanish) and tracked deletions are not part of the printed text."""
    document = docx.Document()
    p = document.add_paragraph("收到申请")
    hidden = p.add_run("999")
    hidden._r.get_or_add_rPr().append(parse_xml(f"<w:vanish {nsdecls('w')}/>"))
    p._p.append(parse_xml(f'<w:del {nsdecls("w")} w:id="1" w:author="x"><w:r><w:delText>88</w:delText></w:r></w:del>'))
    p._p.append(parse_xml(f'<w:ins {nsdecls("w")} w:id="2" w:author="x"><w:r><w:t>14件</w:t></w:r></w:ins>'))
    out = io.BytesIO()
    document.save(out)
    lines, _ = wordx.read_lines(out.getvalue(), "tracked.docx")
    assert [[c.text for c in line] for line in lines] == [["收到申请14件"]]


def test_table_images_are_detected():
    """Pictures in place of the three tables flag the document; the same report with tables does not."""
    assert wordx.has_table_images(build_000(images=True))
    assert not wordx.has_table_images(build_000())
    document = docx.Document()
    cells = document.add_table(rows=1, cols=2).rows[0].cells
    cells[0].text = "规章"
    cells[1].paragraphs[0].add_run().add_picture(io.BytesIO(_png()))
    out = io.BytesIO()
    document.save(out)
    assert wordx.has_table_images(out.getvalue())


def test_bad_files_are_named_errors(tmp_path):
    """Empty, old .doc (OLE), non-zip and zip-without-document inputs raise InputError naming the file."""
    no_document = io.BytesIO()
    with zipfile.ZipFile(no_document, "w") as zf:
        zf.writestr("hello.txt", "hi")
    for data, code in (
        (b"", "empty-file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504, "not-a-docx"),
        (b"PK not really", "not-a-docx"),
        (no_document.getvalue(), "not-a-docx"),
    ):
        with pytest.raises(InputError) as err:
            wordx.read_lines(data, "/in/report.docx")
        assert err.value.code == code and "/in/report.docx" in str(err.value)


# --- End to end through the core (nianbao.parse.parse_file).


@pytest.mark.parametrize("numbered", [False, True], ids=["typed-headings", "auto-numbered-headings"])
def test_full_report_round_trip(tmp_path, numbered):
    """A full 2021 report in Word parses back to 000.json's tables exactly, blanks included."""
    from nianbao.parse import parse_file

    path = tmp_path / "000.docx"
    path.write_bytes(build_000(numbered_headings=numbered))
    report = parse_file(str(path))
    assert (report.status, report.reason) == ("parsed", "")
    got = json.loads(json.dumps(report.tables, default=float))
    for table in ("active", "applications", "review_litigation"):
        assert got[table] == REPORT["tables"][table], table


def test_tables_as_images_are_rejected(tmp_path):
    """A Word report whose tables are pictures is rejected with reason 'tables-are-images'."""
    from nianbao.parse import parse_file

    path = tmp_path / "images.docx"
    path.write_bytes(build_000(images=True))
    report = parse_file(str(path))
    assert report.status == "rejected" and report.reason.startswith("tables-are-images")
    assert report.tables == {"active": None, "applications": None, "review_litigation": None}


# --- Word documents another writer made: LibreOffice saved the reports' Word-styled HTML pages as .docx
# (tests/fixtures/wordprocessor/make.py), with its own table XML (w:tblGrid, w:vMerge, cell widths).

WORD_PROCESSOR = Path(__file__).parent / "fixtures" / "wordprocessor"


@pytest.mark.parametrize("path", sorted(WORD_PROCESSOR.glob("*.docx")), ids=lambda p: p.stem)
def test_a_libreoffice_docx_parses_back_exactly(path):
    """Each .docx parses to the report it holds, both formats, blanks and (六) as one row included."""
    from test_roundtrip import assert_same

    from nianbao.parse import parse_file

    report = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    parsed = parse_file(path)
    assert_same(parsed, report)
    assert (parsed.format_version, parsed.agency) == (report["format_version"], report["agency"])
