"""HTML input: the real pages' grids, encodings, images where tables belong, and golden outcomes end to end."""

from __future__ import annotations

import json
import os
import re
import tracemalloc
from pathlib import Path

import pytest

from nianbao.parse import html
from nianbao.parse.encoding import InputError
from nianbao.paths import ROOT

CORPUS = Path(os.environ.get("NIANBAO_CORPUS", ROOT.parent / "shared" / "corpus"))
HTML_DIR = CORPUS / "html"
GOLDEN = Path(__file__).parent / "golden" / "html"

# One case per corpus page: (file, expected JSON, status, reason). The pingtan-2024 page is the
# source of 030.json (whose .tables.txt lost the cell boundaries); shuyang is the source of 021.json.
GOLDEN_CASES = [
    ("pingtan-2021.html", GOLDEN / "pingtan-2021.json", "parsed", ""),
    ("pingtan-2022.html", GOLDEN / "pingtan-2022.json", "parsed", ""),
    ("pingtan-2023.html", GOLDEN / "pingtan-2023.json", "parsed", ""),
    ("pingtan-2024.html", CORPUS / "real" / "030.json", "parsed", ""),
    ("pingtan-2025.html", GOLDEN / "pingtan-2025.json", "parsed", ""),
    ("shuyang-fgj-2023.html", CORPUS / "real" / "021.json", "parsed", ""),
]


def _page(name: str) -> html.Page:
    """Read one corpus page."""
    return html.read_page((HTML_DIR / name).read_bytes(), name)


def _row(page: html.Page, source_prefix: str) -> list[tuple[str, str]]:
    """(text, source) of the table row whose first cell's source starts with `source_prefix`."""
    for line in page.lines:
        if line[0].source.startswith(source_prefix + " col"):
            return [(c.text, c.source.rsplit(" ", 1)[-1]) for c in line]
    raise AssertionError(f"no row {source_prefix}")


def _rendered(lines) -> list[str]:
    """Lines rendered like corpus/real/021.tables.txt: cells joined by ' | '."""
    return [" | ".join(c.text for c in line) for line in lines]


def test_every_corpus_page_has_a_case():
    """The table of golden cases covers exactly the pages in corpus/html."""
    assert sorted(p.name for p in HTML_DIR.glob("*.htm*")) == sorted(c[0] for c in GOLDEN_CASES)


def test_shuyang_renders_as_the_transcribed_tables_txt():
    """From heading 二 to the last row of table 四 the lines equal 021.tables.txt, transcribed independently."""
    expected = (CORPUS / "real" / "021.tables.txt").read_text(encoding="utf-8").splitlines()
    rendered = _rendered(html.read_lines((HTML_DIR / "shuyang-fgj-2023.html").read_bytes(), "shuyang")[0])
    start = rendered.index("二、主动公开政府信息情况")
    assert rendered[start : start + len(expected)] == expected


def test_pingtan_2024_loses_and_repeats_no_text():
    """The cells between headings 二 and 五, concatenated, are exactly the flattened page text of 030."""
    lines, _ = html.read_lines((HTML_DIR / "pingtan-2024.html").read_bytes(), "pingtan-2024")
    rendered = ["".join(c.text for c in line) for line in lines]
    start, end = rendered.index("二、主动公开政府信息情况"), rendered.index("五、存在的主要问题及改进情况")
    flattened = re.sub(r"\s", "", (CORPUS / "real" / "030.tables.txt").read_text(encoding="utf-8"))
    assert "".join(rendered[start:end]) == flattened


def test_spanned_cells_appear_once_blank_cells_stay():
    """Rowspan labels only on the group's first row; blank cells are '' at their own grid column."""
    page = _page("shuyang-fgj-2023.html")
    assert _row(page, "table 3 row 4") == [("一、本年新收政府信息公开申请数量", "1"), ("26", "4")] + [
        ("", str(c)) for c in range(5, 10)
    ] + [("26", "10")]
    assert _row(page, "table 3 row 6")[:3] == [("三、本年度办理结果", "1"), ("（一）予以公开", "2"), ("26", "4")]
    assert _row(page, "table 3 row 8")[:2] == [("（三）不予公开", "2"), ("1.属于国家秘密", "3")]
    assert _row(page, "table 3 row 9")[:2] == [("2.其他法律行政法规禁止公开", "3"), ("0", "4")]
    # Two <p> in one header cell ("商业" / "企业") are one label.
    assert _row(page, "table 3 row 3")[0] == ("商业企业", "5")


