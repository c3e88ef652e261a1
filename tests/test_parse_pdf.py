"""PDF round trips: random reports rendered as Word-styled HTML pages and printed to PDF by a real browser
(headless chromium's Page.printToPDF, the way a page is saved as PDF) parse back exactly.

The corpus has three PDFs from one producer; these come from another, on other paper, with other fonts,
and their tables break across pages: rows cut in two by a page break, tables going on from the last page
without a top rule, title digits in a Latin font on the Chinese title's baseline. A print without table
rules is read from text lines, where blank cells cannot be seen: it may come out partial, never with a
number in the wrong cell.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from browser_support import NO_CHROMIUM, Browser
from test_roundtrip import assert_same

from nianbao import schema as S
from nianbao.parse import parse_file
from nianbao.parse import render as R
from nianbao.parse.pdf import CUT_OFF, _cell_text, _cut_cells, _end_cut_row, _Grid, _join, _rest_of_row, _Row, read_pdf


def needs_browser(test):
    """A test that drives Debian's chromium (skipped where it is not installed)."""
    return pytest.mark.browser(NO_CHROMIUM(test))


A4 = {"paperWidth": 8.27, "paperHeight": 11.69}
NO_RULES = "table, td { border: none !important; }"
# (id, seed, format version, Page.printToPDF options, extra CSS)
PRINTS = [
    ("letter", 1, S.FORMAT_2021, {}, ""),
    ("a4-2019", 2, S.FORMAT_2019, {**A4, "marginTop": 1, "marginBottom": 1}, ""),
    ("a4-landscape", 3, S.FORMAT_2021, {**A4, "landscape": True}, ""),
    ("large-type", 4, S.FORMAT_2021, A4, "body { font-size: 20px; } h1 { font-size: 36px; }"),
    ("large-type-2019", 5, S.FORMAT_2019, A4, "body { font-size: 22px; } td { padding: 6px; }"),
    ("serif-single-row", 6, S.FORMAT_2021, {}, "body { font-family: serif; font-size: 18px; }"),
]
AGENCIES = ("深州市人民政府办公室", "淮安市洪泽区财政局", "平潭综合实验区管理委员会", "沭阳县发展和改革局")


def modest(report: dict) -> dict:
    """Counts as agencies print them (below 100,000): twelve-digit numbers squeeze a portrait page's label
    column to a character a line, which no report prints."""
    for container, key in R.cell_slots(report):
        value = container[key]
        if isinstance(value, int) and abs(value) >= 100_000:
            container[key] = value % 100_000
        elif isinstance(value, float) and abs(value) >= 100_000:
            container[key] = round(value % 100_000, 2)
    return report


def random_print_report(name: str, seed: int, version: str) -> dict:
    """One random report with modest counts, the agency and year a seed picks."""
    rng = random.Random(seed)
    return modest(
        R.random_report(
            rng,
            version,
            agency=AGENCIES[seed % len(AGENCIES)],
            year=2020 if version == S.FORMAT_2019 else 2021 + seed % 5,
            other_single_row=name.endswith("single-row"),
        )
    )


def print_report(browser: Browser, folder: Path, name: str, report: dict, options: dict, css: str) -> Path:
    """`report` rendered as a Word-styled page with extra `css` and printed to folder/name.pdf."""
    page = folder / f"{name}.html"
    page.write_text(R.render_html(report).replace("</head>", f"<style>{css}</style>\n</head>"), encoding="utf-8")
    pdf = folder / f"{name}.pdf"
    pdf.write_bytes(browser.print_pdf(page.as_uri(), **options))
    return pdf


