"""Text layouts (.txt/.md) -> rows of printed cells.

One tokenizer per line shape, chosen per line: pipe rows ('a | b |', markdown '| a | b |', colspan
fillers '|||', bare '|' lines that are row separators or blank cells; full-width and box-drawing bars
read as '|', rules between drawn rows skipped), tab-separated rows (a table pasted from a browser or
Word), one cell per blank-line paragraph (chosen per document), and space-separated text as extracted
from PDFs ('规章 0 0 0', a vertical label character glued in front of a label: '三 2.其他法律...').
Markdown from PDF converters: '<br>', bold and escapes read as printed, a row label (or a table-四
group) left in the heading over its one-row table lent to that row, tables kept as HTML blocks read by
the HTML reader in place; tables under generic column names ('数据1', '列1') checked against the
statutory column counts (check_generic_columns: what they tell goes to core as a ColumnCheck).
Numbers and labels are told apart later, in core.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from functools import lru_cache

from .. import schema as S
from . import labels as L
from .core import (
    GENERIC_COLUMN,
    NUMBER,
    SECTION_TABLES,
    VALUE,
    VALUE_WORDS,
    WITH_UNIT,
    ColumnCheck,
    TextCell,
    classify,
)

BARE_PAGE_NUMBER = re.compile(r"^\s*\d{1,4}\s*$")  # a page number without marks: only where a page ends
PAGE_NUMBER = re.compile(r"^\s*(?:[-—–]\s*\d{1,4}\s*[-—–]|第\s*\d{1,4}\s*页(?:\s*[,，]?\s*共\s*\d{1,4}\s*页)?)\s*$")
MARKDOWN_RULE = re.compile(r"^:?-{3,}:?$")
FILLER = re.compile(r"^\s*\|{2,}\s*$")  # colspan fillers '||', '|||' on a line of their own hold no cell
TRAILING_FILL = re.compile(r"\|\s*\|{2,}\s*$")  # '... | 0 | |||': the cell ends at the first bar
LINE_BREAK = re.compile(r"<br\s*/?>", re.I)
MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
EMPHASIS = re.compile(r"^(\*\*|__|\*|_)(.+)\1$")
ESCAPED_BAR = "\x00"  # stands for an escaped bar while a row is split at its borders
MARKDOWN_RULE_ROW = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$", re.M)
HTML_TABLE_BLOCK = re.compile(r"<table[\s>][\s\S]*?</table\s*>", re.I)
MARKDOWN_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
SYMBOL = re.compile(r"^[/／\\\-—–_~～?？*×]+$")
# Column bars other than '|': the full-width bar a Chinese input method types, box-drawing verticals.
BARS = "｜│┃║￨"
_TO_PIPE = str.maketrans(dict.fromkeys(BARS, "|"))
# A rule between rows of a drawn table ('├────┼────┤', '+-----+-----+', '═════'): no cell, no text.
_RULE_MARKS = "+─━═┌┐└┘├┤┬┴┼╔╗╚╝╠╣╦╩╬"  # one of these in a line of rule characters makes it a rule
RULE_CHARS = re.compile(f"[{_RULE_MARKS}]")
RULE_LINE = re.compile(rf"^\s*(?=.*[{_RULE_MARKS}])[-{_RULE_MARKS}=:┄┅┈┉╒╓╕╖╘╙╛╜╞╟╡╢╤╥╧╨╪╫\s|]{{3,}}$")
PARAGRAPH_SHARE = 0.6  # share of non-empty lines followed by an empty line in a paragraph layout
PARAGRAPH_MIN_LINES = 10
MAX_SPLIT_WORDS = 6  # longer runs are prose, not a label with a group label in front
# Lines of numbers (and blank lines) in a row: a statutory table prints 15 values at most on lines of
# their own (table 四), so a run of more lines is no table's, but appended data or a dump. Only the first
# and last NUMBER_RUN_KEPT non-blank lines of such a run are read (what a label or table 四 before
# it takes, the line a label after it takes, the numbers no row takes); the lines between are read as
# empty lines, so that a file of millions of number lines takes memory for a few hundred.
MAX_NUMBER_RUN = 1000
NUMBER_RUN_KEPT = 100
NUMBER_RUN = re.compile(r"^(?:[ \t\d.,+-]*\r?\n)++", re.M)  # possessive: one match per run, no backtracking


def is_paragraph_layout(raw: list[str]) -> bool:
    """One cell per paragraph: most non-empty lines are followed by an empty line."""
    filled = followed = 0  # counted, not listed: a list of line numbers costs more than the lines
    for x, after in zip(raw, itertools.chain(itertools.islice(raw, 1, None), ("",))):
        if x.strip():
            filled += 1
            followed += not after.strip()
    return filled >= PARAGRAPH_MIN_LINES and followed >= PARAGRAPH_SHARE * filled


def _units(raw: list[str], markdown_tables: bool = False) -> list[tuple[int, str]]:
    """(first line number, text) of each line, or of each paragraph (its lines joined) in a paragraph
    layout, where a paragraph of only a space between empty lines is a blank cell (019). Markdown with
    ruled tables is read by lines: short tables between headings look like paragraphs."""
    if markdown_tables or not is_paragraph_layout(raw):
        return [(i + 1, x) for i, x in enumerate(raw) if x.strip()]
    out, start, buf = [], 0, []
    for i, x in enumerate(itertools.chain(raw, ("",))):
        if x.strip():
            if not buf:
                start = i + 1
            buf.append(x.strip())
            continue
        if buf and len(buf) > 1 and any(all(map(_is_value_token, line.split())) for line in buf):
            out += [(start + k, line) for k, line in enumerate(buf)]  # lines of numbers: rows, not one cell
            buf = []
        elif buf:
            out.append((start, _joined(buf)))
            buf = []
        if x and (i == 0 or not raw[i - 1]) and (i + 1 >= len(raw) or not raw[i + 1]):
            out.append((i + 1, ""))
    return out


def _joined(lines: list[str]) -> str:
    """The lines of one paragraph as one text: Chinese wraps anywhere and joins without a space, but two
    numbers (or Latin words) on either side of a line break stay apart ('917806' / '54' is not 91780654)."""
    out = lines[0]
    for line in lines[1:]:
        out += (
            " " + line
            if out[-1:].isascii() and out[-1:].isalnum() and line[:1].isascii() and line[:1].isalnum()
            else line
        )
    return out


def is_markdown(raw: list[str]) -> bool:
    """Rows written '| a | b |' (009): a leading '|' is a border; elsewhere ('a | b |', 000) it ends a blank cell."""
    rows = [x.strip() for x in raw if "|" in x and x.strip("| \t")]
    return sum(r.startswith("|") for r in rows) > len(rows) / 2


def pipe_cells(line: str, markdown: bool) -> list[str]:
    """Cells of a pipe row; a trailing '|' ends the last cell, a leading one is a border in markdown."""
    escaped = markdown and "\\|" in line
    if escaped:  # '\|' is a bar printed inside a cell, not a cell border
        line = line.replace("\\|", ESCAPED_BAR)
    pieces = (TRAILING_FILL.sub("|", line) if "||" in line or "| |" in line else line).split("|")
    if line.rstrip().endswith("|"):
        pieces = pieces[:-1]
    if markdown and line.lstrip().startswith("|") and len(pieces) > 1:
        pieces = pieces[1:]
    if markdown:
        return [markdown_text(p.replace(ESCAPED_BAR, "|") if escaped else p) for p in pieces]
    return [p.strip() for p in pieces]


def markdown_text(cell: str) -> str:
    """A Markdown cell as printed: '<br>' a line break inside the cell (a space: two numbers stay apart),
    bold or italic marks around the whole text dropped, backslash escapes undone ('1\\.' -> '1.')."""
    if "<" in cell:
        cell = LINE_BREAK.sub(" ", cell)
    if "\\" in cell:
        cell = MARKDOWN_ESCAPE.sub(r"\1", cell)
    cell = cell.strip()
    emphasis = EMPHASIS.match(cell)
    return emphasis.group(2).strip() if emphasis else cell


def tab_cells(line: str) -> list[str]:
    """Cells of a tab-separated row (a table copied from Word or a browser, Word's table-to-text): every
    tab ends a cell, so a tab at the start or two in a row hold a blank cell (a 表四 row's first value
    may be blank: dropping it would shift every value after it)."""
    return [p.strip() for p in line.lstrip(" \u3000").split("\t")]


@lru_cache(maxsize=1 << 14)
def _is_value_token(tok: str) -> bool:
    """A space-separated word that is a value on its own: a number, '/', '—', '无', '3件'."""
    t = unicodedata.normalize("NFKC", tok)
    return bool(NUMBER.match(t) or WITH_UNIT.match(t) or SYMBOL.match(t)) or t in VALUE_WORDS


def space_cells(line: str) -> list[str]:
    """Cells of space-separated text: each number alone, consecutive words joined into one text cell."""
    words = line.split()
    if len(words) == 1 and not _is_value_token(words[0]):
        return words
    cells: list[str] = []
    run: list[str] = []
    for tok in words:
        if _is_value_token(tok):
            _flush(run, cells)
            run = []
            cells.append(tok)
        else:
            run.append(tok)
    _flush(run, cells)
    return cells


def _flush(run: list[str], cells: list[str]) -> None:
    """Add a text run; words before a numbered row label (a vertical label's character '三', a group
    label or a piece of one: '（四）无 1.本机关不掌握...') become a cell of their own."""
    if not run:
        return
    text = " ".join(run)
    if 1 < len(run) <= MAX_SPLIT_WORDS and not L.match(text):
        for k in range(1, len(run)):
            if not L.ITEM_PREFIX.match(L.normalize(run[k])):  # a row label starts with its number
                continue
            lab = L.match(" ".join(run[k:]))
            if lab and lab.kind in ("row", "group"):
                cells += [" ".join(run[:k]), " ".join(run[k:])]
                return
    cells.append(text)


def _is_separator(units: list[tuple[int, str]], n: int) -> bool:
    """A bare '|' line before a line that is not one: a row separator (029) or a one-column filler (007);
    of two bare '|' lines in a row the first is a blank cell."""
    return units[n][1].rstrip() == "|" and (n + 1 == len(units) or units[n + 1][1].rstrip() != "|")


def _without_page_breaks(text: str) -> str:
    """The text with its form feeds (pdftotext ends each page with one) taken out, and the page numbers
    blanked: a bare number on the last line of a page or the first of the next, where such numbers go up
    with the pages (page k prints k + a constant, on two pages at least, or 1 on the first of two):
    read as values, no row would take them and their table would be left unread, while the last value
    of a page's table is no page number. Line numbers stay those an editor shows, but where a form feed
    stands between text on one line."""
    lines = text.split("\n")
    candidates = []  # (page, number, line index)
    page = 1
    for i, line in enumerate(lines):
        if "\f" not in line:
            continue
        before, after = line.split("\f", 1)
        last = i if before.strip() else next((j for j in range(i - 1, -1, -1) if lines[j].strip()), None)
        first = i if after.strip() else next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)
        for j, on_page in ((last, page), (first, page + 1)):
            bare = BARE_PAGE_NUMBER.match(lines[j].replace("\f", "")) if j is not None else None
            if bare:
                candidates.append((on_page, int(bare.group(0)), j))
        page += line.count("\f")
    offsets = Counter(number - on_page for on_page, number, _ in candidates)
    if offsets:
        offset, count = offsets.most_common(1)[0]
        if count >= 2 or offset == 0:
            for on_page, number, j in candidates:
                if number - on_page == offset:
                    lines[j] = ""
    # A form feed between text on one line breaks it; at either end of a line (pdftotext) it is no line.
    return "\n".join(
        "\n".join(part for part in line.split("\f") if part.strip()) if "\f" in line else line for line in lines
    )


def _past_numbers(text: str, pos: int, end: int, n: int) -> int:
    """The position after the first `n` non-blank lines from `pos` (at most `end`)."""
    while n and pos < end:
        stop = text.index("\n", pos, end) + 1
        n -= not text[pos:stop].isspace()
        pos = stop
    return pos


def _before_numbers(text: str, start: int, pos: int, n: int) -> int:
    """The position where the last `n` non-blank lines before `pos` (at least `start`) begin."""
    while n and pos > start:
        begin = text.rfind("\n", start, pos - 1) + 1 or start
        n -= not text[begin:pos].isspace()
        pos = begin
    return pos


def fold_number_runs(text: str) -> str:
    """The text with the middle of each run of more than MAX_NUMBER_RUN lines of numbers as empty lines
    (line numbers stay); the text itself when it has none."""
    if text.count("\n") <= MAX_NUMBER_RUN:  # every report: not even scanned
        return text
    pieces, done = [], 0
    for m in NUMBER_RUN.finditer(text):
        start, end = m.span()
        if text.count("\n", start, end) <= MAX_NUMBER_RUN:
            continue
        head = _past_numbers(text, start, end, NUMBER_RUN_KEPT)
        tail = _before_numbers(text, head, end, NUMBER_RUN_KEPT)
        if head < tail:
            pieces += [text[done:head], "\n" * text.count("\n", head, tail)]
            done = tail
    return "".join([*pieces, text[done:]]) if pieces else text


def _row_label(text: str) -> L.Label | None:
    """The statutory row a cell names: a row or group label of tables 二 and 三, or a table-四 group."""
    lab = L.match(text) if text else None
    return lab if lab and (lab.kind in ("row", "group") or L.review_group(lab)) else None


def _is_row_label(text: str) -> bool:
    """Whether a cell is a statutory row label."""
    return _row_label(text) is not None


# Values a row of each table prints after its label, where that does not depend on the format version.
ROW_WIDTHS = {"applications": len(S.APPLICANT_COLUMNS), "review": len(S.REVIEW_OUTCOMES)}


def _table_end(raw: list[str], k: int) -> int:
    """The index after the Markdown table whose first row is line k."""
    while k < len(raw) and raw[k].lstrip().startswith("|"):
        k += 1
    return k


def _next_filled(raw: list[str], k: int) -> int:
    """The index of the first non-empty line from k (len(raw) when none)."""
    while k < len(raw) and not raw[k].strip():
        k += 1
    return k


def _is_value_row(cells: list[str]) -> bool:
    """A table row of values only (blank cells, numbers, '/', '—'), not a header of texts."""
    return all(classify(c)[0] == VALUE for c in cells)


# Names of a label column in a header row (its cells in the rows below are row labels, not values).
LABEL_COLUMN_NAMES = frozenset({"", "类别", "项目", "名称", "内容", "指标", "类型", "分类", "信息内容", "申请人情况"})


def _has_label_column(header: list[str], width: int | None) -> bool | None:
    """Whether a table's first column holds row labels, by its header row: a label column's name there
    (类别, 信息内容, empty), or a statutory value column's (结果维持, 自然人: no label column); under
    generic names, as many columns as the row's values (none) or one more (one). None when unknown."""
    first = L.normalize(header[0]) if header else None
    if first is None:
        return None
    if first in LABEL_COLUMN_NAMES:
        return True
    lab = L.match(header[0])
    if lab and lab.kind == "header" and not L.review_group(lab):
        return False
    if width and GENERIC_COLUMN.match(unicodedata.normalize("NFKC", header[0])):
        return {width: False, width + 1: True}.get(len(header))
    return None


def _labelled(heading: str, row: str, header: list[str] | None) -> str | None:
    """A value row with the label its heading printed: in its empty label cell, or in front of it where
    the table has no label column (`_has_label_column`, from its header). Unknown, an empty first cell is
    the label column: read as a value it would shift the row when its last cell is blank too. None where
    the label column holds something: which row that is cannot be told."""
    label = markdown_text(MARKDOWN_HEADING.sub("", heading))
    cells = pipe_cells(row, True)
    lab = _row_label(label)
    labelled = _has_label_column(header or [], ROW_WIDTHS.get(lab.table) if lab else None)
    if labelled is None:
        labelled = bool(cells) and not cells[0]
    if labelled and cells and cells[0]:
        return None
    return "| " + " | ".join([label, *cells[1:]] if labelled else [label, *cells]) + " |"


def _with_headings_resolved(raw: list[str]) -> list[str]:
    """Lines outside the tables of ruled Markdown that print a row label (headings '### 一、本年新收...',
    '### (三)不予公开', '### 行政诉讼 · 复议后起诉', bold or plain lines): over a table of one value row
    whose label was left out of it, the line lends the row its label; any other such line is no row (its
    table prints its own labels), so it cannot take numbers printed elsewhere, and a table-四 group's
    stays the header it is. Line numbers stay."""
    out = list(raw)
    for k, line in enumerate(raw):
        lab = None if line.lstrip().startswith("|") or not line.strip() else _row_label(markdown_text(line))
        if lab is None:
            continue
        group = L.review_group(lab)
        if not group:  # a table-四 group's line is a header line, which takes no value, unless it lends
            out[k] = ""
        start = _next_filled(raw, k + 1)
        if start == len(raw) or not raw[start].lstrip().startswith("|"):
            continue
        rows = [(n, pipe_cells(raw[n], True)) for n in range(start, _table_end(raw, start))]
        rows = [(n, cells) for n, cells in rows if not all(MARKDOWN_RULE.match(c) for c in cells if c)]
        if any(_is_row_label(c) for _, cells in rows for c in cells):
            continue
        values = [n for n, cells in rows if _is_value_row(cells)]
        ruled = start + 1 < len(raw) and MARKDOWN_RULE_ROW.fullmatch(raw[start + 1]) is not None
        header = rows[0][1] if ruled and rows[0][0] == start and values[:1] != [start] else None
        lent = _labelled(line, raw[values[0]], header) if len(values) == 1 else None
        # a group's line lends its label to its five values at most (over all 15, it names the first group)
        if lent and (not group or _trailing_values(pipe_cells(lent, True)) <= len(S.REVIEW_OUTCOMES)):
            out[values[0]], out[k] = lent, ""
    return out


def is_generic_header(cells: list[str]) -> bool:
    """A Markdown header row of generic column names ('类别 | 数据1 | … | 数据6 | 总计', '列1 … 列n'): the
    converter found no printed header, so the row names no column; a label column's name, '总计' or an
    empty cell may stand among them."""
    numbered = [c for c in cells if GENERIC_COLUMN.match(unicodedata.normalize("NFKC", c))]
    others = [c for c in cells if c and c not in numbered]
    return bool(numbered) and all(L.normalize(c) in GENERIC_OTHERS for c in others)


GENERIC_OTHERS = frozenset({"类别", "项目", "名称", "内容", "指标", "类型", "分类", "总计", "合计"})


def _markdown_tables(raw: list[str]) -> list[tuple[int, list[int]]]:
    """(header line, body lines) of every ruled Markdown table: a pipe row, a rule row under it, and the
    pipe rows after it (rule rows among them left out)."""
    out = []
    k = 0
    while k + 1 < len(raw):
        if raw[k].lstrip().startswith("|") and MARKDOWN_RULE_ROW.fullmatch(raw[k + 1]):
            end = _table_end(raw, k + 2)
            out.append((k, [n for n in range(k + 2, end) if not MARKDOWN_RULE_ROW.fullmatch(raw[n])]))
            k = end
        else:
            k += 1
    return out


def _trailing_values(cells: list[str]) -> int:
    """How many cells at the end of a row are values (numbers, blanks, '/', '—'): what its label takes."""
    n = 0
    while n < len(cells) and classify(cells[len(cells) - 1 - n])[0] == VALUE:
        n += 1
    return n


def _expected_widths(lab: L.Label) -> set[int]:
    """The numbers of values a row label may take under generic columns: its statutory width; for table
    二, either format's, or 3 (the whole table printed as one grid of 4 columns, a short row's merged
    cell spread over the other 3)."""
    if lab.table == "active":
        return {L.widths(v)[lab.key] for v in S.FORMAT_VERSIONS if lab.key in L.widths(v)} | {3}
    return {ROW_WIDTHS[lab.table]}


def check_generic_columns(printed: list[str], resolved: list[str]) -> ColumnCheck:
    """Tables headed by generic column names and printing no column header of their own: their columns
    are trusted only when the count matches the statutory table's. A row under them must have as many
    cells as the header (as printed: `printed`), and after its label (as lent by its heading: `resolved`)
    as many values as its statutory row prints; a row of values only is table 四's 15, where section 四
    is being read. A table-二 row whose count only one format prints tells the format; any other count
    leaves its table unread."""
    check = ColumnCheck()
    region, seen = None, 0
    for start, body in _markdown_tables(printed):
        headings = [h for h in map(_section, printed[seen:start]) if h is not None]
        region = headings[-1] if headings else region
        seen = start
        header = pipe_cells(printed[start], True)
        if not is_generic_header(header):
            continue
        rows = [(n, pipe_cells(printed[n], True), pipe_cells(resolved[n], True)) for n in body]
        if any(_is_header_row(cells) for _, cells, _ in rows):
            continue  # the body prints the columns' own names: they name the columns, not the count
        for n, cells, lent in rows:
            values = _trailing_values(lent)
            if not values and len(cells) == len(header):
                continue  # a row of texts only (a flattened header) takes no number
            labels = [lab for c in lent[: len(lent) - values] if (lab := _row_label(c))]
            table = labels[-1].table if labels else region if region == "review" and values == len(lent) else None
            if table is None:
                continue  # no statutory row: its numbers are no row's, whatever the columns
            widths = _expected_widths(labels[-1]) if labels else {len(S.REVIEW_COLUMNS)}
            if len(cells) == len(header) and values in widths:
                if table == "active" and values != 3:
                    check.versions |= {v for v in S.FORMAT_VERSIONS if L.widths(v).get(labels[-1].key) == values}
                continue
            check.unmatched.setdefault(
                table,
                f"line {n + 1}: 通用列名 {len(header)} 列,该行 {len(cells)} 格(应与之相同)、标签后 {values} 个数值"
                f"(应为 {' 或 '.join(map(str, sorted(widths)))} 个)",
            )
    return check


def _section(line: str) -> str | None:
    """The table of a section heading line ('## 四、政府信息公开行政复议、行政诉讼情况' -> 'review'; '' for
    the sections without one); None for any other line."""
    if not line.strip() or line.lstrip().startswith("|"):
        return None
    lab = L.match(markdown_text(MARKDOWN_HEADING.sub("", line)))
    return SECTION_TABLES.get(lab.key, "") if lab and lab.kind == "heading" else None


def _is_header_row(cells: list[str]) -> bool:
    """A row of printed column headers (text, no number), a statutory column's name among them."""
    if any(c and classify(c)[0] == VALUE for c in cells):
        return False
    return any((lab := L.match(c)) and lab.kind == "header" and not L.review_group(lab) for c in cells if c)


def read_lines(text: str) -> list[list[TextCell]]:
    """Rows of printed cells of a text report, with the source line of each cell."""
    return read_text(text)[0]


def read_text(text: str) -> tuple[list[list[TextCell]], ColumnCheck]:
    """Rows of printed cells of a text report, with the source line of each cell, and what the counts of
    its generic columns tell (ruled Markdown only)."""
    text = fold_number_runs(text)
    if any(bar in text for bar in BARS):
        text = text.translate(_TO_PIPE)
    if "\f" in text:
        text = _without_page_breaks(text)
    raw = text.splitlines()
    rules = RULE_CHARS.search(text) is not None
    markdown = is_markdown(raw)
    ruled = markdown and MARKDOWN_RULE_ROW.search(text) is not None
    check = ColumnCheck()
    if ruled:
        printed, raw = raw, _with_headings_resolved(raw)
        check = check_generic_columns(printed, raw)
    units = _units(raw, markdown_tables=ruled)
    rows = []
    for n, (lineno, unit) in enumerate(units):
        if rules and RULE_LINE.match(unit):
            continue
        if "|" in unit:
            if ("||" in unit and FILLER.match(unit)) or _is_separator(units, n):
                continue
            cells = pipe_cells(unit, markdown)
            if "---" in unit and all(MARKDOWN_RULE.match(c) for c in cells if c):
                continue
        elif PAGE_NUMBER.match(unit):
            continue
        elif "\t" in unit.lstrip():  # tabs only in front of the text are indentation
            cells = tab_cells(unit)
        else:
            cells = space_cells(unit) or [""]
        if len(cells) == 1:
            rows.append([TextCell(cells[0], f"line {lineno}")])
        else:
            rows.append([TextCell(c, f"line {lineno} col {k}") for k, c in enumerate(cells, 1)])
    return rows, check


def has_markdown_tables(text: str) -> bool:
    """Whether a text holds Markdown pipe tables (a rule row under a header row) outside HTML tables."""
    return MARKDOWN_RULE_ROW.search(HTML_TABLE_BLOCK.sub("", text)) is not None


def read_mixed_lines(text: str, path: str) -> tuple[list[list[TextCell]], ColumnCheck]:
    """Rows of a Markdown text whose tables are partly HTML blocks: each block read by the HTML reader,
    in its place among the rows of the text around it (blanked, so line numbers stay); and what the
    counts of the Markdown tables' generic columns tell."""
    from .html import read_page

    blocks = list(HTML_TABLE_BLOCK.finditer(text))
    plain = HTML_TABLE_BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    rows, check = read_text(plain)
    out: list[list[TextCell]] = []
    taken, line, pos = 0, 1, 0
    for m in blocks:
        line += text.count("\n", pos, m.start())  # the line the block starts on
        pos = m.start()
        while taken < len(rows) and _line_of(rows[taken]) < line:
            out.append(rows[taken])
            taken += 1
        table = read_page(m.group(0).encode("utf-8"), path).lines
        out += [[TextCell(c.text, f"line {line} {c.source}") for c in row] for row in table]
    return out + rows[taken:], check


def _line_of(row: list[TextCell]) -> int:
    """The source line number of a row read by read_lines."""
    return int(row[0].source.split()[1])