def test_irregular_word_grid_keeps_real_columns():
    """pingtan-2021 (Word export): 自然人 spans 2 columns and row 3 has a blank cell under it."""
    page = _page("pingtan-2021.html")
    assert _row(page, "table 2 row 2") == [("自然人", "4"), ("法人或其他组织", "6"), ("总计", "11")]
    assert _row(page, "table 2 row 3")[:2] == [("", "4"), ("商业企业", "5")]
    assert [t for t, _ in _row(page, "table 2 row 4")] == [
        "一、本年新收政府信息公开申请数量",
        "64",
        "0",
        "0",
        "2",
        "0",
        "4",
        "70",
    ]
    assert [c for _, c in _row(page, "table 2 row 4")] == ["1", "4", "5", "7", "8", "9", "10", "11"]


def test_headings_sit_between_tables_and_chrome_is_not_a_table():
    """Each statutory table follows its heading paragraph; the page has no table images."""
    page = _page("pingtan-2023.html")
    firsts = [line[0] for line in page.lines]
    for heading, table in (
        ("二、主动公开政府信息情况", 1),
        ("三、收到和处理政府信息公开申请情况", 2),
        ("四、政府信息公开行政复议、行政诉讼情况", 3),
    ):
        i = next(i for i, c in enumerate(firsts) if c.text == heading)
        assert firsts[i].source.startswith("paragraph ")
        assert firsts[i + 1].source == f"table {table} row 1 col 1"
    assert page.tables == 3
    assert not page.has_table_images()
    assert "平潭综合实验区2023年度政府信息公开工作年度报告" in page.text().splitlines()[0]


PAGE = """<html><head><meta charset="{charset}"><title>某县人民政府2023年政府信息公开工作年度报告</title>
<style>p {{ color: red }}</style><script>var x = "二、主动公开政府信息情况";</script></head><body>
<img src="logo.png" width="200" height="60">
<p>一、总体情况</p><p>本年度&nbsp;共收到申请　12件。<br>第二行</p>
<p style="display:none">隐藏的文字</p>
<p>二、主动公开政府信息情况</p>{table2}
<p>三、收到和处理政府信息公开申请情况</p>{table3}
<p>四、政府信息公开行政复议、行政诉讼情况</p>{table4}
<p>五、存在的主要问题及改进情况</p><p>无。</p><img src="qrcode.png"></body></html>"""
TABLE = (
    '<table border="1"><tr><td rowspan="2">信息内容</td><td colspan="2">本年制发件数</td></tr>'
    "<tr><td>1</td><td>&nbsp;</td></tr><tr><td>规章</td><td>3<br>4</td><td> 5 </td></tr></table>"
)
IMAGE = '<p><img src="table{n}.png" width="600" height="400"></p>'


def _synthetic(charset: str = "utf-8", tables: tuple[str, str, str] = (TABLE, TABLE, TABLE)) -> str:
    """A small report page with the given tables in sections 二, 三, 四."""
    return PAGE.format(charset=charset, table2=tables[0], table3=tables[1], table4=tables[2])


def test_paragraphs_spaces_scripts_and_hidden_text():
    """&nbsp;/U+3000 vanish between Chinese characters (Word pads labels with them), else are one space;
    <br> ends a line; script, style and hidden text are not read."""
    lines, text = html.read_lines(_synthetic().encode(), "synthetic.html")
    texts = _rendered(lines)
    assert texts[:3] == ["一、总体情况", "本年度共收到申请 12件。", "第二行"]
    assert not any("隐藏" in t or "color" in t or "var x" in t for t in texts)
    assert text.splitlines()[0] == "某县人民政府2023年政府信息公开工作年度报告"
    assert "本年度共收到申请 12件。" in text.splitlines()