def printed(browser: Browser, folder: Path, name: str, seed: int, version: str, options: dict, css: str):
    """(report, parsed) for one random report printed to PDF."""
    report = random_print_report(name, seed, version)
    return report, parse_file(print_report(browser, folder, name, report, options, css))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("profile"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def prints(browser, tmp_path_factory):
    folder = tmp_path_factory.mktemp("prints")
    return {name: printed(browser, folder, name, *case) for name, *case in PRINTS}


@needs_browser
@pytest.mark.parametrize("name", [p[0] for p in PRINTS])
def test_a_browser_printed_pdf_parses_back_exactly(prints, name):
    """Every table, the format version, every non-numeric print, and the title's agency and year."""
    report, parsed = prints[name]
    assert_same(parsed, report)
    assert (parsed.agency, parsed.year) == (report["agency"], report["year"])


@needs_browser
def test_every_value_of_a_ruled_print_is_read_from_its_grid(prints):
    """Tables go on across pages without a top rule: their cells are still grid cells, not text lines
    (where blank cells would be lost)."""
    sources = [c.source for _, parsed in prints.values() for c in parsed.cells]
    assert sources and all(re.fullmatch(r"page \d+ table \d+ row \d+ col \d+", s) for s in sources)


@needs_browser
def test_rows_cut_by_a_page_break_are_joined(browser, tmp_path):
    """Long labels in a narrow column make tall rows, and the browser breaks such a row across two pages.
    The same report is printed with six top margins, so that the breaks fall in different rows: the rest
    of a cut row on the next page is joined to its first part, and every print parses back exactly."""
    css = "td:first-child { width: 4em; } body { font-size: 18px; }"
    joined = []
    for margin in (0.2, 0.3, 0.5, 0.7, 0.9, 1.1):
        report, parsed = printed(
            browser, tmp_path, f"margin{margin}", 5, S.FORMAT_2021, {**A4, "marginTop": margin}, css
        )
        assert_same(parsed, report)
        lines = read_pdf((tmp_path / f"margin{margin}.pdf").read_bytes(), "margin.pdf").lines
        joined += [
            row
            for row in lines
            if len({c.source.split(" table ")[0] for c in row}) > 1 or any(" + page " in c.source for c in row)
        ]
    assert joined, "no print broke a row across pages"


NOTO_CJK = ("Noto Sans CJK SC", "Noto Serif CJK SC")
KANGXI_RADICALS = re.compile("[\u2f00-\u2fdf]")


def _font_installed(family: str) -> bool:
    """Whether fontconfig knows `family` (Debian's fonts-noto-cjk; scripts/test.sh installs it)."""
    fc_list = shutil.which("fc-list")
    return (
        bool(fc_list)
        and family in subprocess.run([fc_list, ":", "family"], capture_output=True, text=True, check=False).stdout
    )


def _text_layer(path: Path) -> tuple[str, set[str]]:
    """The raw text of a PDF's characters as pdfplumber reads them (nothing unified) and their fonts."""
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        chars = [c for page in pdf.pages for c in page.chars]
    return "".join(c["text"] for c in chars), {c["fontname"].split("+")[-1] for c in chars}


@needs_browser
@pytest.mark.parametrize("family", NOTO_CJK)
def test_a_print_set_in_noto_cjk_holds_kangxi_radicals_and_parses_back_exactly(browser, tmp_path, family):
    """Noto CJK's ToUnicode maps the glyphs of 无, 行, 人, 一 ... to Kangxi radicals (U+2F00-U+2FDF), and
    Chromium's print puts those in the text layer ('⽆' where 无 is printed): the print holds them, and
    parses back exactly, a printed 无 as '无' and every label matched."""
    if not _font_installed(family):
        pytest.skip(f"{family} not installed (Debian's fonts-noto-cjk; scripts/test.sh installs it)")
    report = random_print_report("noto", 21, S.FORMAT_2021)
    for container, key in R.cell_slots(report)[::9]:  # 无 in some cells of every table
        container[key] = "无"
    css = f'* {{ font-family: "{family}" !important; }}'
    pdf = print_report(browser, tmp_path, "noto", report, A4, css)
    text, fonts = _text_layer(pdf)
    # the page is set in the family asked for ('NotoSansCJKsc-Bold'), not in a fallback
    assert fonts and all(f.lower().startswith(family.replace(" ", "").lower()) for f in fonts), fonts
    radicals = KANGXI_RADICALS.findall(text)
    assert len(radicals) > 0 and "⽆" in radicals
    parsed = parse_file(pdf)
    assert_same(parsed, report)
    assert (parsed.agency, parsed.year) == (report["agency"], report["year"])
    assert not any(KANGXI_RADICALS.search(c.text) for c in parsed.cells)


def _cells(report_tables: dict, active_2019: dict | None) -> dict[tuple[str, str, int], object]:
    """{(table, row, index): value} of every cell, table 二 of either format under 'active'."""
    tables = {**report_tables, "active": active_2019 or report_tables["active"]}
    return {
        (table, row, i): v
        for table, rows in tables.items()
        for row, values in (rows or {}).items()
        for i, v in enumerate(values if isinstance(values, list) else [values])
    }


def unread_rows_never_wrong(parsed, report: dict) -> set[str]:
    """Assert that every number `parsed` emits is the one in that cell of `report`; return the rows
    ('table.row') it did not read back, each of which a partial report must list as missing."""
    want = _cells(report["tables"], report.get("active_2019_format"))
    got = _cells(parsed.tables, parsed.active_2019)
    assert {k: v for k, v in got.items() if v is not None and want.get(k, "<absent>") != v} == {}
    unread = {f"{table}.{row}" for (table, row, i), v in want.items() if got.get((table, row, i), "-") != v}
    assert parsed.status == "rejected" or all(
        r in parsed.missing or r.split(".")[0] in parsed.missing for r in unread
    ), (sorted(unread), parsed.missing)
    return unread


@needs_browser
@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_a_print_without_table_rules_is_partial_never_wrong(browser, tmp_path, seed):
    """Without rules the tables are text lines and their blank cells are gone: every number emitted is the
    one printed in that cell, and every row not read back is listed as missing."""
    version = S.FORMAT_2019 if seed % 2 else S.FORMAT_2021
    report, parsed = printed(browser, tmp_path, f"norules{seed}", seed, version, A4, NO_RULES)
    assert parsed.status in ("parsed", "partial")
    unread = unread_rows_never_wrong(parsed, report)
    assert (parsed.status == "parsed") == (not unread)


# --- Joining a row cut by a page break, on grids as pdfplumber returns them (a word processor may print
# the values on either part; the browser above prints them on the first).


def grid(*rows: list, spans=(0, 100, 200, 300)) -> _Grid:
    """A grid of one page whose columns lie at the same x on every page."""
    cols = list(itertools.pairwise(spans))
    return _Grid(
        [_Row(list(r), [f"row {i} col {k}" for k in range(len(r))], cols[: len(r)]) for i, r in enumerate(rows)]
    )


@pytest.mark.parametrize(
    "last,first,joined,full",
    [
        # the values printed on the second part, the label's tail beside them
        (
            ["（二）部分公开（区分处理的，只", "", ""],
            ["计这一情形，不计其他情形）", "3", "0"],
            ["（二）部分公开（区分处理的，只 计这一情形，不计其他情形）", "3", "0"],
            [],
        ),
        # the values on the first part, only the label's tail on the second
        (["4.保护第三方", "1", "/"], ["合法权益", "", ""], ["4.保护第三方 合法权益", "1", "/"], []),
        # a tail that matches its label by itself, under the label's head
        (
            ["1.申请人无正当理", "2", "0"],
            ["由逾期不补正、行政机关不再处理其政府信息公开申请", "", ""],
            ["1.申请人无正当理 由逾期不补正、行政机关不再处理其政府信息公开申请", "2", "0"],
            [],
        ),
        # a number that filled its cell goes on over the page (a narrow column wraps it like a word)
        (["3.危", "0", "1683"], ["及“三安全一稳定”", "", "3"], ["3.危 及“三安全一稳定”", "0", "16833"], [2]),
        # the same rest under a number that left room: the row is the label's, and '1683 3' is no number
        (["3.危", "0", "1683"], ["及“三安全一稳定”", "", "3"], ["3.危 及“三安全一稳定”", "0", "1683 3"], []),
        # the tail of a group label merged down the rows above, then the row label's tail and a number's
        (
            [None, "（二）部分公开（区分处理的，只计", "8556"],
            ["果", "这一情形，不计其他情形）", "8"],
            ["果", "（二）部分公开（区分处理的，只计 这一情形，不计其他情形）", "85568"],
            [2],
        ),
        # rows of their own: a numbered label, values against values, values under a header
        (["1.信访举报投诉类申请", "", "4"], ["2.重复申请", "5", "6"], None, []),
        (["规章", "1", "2"], ["其他说明", "3", "4"], None, []),
        (["结果维持", "结果纠正", "总计"], ["0", "1", "1"], None, []),
        # a whole label above ends its row, even where the two read as one label
        (["行政许可", "73", "6242"], ["其他对外管理服务事项", "0", "无"], None, []),
        # a block title over the whole table, whose middle falls under a blank cell
        (["行政规范性文件", "", "5"], ["", "第二十条第（五）项", ""], None, []),
        # a group label's tail, then a row of its own (a number that filled its cell is no reason to join)
        (
            [None, "（一）予以公开", "7791"],
            ["果", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）", "0"],
            None,
            [2],
        ),
    ],
)
def test_a_row_cut_by_a_page_break(last, first, joined, full):
    """The first row of a table on a new page is joined to the last row of the page before only when it
    is that row's rest: no label of its own, and nothing printed against a value unless it goes on with
    the row's label or with a number that filled its cell."""
    before, after = grid(["信息内容", "a", "b"], last), grid(first, ["（三）不予公开", "7", "8"])
    before.rows[-1].ends_full = [k in full for k in range(len(last))]
    slots = _rest_of_row(before.rows[-1], after.rows[0])
    assert (slots is not None) == (joined is not None)
    if slots:
        _join(before.rows[-1], after.rows.pop(0), slots)
        assert before.rows[-1].cells == joined and [r.cells for r in after.rows] == [["（三）不予公开", "7", "8"]]


def test_a_cut_row_whose_rest_is_not_on_the_next_page_reads_no_number_that_filled_its_cell():
    """A row the page's foot cut (no rule under it) and whose rest is lost: a number that filled its cell
    may have gone on, and is left unread; the others are whole."""
    row = _Row(
        ["1.本机关", "0", "902209"],
        ["a", "b", "c"],
        [(0, 100), (100, 200), (200, 300)],
        ends_full=[False, False, True],
        open_end=True,
    )
    cut: list[str] = []
    _end_cut_row(row, cut)
    assert row.cells == ["1.本机关", "0", CUT_OFF] and cut == ["c"]


def chars(*lines: str, x0: float = 5.5, top: float = 2, digit: float = 7, height: float = 11) -> list[dict]:
    """Characters as pdfplumber gives them: one line of `lines` under the other, each from x0."""
    return [
        {
            "text": ch,
            "x0": x0 + k * digit,
            "x1": x0 + (k + 1) * digit,
            "top": top + n * 2 * height,
            "bottom": top + n * 2 * height + height,
        }
        for n, line in enumerate(lines)
        for k, ch in enumerate(line)
    ]


@pytest.mark.parametrize(
    "lines,width,text",
    [
        (["2062", "8"], 43.2, "20628"),  # 5 digits in a column that holds 4 (LibreOffice, Word)
        (["1234", "5678", "9"], 43.2, "123456789"),  # over three lines
        (["12", "34"], 100, "12 34"),  # room for more: two numbers, one above the other
        (["20", "628"], 43.2, "20 628"),  # a first line shorter than the next is no wrap
        (["（一）予以", "公开"], 43.2, "（一）予以 公开"),  # a label wrapped over lines keeps a space
    ],
)
def test_a_number_wrapped_in_its_cell_is_one_number(lines, width, text):
    """A grid cell's lines are one number again only when each line but the last fills the cell."""
    assert _cell_text("\n".join(lines), (0, 0, width, 60), chars(*lines)) == text


def _row(*boxes):
    return SimpleNamespace(cells=list(boxes))


PAGE = (0, 0, 595.3, 841.9)
CELLS = ((57, 100, 300, 130), (300, 100, 540, 130), (540, 100, 580, 130))


@pytest.mark.parametrize(
    "table_right,off,last,cut",
    [
        (580, [], False, set()),  # inside the page: nothing cut
        (595.3, [], False, {2}),  # the table reaches the paper's edge
        (580, chars("51746", x0=590, top=105), False, {2}),  # a number runs over the edge
        (580, chars("12", x0=590, top=300), False, set()),  # text beyond the edge, other rows
        (580, chars("8", x0=310, top=840), True, {1}),  # the last row's text runs over the foot
        (580, chars("8", x0=310, top=840), False, set()),  # ... and only the last row's
    ],
)
def test_cells_cut_off_by_the_page_edge(table_right, off, last, cut):
    """Which cells of a row the page's edge cuts off: the outermost one beside text beyond the edge or in
    a table reaching it, and at the foot the last row's cells above text running over it."""
    assert _cut_cells(_row(*CELLS), last, (57, 100, table_right, 130), PAGE, off) == cut


@pytest.mark.parametrize(
    "rows,kept",
    [
        # a blank in a column where no row of this page prints a number: it follows its row's label
        (
            [["信息内容", "本年制发件数", "本年废止件数"], ["规章", "", "5"]],
            [["信息内容", "本年制发件数", "本年废止件数"], ["规章", "", "5"]],
        ),
        # table 四's one row of values, its first cell blank
        ([["结果维持", "结果纠正", "总计"], ["", "1", "1"]], [["结果维持", "结果纠正", "总计"], ["", "1", "1"]]),
        # an empty label slot left of a label, and an empty slot in a header, are no values
        ([["", "（一）予以公开", "3"], ["申请人情况", "", "总计"]], [["（一）予以公开", "3"], ["申请人情况", "总计"]]),
    ],
)
def test_blank_grid_cells_are_values_only_in_value_slots(rows, kept):
    """An empty grid cell is a blank value where a value is printed in its column or after its row's label."""
    assert [[c.text for c in line] for line in grid(*rows).lines()] == kept


# --- PDFs a word processor wrote (LibreOffice Writer: tests/fixtures/wordprocessor/make.py). Its tables
# have narrow columns, where a number wraps like a word, over lines of its cell and over a page break; and
# a table too wide for the paper is cut off at the page's edge.

WORD_PROCESSOR = Path(__file__).parent / "fixtures" / "wordprocessor"
# name: outcome (an exact round trip when parsed)
WORD_PROCESSOR_PDFS = {
    "docx-equal-columns": "parsed",  # python-docx's equal columns: 5-digit counts wrap in table 三
    "docx-twelve-digits": "parsed",  # 12-digit counts over three lines, and over page breaks
    "html-2021": "parsed",
    "html-2019": "parsed",
    "html-single-row": "parsed",
    "html-2021-doubled": "parsed",  # every character drawn twice (a bold face the font lacks)
    "docx-repeated-header": "parsed",  # tables 三 and 四 repeat their header rows on each page
    "docx-page-numbers": "parsed",  # a bare page number in each page's footer, no value of any row
    "html-too-wide": "tables-cut-off",  # table 三's and 四's last columns run over the page's right edge
    "html-clipped": "tables-cut-off",  # large type: table 四 reaches the edge, what lies beyond is clipped
}


def _wrapped_number_cells(path: Path) -> int:
    """Grid cells whose text is digits over more than one line, as pdfplumber reads them."""
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return sum(
            bool(c) and "\n" in c and c.replace("\n", "").isdigit()
            for page in pdf.pages
            for table in page.find_tables()
            for row in table.extract()
            for c in row
        )


@pytest.mark.parametrize("name", WORD_PROCESSOR_PDFS)
def test_a_word_processor_pdf_parses_back_or_is_cut_off_never_wrong(name):
    """Each PDF parses to the report it prints, numbers wrapped in their cells and over pages read whole;
    a table the page's edge cuts off leaves its rows missing with reason tables-cut-off, and no number in
    the wrong cell."""
    path = WORD_PROCESSOR / f"{name}.pdf"
    report = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    parsed = parse_file(path)
    if WORD_PROCESSOR_PDFS[name] == "parsed":
        assert_same(parsed, report)
        assert parsed.format_version == report["format_version"]
        return
    assert parsed.status == "partial" and parsed.reason.startswith("tables-cut-off: 表格超出页面边缘"), parsed.reason
    assert unread_rows_never_wrong(parsed, report)


def test_the_word_processor_pdfs_wrap_numbers_in_cells_and_over_pages():
    """What the round trips above stand on: the prints do wrap numbers in their cells, and cut rows whose
    numbers go on over the page (a cell read from both pages holds one number)."""
    for name in ("docx-equal-columns", "docx-twelve-digits"):
        path = WORD_PROCESSOR / f"{name}.pdf"
        assert _wrapped_number_cells(path) >= 10, name
        parsed = parse_file(path)
        assert any(" + page" in c.source and isinstance(c.value, int) and c.text.isdigit() for c in parsed.cells), name
    # after the header rows a page repeats (rows 1-3), the rest of the row the page break cut is row 4
    parsed = parse_file(WORD_PROCESSOR / "docx-repeated-header.pdf")
    assert any(re.search(r" \+ page \d+ table \d+ row 4 ", c.source) for c in parsed.cells)


def test_a_pdf_whose_text_layer_holds_no_characters_is_rejected_as_undecodable():
    """Fonts without a ToUnicode map print the tables but leave glyph numbers in the text layer: the
    report is rejected saying so (it said 'no tables found', and sent auditors looking for tables)."""
    path = WORD_PROCESSOR / "html-2021-no-tounicode.pdf"
    parsed = parse_file(path)
    assert parsed.status == "rejected" and parsed.reason.startswith("text-undecodable: "), parsed.reason
    assert "ToUnicode" in parsed.reason and parsed.cells == []
