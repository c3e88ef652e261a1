"""A report's text split into its parts: the title, the opening paragraph (引言/总述 before 一、) and the
six statutory sections 一 … 六 (DOMAIN.md), from the rows every reader gives `parse_lines`.

Section headings are numbered lines ('一、总体情况', '一.总体情况', '## 一、总体情况', '第一部分 总体情况')
whose words name their section; a bracketed '(一)' is a sub-item of a section's prose, never a section.
A heading may be printed more than once: in a table of contents (a run of headings with nothing between
them, all printed again later, or lines ending in leaders and a page number), or as a table's caption
after its section's heading. The headings kept are the longest run in section order, each the one
closest to the national form's wording, the earliest of equals. A section that is not found is absent:
nothing is invented.

A section's text is its prose as printed, one line per printed line or paragraph, whitespace collapsed;
the statutory tables' cells are left out (they are in `cells`): rows of a data table, and lines made
only of table labels and values (text layouts that print a table one cell per line).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .. import schema as S
from ..model import Section
from . import labels as L

if TYPE_CHECKING:
    from .core import TextCell

# What a printed cell is, as core.section_cell_kind tells (passed in: core calls this module):
# 'label' (a statutory table's, or a converter's column name), 'number' (or blank), 'word' (a lone
# value word: '无', '/'; or one character of a label printed vertically) or 'text'.
CellKind = Callable[[str], str]

NUMBERS = S.PART_NUMERALS  # section s1 … s6 of schema.SECTION_KEYS
FORM_HEADINGS = S.PART_HEADINGS
# Words one of which a section's heading contains, by section number (real reports reword them:
# '存在的主要问题及整改措施', '四、因政府信息公开工作被申请行政复议、提起行政诉讼的情况').
HEADING_WORDS = (
    ("总体", "概况", "概述", "基本情况"),
    ("主动公开",),
    ("申请",),
    ("复议", "诉讼"),
    ("问题", "改进", "整改", "不足"),
    ("其他", "其它"),
)
MAX_HEADING = 40  # characters after the number: longer is a sentence of prose
HEAD = MAX_HEADING + 24  # characters of a line read for its heading (markup, number and a clause end)
_FORM = tuple(L.normalize(h) for h in FORM_HEADINGS)
_MARKUP_START = re.compile(r"^(?:#{1,6}\s*|>\s*|\*{1,3}|_{2,3})+")
_MARKUP_END = re.compile(r"(?:\*{1,3}|_{2,3})+$")
_NUMERAL_NEAR_START = re.compile("[一二三四五六]")  # looked for in a line's first characters (markup first)
_NUMBERED = re.compile(
    r"^(?:第([一二三四五六])部分\s*[、.,:]?|([一二三四五六])\s*[、.,:]|([一二三四五六])\s+)\s*(\S.*)$"
)
# A table-of-contents line: leaders then a page number ('一、总体情况……1', '一、总体情况 .... 1').
_TOC_TAIL = re.compile(r"(?:[.…·_\-—]{2,}|\s)\s*\d{1,3}$")
_CLAUSE_END = re.compile(r"[。:;,]")  # a heading printed with its first sentence: '一、总体情况。2023年…'
_SENTENCE = re.compile(r"[,。;]")  # not '、': a heading or a table-of-contents line has one
_YEAR_FIRST = re.compile(r"^\d{4}\s*年")
_YEAR = re.compile(r"\d{4}")
_TITLE_END = re.compile(r"(?:报告|年报)\s*[)）】]?$")
_DATE_LINE = re.compile(r"^[((]?\s*\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?\s*[))]?$")
_CHROME_FIELD = re.compile(r"^[\u4e00-\u9fff]{1,6}\s*[:：]")  # '来源:', '发布时间:': a page's field, not prose
_GRID = re.compile(r"\btable \d+ row \d+")
CHROME_RUN, CHROME_LINE = 5, 20  # a run of this many short bare lines ends the report (see _report_end)
_PUNCTUATION = re.compile(r"[,.;:!?，。；：！？、]")
_ITEM = re.compile(
    r"^\s*(?:[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十\d]+\s*[、.．]|[一二三四五六七八九十]是)"
)
BARE_LINE = 20  # characters: a shorter line without punctuation, in sections 二–四, is a table's cell
FRAGMENT = 4  # characters: a word this short in a row of header words is a piece of a header
_TABLE_SECTIONS = {2, 3, 4}  # sections of the statutory tables: their bare lines are table cells


@dataclass(slots=True)
class _Line:
    """One printed line: its text, where it is, and whether it is a statutory table's."""

    text: str
    source: str
    table: bool
    # A lone value word ('无', '/'), a short line with no punctuation ('商业' of a header printed over
    # two lines) or a row of header words ('维持 纠正 结果 审结'): a table's cells in sections 二–四,
    # where text layouts print tables one cell per line or as spaced words; prose elsewhere.
    bare: bool = False