def test_cell_text_never_joins_numbers():
    """Two numbers on two lines of one cell stay apart ('3 4'), so nobody reads 34; &nbsp; alone is blank."""
    lines, _ = html.read_lines(_synthetic().encode(), "synthetic.html")
    table = [[(c.text, c.source) for c in line] for line in lines if line[0].source.startswith("table 1 ")]
    assert table == [
        [("信息内容", "table 1 row 1 col 1"), ("本年制发件数", "table 1 row 1 col 2")],
        [("1", "table 1 row 2 col 2"), ("", "table 1 row 2 col 3")],
        [("规章", "table 1 row 3 col 1"), ("3 4", "table 1 row 3 col 2"), ("5", "table 1 row 3 col 3")],
    ]


@pytest.mark.parametrize(
    "cell, text",
    [
        ("<td><p><span>1</span><span>2</span></p></td>", "12"),  # Word: one block, its boundaries the cell's edges
        ("<td>\n <p>3</p>\u3000</td>", "3"),
        ("<td><p>1</p><p>2</p></td>", "1 2"),
        ("<td>1<p>2</p></td>", "1 2"),
        ("<td><p>1</p>2</td>", "1 2"),
        ("<td><p>1<br>2</p></td>", "1 2"),
        ("<td><div><p>1</p>2</div></td>", "1 2"),
        ("<td>\u200b<p>1</p></td>", "1"),
    ],
)
def test_block_boundaries_inside_a_cell(cell, text):
    """A cell's blocks and line breaks separate its text; a lone block adds nothing around it."""
    page = f"<html><body><table><tr><td>规章</td>{cell}</tr></table></body></html>"
    lines, _ = html.read_lines(page.encode(), "cell.html")
    assert [(c.text, c.source) for c in lines[0]] == [("规章", "table 1 row 1 col 1"), (text, "table 1 row 1 col 2")]


@pytest.mark.parametrize(
    "markup",
    [
        "<td><div>1<td>2</td></div></td>",  # lxml keeps the <td> inside the <div>
        "<td><p><font>1<tr><td>2</td></tr></font></p></td>",  # and a <tr> inside a <font>
    ],
)
def test_cells_inside_cells_never_join_numbers(markup):
    """Broken markup that leaves a cell inside another cell: the outer cell reads '1 2', never 12."""
    page = f"<html><body><table><tr><td>规章</td>{markup}</tr><tr><td>a</td><td>b</td></tr></table></body></html>"
    lines, _ = html.read_lines(page.encode(), "nested.html")
    outer = lines[0][1]
    assert (outer.text, outer.source) == ("1 2", "table 1 row 1 col 2")


def test_control_characters_are_read_as_spaces():
    """Word's vertical tab (a manual line break), other control characters and U+FFFE/U+FFFF in text, printed
    or as character references, which lxml refuses to write back into a tree: the page still reads, each one a
    space, so two numbers stay apart."""
    page = (
        "<html><body><p>一、总体情况\x0b本年度\x01</p><table><tr><td>规章</td><td>3\x0b4</td>"
        "<td>5\x0c</td></tr></table><p>完\x00\uffff</p></body></html>"
    )
    by_reference = (
        "<html><body><p>一、总体情况&#11;本年度&#x1;</p><table><tr><td>规章</td><td>3&#x0B;4</td>"
        "<td>5&#12;</td></tr></table><p>完&#xFFFE;</p></body></html>"
    )
    for data in (
        page.encode(),
        page.encode("gb18030").replace(b"<html>", b"<html><meta charset=gbk>"),
        by_reference.encode(),
    ):
        lines, text = html.read_lines(data, "control.html")
        assert [[(c.text, c.source) for c in line] for line in lines] == [
            [("一、总体情况本年度", "paragraph 1")],
            [("规章", "table 1 row 1 col 1"), ("3 4", "table 1 row 1 col 2"), ("5", "table 1 row 1 col 3")],
            [("完", "paragraph 2")],
        ]
        assert text == "一、总体情况本年度\n完"


def test_irregular_table_markup():
    """Row groups keep document order; upper-case tags, rowspan="0" and malformed spans are handled."""
    page = (
        "<html><body><TABLE><CAPTION>表二</CAPTION><THEAD><TR><TH>a</TH><TH>b</TH></TR></THEAD>"
        "<TR><TD ROWSPAN=0>c</TD><TD COLSPAN='x'>d</TD></TR><TBODY><TR><TD>e</TD></TR>"
        "<TR><TD colspan='2px'>f</TD><td>g</td></TR></TBODY></TABLE></body></html>"
    )
    lines, _ = html.read_lines(page.encode(), "irregular.html")
    assert [[(c.text, c.source) for c in line] for line in lines] == [
        [("表二", "paragraph 1")],
        [("a", "table 1 row 1 col 1"), ("b", "table 1 row 1 col 2")],
        [("c", "table 1 row 2 col 1"), ("d", "table 1 row 2 col 2")],
        [("e", "table 1 row 3 col 2")],
        [("f", "table 1 row 4 col 2"), ("g", "table 1 row 4 col 4")],
    ]


def test_the_largest_spans_cost_no_more_than_the_table():
    """rowspan 65534 x colspan 1000 (the HTML maxima) in a three-row table: the grid positions are those
    of the rows the table has (the span once took 65 million positions: gigabytes, then a MemoryError)."""
    page = (
        b"<html><body><table><tr><td rowspan=65534 colspan=1000>x</td><td>1</td></tr>"
        b"<tr><td>2</td><td rowspan=0>3</td></tr><tr><td>4</td><td>5</td></tr></table></body></html>"
    )
    tracemalloc.start()
    try:
        lines, _ = html.read_lines(page, "spans.html")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [[(c.text, c.source) for c in line] for line in lines] == [
        [("x", "table 1 row 1 col 1"), ("1", "table 1 row 1 col 1001")],
        [("2", "table 1 row 2 col 1001"), ("3", "table 1 row 2 col 1002")],
        [("4", "table 1 row 3 col 1001"), ("5", "table 1 row 3 col 1003")],
    ]
    assert peak < 10 * 2**20


def test_spans_no_report_table_needs_reject_the_page(tmp_path):
    """Spans covering more grid positions than html.MAX_SPANNED: rejected as table-too-large, naming the
    table, before they take the memory (a 1 MB page of such spans once took 12 GB within 30 s)."""
    from nianbao.parse import parse_file

    rows = "<tr><td rowspan=0 colspan=1000>1</td><td>2</td></tr>" + "<tr><td>3</td><td>4</td></tr>" * 1999
    path = tmp_path / "spans.html"
    path.write_text(f"<html><body><p>三、收到和处理政府信息公开申请情况</p><table>{rows}</table></body></html>")
    tracemalloc.start()
    try:
        report = parse_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.status == "rejected" and report.reason.startswith("table-too-large: 表格 1 ")
    assert report.cells == [] and peak < 100 * 2**20


def test_table_images_are_detected_where_tables_belong():
    """Images in sections 二–四 (or inside a table cell) flag the page; logos and QR codes elsewhere do not."""
    with_tables = _synthetic().encode()
    images = _synthetic(tables=(IMAGE.format(n=2), IMAGE.format(n=3), IMAGE.format(n=4))).encode()
    image_in_cell = _synthetic(tables=(TABLE, TABLE, TABLE.replace("规章", '<img src="x.png">'))).encode()
    assert not html.has_table_images(with_tables)
    assert html.has_table_images(images)
    assert html.has_table_images(image_in_cell)
    lines, _ = html.read_lines(images, "images.html")
    assert not any(c.source.startswith("table") for line in lines for c in line)


def test_layout_tables_are_read_as_paragraphs():
    """A page wrapped in a layout table: its paragraphs are lines and the nested table is table 1."""
    page = f"<html><body><table><tr><td><p>二、主动公开政府信息情况</p>{TABLE}</td></tr></table></body></html>"
    lines, _ = html.read_lines(page.encode(), "layout.html")
    assert lines[0][0].text == "二、主动公开政府信息情况" and lines[0][0].source == "paragraph 1"
    assert lines[1][0].source == "table 1 row 1 col 1"
    assert len(lines) == 4


def test_page_without_tables_gives_its_text_lines():
    """A report printed as text (<pre>, or <br> lines) yields one line per printed line."""
    page = (
        "<html><body><pre>二、主动公开政府信息情况\n规章 | 0 | 0 | 0\n\n行政规范性文件 | 1 | 0 | 3</pre></body></html>"
    )
    lines, _ = html.read_lines(page.encode("utf-8"), "pre.html")
    assert _rendered(lines) == ["二、主动公开政府信息情况", "规章 | 0 | 0 | 0", "行政规范性文件 | 1 | 0 | 3"]