@dataclass(slots=True)
class _Heading:
    at: int  # index of its line
    number: int  # 1..6
    heading: str  # as printed, markup dropped
    rest: str  # prose printed on the heading's line after it
    score: float  # likeness to the form's wording (0..1), halved for a heading with prose on its line
    toc: bool  # leaders and a page number: a table-of-contents line


def split_sections(lines: list[list[TextCell]], kind_of: CellKind) -> list[Section]:
    """The parts found in one report's rows of printed cells, in document order."""
    printed = [_line(row, kind_of) for row in lines if any(c.text.strip() for c in row)]
    headings = _chosen(_without_toc([h for i, ln in enumerate(printed) if (h := _heading(ln, i))]))
    out: list[Section] = []
    first = headings[0].at if headings else len(printed)
    out += _preface(printed[:first], bool(headings))
    for k, h in enumerate(headings):
        end = headings[k + 1].at if k + 1 < len(headings) else _report_end(printed, h.at + 1)
        body = [h.rest] if h.rest else []
        body += [ln.text for ln in printed[h.at + 1 : end] if _is_prose(ln, h.number)]
        out.append(Section(f"s{h.number}", h.heading, "\n".join(body), _span(printed[h.at], printed[end - 1])))
    return out


def _report_end(printed: list[_Line], start: int) -> int:
    """Where the report's text ends after the last heading: before the web page's chrome that follows it
    (links, footer), a run of CHROME_RUN short lines printing no sentence and no numbered item; else
    at the end. A signature (agency, date) is two lines, a list of items is numbered."""
    run = 0
    for i in range(start, len(printed)):
        text = printed[i].text
        bare = len(text) <= CHROME_LINE and not _PUNCTUATION.search(text) and not _ITEM.match(text)
        run = run + 1 if bare and not printed[i].table else 0
        if run == CHROME_RUN and i + 1 - run > start:
            return i + 1 - run
    return len(printed)


def _line(row: list[TextCell], kind_of: CellKind) -> _Line:
    """A row as one printed line. A row of several cells is a table's when it is a data table's row, when
    a cell is a table's label or a converter's column name, when every cell is a value ('规章 0 0 0'),
    or when its cells make one label ('商业 企业'); else it is prose a reader cut at its numbers."""
    source = row[0].source
    if " col " in source:
        source = source.rsplit(" col ", 1)[0]
    if len(row) > 1 and _GRID.search(source):  # a data table's row: its text is never read
        return _Line("", source, True)
    cells = [" ".join(c.text.split()) for c in row]
    text = " ".join(c for c in cells if c)
    if len(row) > 1:
        kinds = [kind_of(c) for c in cells if c]
        return _Line(text, source, "label" in kinds or "text" not in kinds or kind_of(text) == "label")
    kind = kind_of(text)
    unpunctuated = not _PUNCTUATION.search(text)
    bare = kind == "word" or (unpunctuated and (len(text) < BARE_LINE or _header_words(text, kind_of)))
    return _Line(text, source, kind in ("label", "number"), bare)


def _header_words(text: str, kind_of: CellKind) -> bool:
    """A text layout's row of column headers, its cells printed with spaces between ('信息内容 本年制发件数
    本年废止件数', '维持 纠正 结果 审结'): every word a table's label, a number or a piece of a few characters."""
    words = text.split()
    return len(words) > 1 and all(len(w) <= FRAGMENT or kind_of(w) != "text" for w in words)


def _is_prose(line: _Line, number: int) -> bool:
    return not line.table and not (line.bare and number in _TABLE_SECTIONS)


def _heading(line: _Line, at: int) -> _Heading | None:
    """The section heading a prose line is, if it is one."""
    if line.table or not _NUMERAL_NEAR_START.search(line.text, 0, 12):  # most lines: no regex, no NFKC
        return None
    text = _unmarked(line.text)
    # Matched in NFKC form ('一．' -> '一.'); a paragraph's head only: normalising whole paragraphs costs.
    normal = unicodedata.normalize("NFKC", text[:HEAD])
    normal = normal + text[HEAD:] if len(normal) == len(text[:HEAD]) else unicodedata.normalize("NFKC", text)
    m = _NUMBERED.match(normal)
    if not m:
        return None
    number = NUMBERS.index(m.group(1) or m.group(2) or m.group(3)) + 1
    body = m.group(4)
    name_end, rest_start = len(normal), len(normal)
    cut = _CLAUSE_END.search(body, 0, MAX_HEADING + 1)
    if cut and body[cut.end() :].strip():
        name_end, rest_start = m.start(4) + cut.start(), m.start(4) + cut.end()
    elif len(body) > MAX_HEADING:
        return None
    name = normal[m.start(4) : name_end]
    words = L.normalize(name)
    if not any(w in words for w in HEADING_WORDS[number - 1]):
        return None
    if (lab := L.match(name)) and lab.kind != "heading":  # a table's row label ('三、本年度办理结果')
        return None
    score = _likeness(words, number)
    # As printed: NFKC keeps the characters of a heading one for one (CJK, full-width punctuation); where
    # it did not, the normalised form is all there is to cut.
    printed = text if len(text) == len(normal) else normal
    heading, rest = printed[:name_end], printed[rest_start:].strip()
    return _Heading(at, number, heading, rest, score / 2 if rest else score, bool(_TOC_TAIL.search(body)))


@lru_cache(maxsize=1 << 12)
def _likeness(words: str, number: int) -> float:
    """How close a heading's words are to the form's heading of its section (difflib's ratio)."""
    return difflib.SequenceMatcher(None, words, _FORM[number - 1], autojunk=False).ratio()


def _unmarked(text: str) -> str:
    """A line without its Markdown marks ('## 一、总体情况', '**一、总体情况**'), which are not printed."""
    return _MARKUP_END.sub("", _MARKUP_START.sub("", text)).strip()


def _without_toc(found: list[_Heading]) -> list[_Heading]:
    """The headings less a table of contents: lines with leaders and a page number, and runs of two or
    more headings printed with nothing between them whose every heading is printed again later."""
    found = [h for h in found if not h.toc]
    toc: set[int] = set()
    run: list[_Heading] = []
    for h in [*found, None]:
        if h is not None and run and h.at == run[-1].at + 1 and h.number > run[-1].number:
            run.append(h)
            continue
        if len(run) >= 2 and all(any(g.number == r.number and g.at > run[-1].at for g in found) for r in run):
            toc.update(r.at for r in run)
        run = [h] if h is not None else []
    return [h for h in found if h.at not in toc]