@pytest.mark.parametrize(
    "charset,encoding,prefix",
    [
        ("gb2312", "gbk", b""),  # GBK bytes declared as gb2312 (GB18030 decodes both)
        ("gbk", "gb18030", b""),
        ("utf-8", "utf-8", b"\xef\xbb\xbf"),  # UTF-8 with BOM
        ("gb2312", "utf-8", b""),  # re-saved as UTF-8, stale declaration
    ],
)
def test_encodings_are_detected(charset, encoding, prefix):
    """Every encoding reads to the same lines as the UTF-8 page."""
    expected = html.read_lines(_synthetic().encode("utf-8"), "utf8.html")
    data = prefix + _synthetic(charset).encode(encoding)
    assert html.read_lines(data, "encoded.html") == expected


def test_undeclared_gbk_is_detected():
    """A GBK page with no charset declaration at all (charset-normalizer's guess) still reads right."""
    page = (HTML_DIR / "shuyang-fgj-2023.html").read_bytes().decode("utf-8")
    page = re.sub(r"<meta charset=\"utf-8\" */?>", "", page)
    assert "charset" not in page.lower().split("</head>")[0]
    expected = html.read_lines(page.encode("utf-8"), "s.html")
    assert html.read_lines(page.encode("gb18030"), "s.html") == expected


def test_bad_input_names_the_file():
    """Empty and undecodable files raise InputError with a code and the path."""
    with pytest.raises(InputError, match=r"^empty-file: /x/empty\.html: "):
        html.read_lines(b"  \n", "/x/empty.html")
    with pytest.raises(InputError) as err:
        html.read_lines(b'<meta charset="utf-8">' + bytes(range(0x80, 0x100)) * 3, "/x/bin.html")
    assert err.value.code == "undecodable-text" and "/x/bin.html" in str(err.value)


# --- End to end through the core (nianbao.parse.parse_file).


def _json_tables(tables: dict) -> dict:
    """Tables compared as JSON values (fees as printed numbers, whatever numeric type the core uses)."""
    return json.loads(json.dumps(tables, default=float))


@pytest.mark.parametrize("name,expected_file,status,reason", GOLDEN_CASES, ids=[c[0] for c in GOLDEN_CASES])
def test_golden(name, expected_file, status, reason):
    """Outcome, reason and every cell of the three tables equal the transcription."""
    from nianbao.parse import parse_file

    report = parse_file(str(HTML_DIR / name))
    assert (report.status, report.reason) == (status, reason)
    expected = json.loads(expected_file.read_text(encoding="utf-8"))["tables"]
    got = _json_tables(report.tables)
    for table in ("active", "applications", "review_litigation"):
        assert got[table] == expected[table], table


def test_gbk_page_end_to_end(tmp_path):
    """The shuyang page saved as GBK with a gb2312 declaration parses to the same report as the original."""
    from nianbao.parse import parse_file

    page = (HTML_DIR / "shuyang-fgj-2023.html").read_bytes().decode("utf-8")
    gbk = tmp_path / "shuyang-gbk.html"
    gbk.write_bytes(page.replace('charset="utf-8"', 'charset="gb2312"').encode("gb18030"))
    original, converted = parse_file(str(HTML_DIR / "shuyang-fgj-2023.html")), parse_file(str(gbk))
    assert converted.status == original.status == "parsed"
    assert _json_tables(converted.tables) == _json_tables(original.tables)


def test_tables_as_images_are_rejected(tmp_path):
    """A page whose three tables are <img> is rejected with reason 'tables-are-images', no numbers guessed."""
    from nianbao.parse import parse_file

    path = tmp_path / "images.html"
    path.write_text(_synthetic(tables=(IMAGE.format(n=2), IMAGE.format(n=3), IMAGE.format(n=4))), encoding="utf-8")
    report = parse_file(str(path))
    assert report.status == "rejected"
    assert report.reason.startswith("tables-are-images")
    assert report.tables == {"active": None, "applications": None, "review_litigation": None}