def _chosen(found: list[_Heading]) -> list[_Heading]:
    """The most headings in section order; among equals, those closest to the form's wording, then the
    earliest (a caption repeating its section's heading comes after it). One pass, keeping the best
    chain that ends in each section number so far: linear in the headings, however many a file prints."""
    best: dict[int, tuple[int, float, list[_Heading]]] = {}
    for h in found:
        chain = (1, h.score, [h])
        for number, (count, score, prev) in best.items():
            if number < h.number and (count + 1, score + h.score) > chain[:2]:
                chain = (count + 1, score + h.score, [*prev, h])
        if h.number not in best or chain[:2] > best[h.number][:2]:
            best[h.number] = chain
    top: tuple[int, float, list[_Heading]] | None = None
    for number in sorted(best):
        if top is None or best[number][:2] > top[:2]:
            top = best[number]
    return top[2] if top else []


def _preface(lines: list[_Line], complete: bool) -> list[Section]:
    """The title (its last title line before the opening's prose, with the agency line before a title
    that starts with its year, and the date line after it) and the opening (from its first sentence, and
    the lines of it wrapped before, to the first heading; only when a heading ends it)."""
    starts = [i for i, ln in enumerate(lines) if not ln.table and _is_sentence(ln.text)]
    before = starts[0] if starts else len(lines)
    titles = [i for i in range(before) if not lines[i].table and _is_title(lines[i].text)]
    out = []
    title_end = 0
    if titles:
        first = last = titles[-1]
        wrapped = _YEAR_FIRST.match(lines[first].text) or not _YEAR.search(lines[first].text)
        if wrapped and first > 0 and not lines[first - 1].table and not _is_sentence(lines[first - 1].text):
            first -= 1  # the agency's line before '2023年…报告', or the line a PDF wrapped before '作年度报告'
        if last + 1 < len(lines) and _DATE_LINE.match(lines[last + 1].text):
            last += 1
        text = "\n".join(_unmarked(ln.text) for ln in lines[first : last + 1])
        out.append(Section("title", "", text, _span(lines[first], lines[last])))
        title_end = last + 1
    start = before
    while start > title_end and _wrapped_prose(lines[start - 1]):  # the sentence's lines before it (PDF)
        start -= 1
    body = [i for i in range(start, len(lines)) if not lines[i].table]
    if complete and body:
        text = "\n".join(lines[i].text for i in body)
        out.append(Section("opening", "", text, _span(lines[body[0]], lines[len(lines) - 1])))
    return out


def _wrapped_prose(line: _Line) -> bool:
    """A line of prose wrapped before its first punctuation (a PDF's narrow column), not a page's chrome
    ('来源:平潭县人民政府时间:…'), a title or a numbered line of a table of contents."""
    text = line.text
    if line.table or len(text) < 15 or _CHROME_FIELD.match(text) or _is_title(text):
        return False
    return not _NUMBERED.match(unicodedata.normalize("NFKC", _unmarked(text)))  # a contents line


def _is_title(text: str) -> bool:
    """A line of the report's title ('…2023年政府信息公开工作年度报告', or its end a PDF wrapped: '作年度报告'):
    no sentence, no 《citation》 (the opening's '本报告根据《…年度报告格式》')."""
    if len(text) > 80 or "《" in text or _PUNCTUATION.search(text) or "年" not in text:
        return False
    return "年度报告" in text or "工作报告" in text or _TITLE_END.search(text) is not None


def _is_sentence(text: str) -> bool:
    """Prose of the opening, not a page's chrome ('来源:…', '文件下载'): a sentence of some length."""
    return len(text) >= 10 and bool(_SENTENCE.search(unicodedata.normalize("NFKC", text)))


def _span(first: _Line, last: _Line) -> str:
    """Provenance of a run of lines: 'line 5–10', 'paragraph 9–14', 'page 2 line 3 – page 3 line 9'."""
    if first.source == last.source:
        return first.source
    a, b = first.source.rsplit(" ", 1), last.source.rsplit(" ", 1)
    if a[0] == b[0] and a[1].isdigit() and b[1].isdigit():
        return f"{first.source}–{b[1]}"
    return f"{first.source} – {last.source}"
