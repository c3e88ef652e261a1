"""Layout-independent core of the parser: rows of printed cells -> the three statutory tables.

Every input kind (text layouts, HTML and Word tables, PDF text) is first turned into `lines`: a list of
rows, each a list of TextCell in reading order, with provenance. `parse_lines` recognises the
section headings and row labels and assembles a ParsedReport; it never invents a number.

How values find their label (one assembler for every layout):
- inline: the value cells after a row label in the same row (pipe rows, HTML rows, PDF grids);
- forward: when the label's row has none, the following rows made only of values (one cell per line,
  one cell per paragraph, a PDF number line printed under its label);
- orphan: a PDF number line printed *above* its label (vertically centred labels) is kept until the
  next label that has no values of its own takes it;
- table 四: by position, the 15 values after its headers; or, where a converter prints each group as
  a row ('行政复议 | 2 | 0 | 0 | 0 | 2'), each group's five after its label, and nothing by position.
A row whose values cannot be separated unambiguously is left out and listed as missing. Numbers that no
row takes (a number line no label took, a lone number after a row that has its values) mean the cells
did not come as label then values (text a PDF gave in reading order, a number wrapped in a narrow
column): their whole table is left out (values-unplaced), as which number is whose cannot be told.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .. import schema as S
from ..model import Cell, ParsedReport, Value
from . import labels as L
from .metadata import PageFacts, publication_date, read_metadata
from .sections import split_sections


@dataclass(slots=True)  # not frozen: a frozen dataclass is built 2.5x slower, and a page makes hundreds
class TextCell:
    text: str  # as printed (stripped of surrounding whitespace only)
    source: str  # provenance, e.g. 'line 37', 'table 2 row 5 col 3', 'page 2 line 14'


VALUE, LABEL, JUNK, TEXT = "value", "label", "junk", "text"
NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
WITH_UNIT = re.compile(r"^[+-]?\d[\d.,]*\s*(?:件|个|项|条|次|人|份|家|万元|元|万)$")  # '3件': a value, kept as text
VALUE_WORDS = frozenset({"无", "暂无", "空", "不适用"})
_CJK = re.compile(r"[\u4e00-\u9fff]")
_DIGIT = re.compile(r"\d")
APPLICANTS = len(S.APPLICANT_COLUMNS)
REVIEW_WIDTH = len(S.REVIEW_GROUPS) * len(S.REVIEW_OUTCOMES)
# Column names a converter gives when it found none ('数据1', '列1', 'Column 1', pandas' 'Unnamed: 0'):
# header text, never a value, even where (in Latin letters) it is short and without Chinese.
GENERIC_COLUMN = re.compile(r"^(?:数据|列|栏|字段|第|col(?:umn)?|unnamed:?|field)\s*\d{1,2}\s*列?$", re.I)
LONE_NUMBER = re.compile(r"^\s*\d{1,3}\s*$")  # a number alone on its line that may be a page number
SECTION_TABLES = {"2": "active", "3": "applications", "4": "review"}  # heading number -> its table
TABLE_NAMES = {"active": "active_disclosure", "applications": "applications", "review": "review_litigation"}
JSON_TABLE = {"active": "active", "applications": "applications", "review": "review_litigation"}


@dataclass
class ColumnCheck:
    """What tables headed by generic column names ('数据1', '列1') tell once their column count is checked
    against the statutory tables (text.py): the format versions the counts imply (a table-二 row with one
    value column is 2021's, with two a 2019 fee's), and the tables whose count matches no statutory one,
    whose columns are therefore unknown (table -> where, with the counts)."""

    versions: set[str] = field(default_factory=set)
    unmatched: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Tok:
    """One classified cell: kind value | label | junk | text."""

    kind: str
    cell: TextCell
    row: int
    label: L.Label | None = None
    blank: bool = False


@lru_cache(maxsize=1 << 16)
def classify(text: str) -> tuple[str, L.Label | None]:
    """Kind of one printed cell: a value (number, blank, '/', '无' ...), a label, junk or other text."""
    t = unicodedata.normalize("NFKC", text).strip()
    if not t or NUMBER.match(t) or WITH_UNIT.match(t):
        return VALUE, None
    lab = L.match(text)
    if lab:
        return LABEL, lab
    if t in VALUE_WORDS or (len(t) <= 12 and not _CJK.search(t) and not GENERIC_COLUMN.match(t)):
        return VALUE, None
    if len(L.normalize(t)) <= 1:  # one character of a label printed vertically (三 / 、 / 本 ...)
        return JUNK, None
    return TEXT, None


@lru_cache(maxsize=1 << 16)
def parse_value(text: str) -> Value:
    """The value of a printed cell: int or float when numeric, None when blank, else the text as printed."""
    t = unicodedata.normalize("NFKC", text).strip()
    if not t:
        return None
    if NUMBER.match(t):
        t = t.replace(",", "")
        return float(t) if "." in t else int(t)
    return text.strip()


@lru_cache(maxsize=1 << 12)
def _run_together_hits(text: str) -> int:
    """Runs of 'label immediately followed by digits' in one text cell."""
    return len(L.RUN_TOGETHER.findall(L.normalize(text))) if _DIGIT.search(text) else 0


@lru_cache(maxsize=1 << 16)
def _token_kind(text: str) -> tuple[str, L.Label | None, bool]:
    """(kind, label, blank) of a printed cell; cached, as the same numbers and labels recur in every report."""
    kind, lab = classify(text)
    return kind, lab, kind == VALUE and not text.strip()


_PLAIN_NUMBER = (VALUE, None, False)


def _is_plain_number(text: str) -> bool:
    """ASCII digits only: most printed cells. They skip the caches, which they would only flood."""
    return text.isdigit() and text.isascii()


def _tokens(lines: list[list[TextCell]]) -> list[Tok]:
    """Every printed cell classified, with its row number."""
    return [
        Tok(kind, cell, r, lab, blank)
        for r, row in enumerate(lines)
        for cell in row
        for kind, lab, blank in (_PLAIN_NUMBER if _is_plain_number(cell.text) else _token_kind(cell.text),)
    ]


def _align(vals: list[Tok], k: int) -> list[Tok] | None:
    """Exactly k values out of a longer run whose surplus is blank: at the end (colspan fillers follow
    their cell in every layout), else at the start (a grid's empty label column); None otherwise."""
    if len(vals) <= k:
        return vals if len(vals) == k else None
    if all(v.blank for v in vals[k:]):
        return vals[:k]
    if all(v.blank for v in vals[:-k]):
        return vals[-k:]
    return None


@dataclass
class _Orphan:
    """A PDF number line waiting for the label printed below it."""

    vals: list[Tok]
    ambiguous: bool  # right after a numbered label we could not match: it may be that label's line


class _Assembler:
    """One pass over the tokens, filling the three tables; see the module docstring."""

    def __init__(self, toks: list[Tok], columns: ColumnCheck | None = None):
        self.toks = toks
        self.columns = columns or ColumnCheck()
        self.row_end: dict[int, int] = {}
        self.pure: dict[int, bool] = {}
        row_end, pure = self.row_end, self.pure
        for i, t in enumerate(toks, start=1):
            row_end[t.row] = i
            if t.kind in (VALUE, JUNK):
                pure.setdefault(t.row, True)
            else:
                pure[t.row] = False
        self.version, self.version_conflict = self._decide_version()
        self.sub_rows_printed = any(t.label and t.label.kind == "row" and t.label.key in S.OTHER_SUB_ROWS for t in toks)
        self.review_rows_printed = self._review_rows_printed()
        self.found: dict[str, dict[str, list[Tok]]] = {"active": {}, "applications": {}, "review": {}}
        self.problems: dict[str, str] = {}
        self.labels_seen: set[str] = set()
        self.headings: set[str] = set()
        self.run_together: list[str] = []
        self.review_mode = False
        self.orphan: _Orphan | None = None
        self.region: str | None = None  # the table whose section or rows are being read
        self.strays: dict[str, list[str]] = {}  # table -> sources of numbers no row took
        self.strayed: dict[str, list[str]] = {}  # tables left unread for them (JSON names)
        self.lone: list[tuple[int, str | None, str]] = []  # lone numbers no row took: (value, table, source)
        self.unmatched: dict[str, str] = {}  # tables left unread as their generic columns match none (JSON names)

    def _decide_version(self) -> tuple[str | None, bool]:
        """Format of table 二 from the headers, blocks and rows only one format prints, and from the column
        counts of its rows under generic column names."""
        seen = {t.label.version for t in self.toks if t.label and t.label.table == "active" and t.label.version}
        seen |= self.columns.versions
        if len(seen) == 1:
            return seen.pop(), False
        return None, len(seen) > 1

    def _review_rows_printed(self) -> bool:
        """Whether table 四 prints its groups as row labels, each with its values after it ('行政复议 | 2 | 0
        | 0 | 0 | 2', one small table per group): then a value row without a group label is no group's, as
        which group's it is cannot be told (a group's table may be lost), so it is not read by position."""
        return any(self._group_values(i) is not None for i, t in enumerate(self.toks) if L.review_group(t.label))

    def _group_values(self, i: int) -> list[Tok] | None:
        """The values after the table-四 group label at token i when they end its row, and are a group's
        five or hold a number (not a header row's blank fillers: '行政复议 | | | | |'); else None."""
        got, j = self._inline(i)
        if not got or j < self.row_end[self.toks[i].row]:
            return None
        return got if _align(got, len(S.REVIEW_OUTCOMES)) or any(not v.blank for v in got) else None

    def run(self) -> None:
        i, n = 0, len(self.toks)
        while i < n:
            t = self.toks[i]
            if self.pure[t.row] and (i == 0 or self.toks[i - 1].row != t.row):
                i = self._pure_row(i)
                continue
            if t.kind == TEXT:
                self._check_run_together(t)
                self._drop_orphan()
            elif t.kind == LABEL:
                lab = t.label
                self.region = SECTION_TABLES.get(lab.key) if lab.kind == "heading" else lab.table or self.region
                if lab.kind == "row" or (lab.kind == "group" and lab.key == "other" and not self.sub_rows_printed):
                    i = self._row(i)
                    continue
                if self.review_rows_printed and L.review_group(lab):
                    j = self._review_row(i)
                    if j is not None:
                        i = j
                        continue
                if lab.kind == "heading":
                    self.headings.add(lab.key)
                    self.review_mode = lab.key == "4" and "review" not in self.labels_seen
                    self._drop_orphan()
                elif lab.kind in ("header", "block"):
                    if lab.table == "review" and "review" not in self.labels_seen:
                        self.review_mode = True
                    self._drop_orphan()
            i += 1
        self._drop_orphan()

    def _drop_orphan(self) -> None:
        """Give up the number line waiting for a label: no label took it, so its numbers are strays, unless
        they follow a numbered label we could not match (they are that row's, which is missing)."""
        if self.orphan and not self.orphan.ambiguous:
            self._stray(self.orphan.vals)
        self.orphan = None

    def _stray(self, vals: list[Tok]) -> None:
        """Record printed numbers that no row took, in the table being read (see _drop_strayed_tables); a
        lone small number anywhere may be a page number, and is noted as one that might be."""
        printed = [v for v in vals if not v.blank]
        if len(printed) == 1 and LONE_NUMBER.match(printed[0].cell.text):
            self.lone.append((int(printed[0].cell.text.strip()), self.region, printed[0].cell.source))
        if self.region and any(_DIGIT.search(v.cell.text) for v in vals):  # not '、' of a vertical label
            self.strays.setdefault(self.region, []).append(vals[0].cell.source)

    def _check_run_together(self, t: Tok) -> None:
        """Record a text cell where a label runs into its digits ('规章000行政规范性文件6233440')."""
        if _run_together_hits(t.cell.text):
            self.run_together.append(t.cell.source)

    def _review_row(self, i: int) -> int | None:
        """A table-四 group label with its values after it, ending its row: the group's five values (the
        next token's index); the group missing, with the count, when they are not five; None when the row
        is no group's (a header row: '行政复议 | 行政诉讼')."""
        got = self._group_values(i)
        if got is None:
            return None
        self._drop_orphan()
        self.labels_seen.add("review")
        self.review_mode = False
        group, width = L.review_group(self.toks[i].label), len(S.REVIEW_OUTCOMES)
        vals = _align(got, width)
        if vals is None:
            self.problems.setdefault(
                f"review_litigation.{group}", f"{self.toks[i].cell.source}: 找到 {len(got)} 个数值,应为 {width} 个"
            )
        else:
            self.found["review"].setdefault(group, vals)
        return self.row_end[self.toks[i].row]

    def _pure_row(self, i: int) -> int:
        """A row of values only: table 四's data (with the value rows after it), or a PDF number line
        waiting for its label."""
        if self.review_mode and not self.review_rows_printed:
            got, j = self._forward(i, [], None)
            if any(not v.blank for v in got):  # blank rows before the headers are not the data
                self.review_mode = False
                self.labels_seen.add("review")
                self._store_review(got)
            return j
        end = self.row_end[self.toks[i].row]
        vals = [t for t in self.toks[i:end] if t.kind == VALUE]
        if sum(not v.blank for v in vals) >= 2:
            self._drop_orphan()
            self.orphan = _Orphan(vals, self._after_unknown_label(i))
        elif not self._after_unknown_label(i):
            self._stray(vals)
        return end

    def _after_unknown_label(self, i: int) -> bool:
        """Whether the text just before row i looks like a numbered label we could not match."""
        for j in range(i - 1, -1, -1):  # by index: a slice of the tokens before every number line is quadratic
            t = self.toks[j]
            if t.kind == JUNK:
                continue
            return t.kind == TEXT and bool(L.ITEM_PREFIX.match(L.normalize(t.cell.text))) and len(t.cell.text) <= 40
        return False

    def _row(self, i: int) -> int:
        """Collect the values of the row label at token i; returns the next token index."""
        lab = self.toks[i].label
        table, key = lab.table, lab.key
        self.labels_seen.add(table)
        width = APPLICANTS if table == "applications" else L.widths(self.version).get(key) if self.version else None
        got, j = self._inline(i)
        if width is None:
            self.problems.setdefault(self._name(table, key), "unknown-format")
            self._drop_orphan()
            return j
        if not got and (j >= len(self.toks) or self.toks[j].row != self.toks[i].row):
            taken = _align(self.orphan.vals, width) if self.orphan and not self.orphan.ambiguous else None
            if taken:
                self.orphan = None
                self._store(table, key, taken)
                return j
            got, j = self._forward(j, got, width)
            if not got:
                got, j = self._continued(j, self.toks[i], width)
        self._drop_orphan()
        vals = _align(got, width)
        if vals is None:
            where = self.toks[i].cell.source
            self.problems.setdefault(self._name(table, key), f"{where}: 找到 {len(got)} 个数值,应为 {width} 个")
        else:
            self._store(table, key, vals)
        return j

    def _inline(self, i: int) -> tuple[list[Tok], int]:
        """The values printed after token i in its own row."""
        row, j, got = self.toks[i].row, i + 1, []
        while j < len(self.toks) and self.toks[j].row == row and self.toks[j].kind in (VALUE, JUNK):
            if self.toks[j].kind == VALUE:
                got.append(self.toks[j])
            j += 1
        return got, j

    def _forward(self, j: int, got: list[Tok], width: int | None) -> tuple[list[Tok], int]:
        """Append the values of the following value-only rows until `width` values (None: all) are collected."""
        got = list(got)  # extended in place below (a new list per row is quadratic in table 四's rows)
        while (width is None or len(got) < width) and j < len(self.toks):
            row = self.toks[j].row
            if not self.pure[row]:
                break
            got.extend(t for t in self.toks[j : self.row_end[row]] if t.kind == VALUE)
            j = self.row_end[row]
        return got, j

    def _continued(self, j: int, label: Tok, width: int) -> tuple[list[Tok], int]:
        """PDF text: a label wrapped over lines with its values on a later line ('1、申请人无正当理由逾期不补'
        / '正、行政机关不再处理其政府信 67 3 0 0 1 0 71'); only lines that continue the label's printed form
        are read, and pieces of a wrapped group label between them are skipped."""
        text = L.normalize(label.cell.text)
        while j < len(self.toks):
            row, first = self.toks[j].row, self.toks[j]
            rest = self.toks[j + 1 : self.row_end[row]]
            if first.kind != TEXT or any(t.kind != VALUE for t in rest):
                break
            piece = L.normalize(first.cell.text)
            if L.continues(label.label, text + piece):
                text += piece
                if rest:
                    return rest, self.row_end[row]
            elif rest or not L.is_group_fragment(piece):
                break
            j = self.row_end[row]
        return [], j

    def _name(self, table: str, key: str) -> str:
        """'table.row' as listed in ParsedReport.missing."""
        return f"{JSON_TABLE[table]}.{_json_active_key(self.version, key) if table == 'active' else key}"

    def _store(self, table: str, key: str, vals: list[Tok]) -> None:
        """Keep a row's values; the first complete printing of a row wins."""
        self.found[table].setdefault(key, vals)
        self.problems.pop(self._name(table, key), None)

    def _store_review(self, vals: list[Tok]) -> None:
        """Table 四's values (all value rows after its headers): 15 cells once blank fillers are set
        aside; cut short, the complete groups. Only when every row holds whole groups, or (all 15 there)
        every line one value: a row of 14 has lost a blank somewhere (PDF text drops blank cells), and
        rows of 1, 13 and 1 are a number wrapped above and below a row that lost a blank, 15 by chance;
        which value is whose is unknown."""
        width = len(S.REVIEW_OUTCOMES)
        short = len(vals) < REVIEW_WIDTH
        aligned = vals if short else _align(vals, REVIEW_WIDTH)
        per_row = Counter(v.row for v in aligned or vals).values()
        if aligned is None or not (all(n % width == 0 for n in per_row) or (not short and set(per_row) == {1})):
            found = (
                f"找到 {len(vals)} 个数值,应为 {REVIEW_WIDTH} 个"
                if aligned is None or short
                else f"{REVIEW_WIDTH} 个数值分在 {len(per_row)} 行(各 {'、'.join(map(str, per_row))} 个),"
                f"不成整组,对应无法确定"
            )
            self.problems["review_litigation"] = f"{vals[0].cell.source}: {found}"
            return
        vals = aligned
        for g, (group, _) in enumerate(S.REVIEW_GROUPS):
            part = vals[g * width : (g + 1) * width]
            if len(part) == width:
                self.found["review"][group] = part


def _drop_strayed_tables(asm: _Assembler) -> None:
    """A table with numbers that no row took is not read at all: its cells came in another order than
    label then values (text extracted from a PDF in reading order, numbers wrapped in narrow columns),
    and which number belongs to which row cannot be told. Page numbers are no such numbers: lone numbers
    that go up by one through the document (2, 3, 4 where tables cross pages) are set aside first."""
    pages = _page_numbers(asm.lone)
    for table, sources in asm.strays.items():
        sources = [s for s in sources if s not in pages]
        if sources and asm.found[table]:
            asm.found[table].clear()
            asm.strayed[JSON_TABLE[table]] = sources


def _drop_unmatched_tables(asm: _Assembler) -> None:
    """A table with rows under generic column names whose count matches no statutory table is not read at
    all: which printed column each number stands in cannot be told."""
    for table, where in asm.columns.unmatched.items():
        asm.found[table].clear()
        asm.unmatched[JSON_TABLE[table]] = where


def _page_numbers(lone: list[tuple[int, str | None, str]]) -> set[str]:
    """Sources of the longest run of lone numbers that go up by one in document order (page numbers a
    text kept without its page breaks), when it has two numbers at least. One pass: a file of number
    lines is linear, not quadratic."""
    ends: dict[int, tuple[int, int]] = {}  # value -> (length, index) of the longest run ending in it so far
    before: list[int | None] = []  # per lone number: the one before it in its run
    for i, (value, _, _) in enumerate(lone):
        previous = ends.get(value - 1)
        before.append(previous[1] if previous else None)
        length = previous[0] + 1 if previous else 1
        if length > ends.get(value, (0, -1))[0]:
            ends[value] = (length, i)
    length, i = max(ends.values(), default=(0, None))
    run: set[str] = set()
    while length >= 2 and i is not None:
        run.add(lone[i][2])
        i = before[i]
    return run


def _app_keys(asm: _Assembler) -> tuple[str, ...]:
    """Row keys of table 三: (六) as one row (2019, or the 2021 deviation) or as three sub-rows."""
    single = "other" in asm.found["applications"] or (asm.version == S.FORMAT_2019 and not asm.sub_rows_printed)
    return S.APPLICATION_ROW_KEYS_SINGLE if single else S.APPLICATION_ROW_KEYS_SUBROWS


def _active_keys(version: str) -> list[str]:
    """Row keys of table 二 in printed order for one format version."""
    return list(L.widths(version))


def _json_active_key(version: str, key: str) -> str:
    """The corpus JSON key of a table-二 row (the 2021 fee row is 'fees_10k_yuan')."""
    return "fees_10k_yuan" if version == S.FORMAT_2021 and key == "fees" else key


def _tables(asm: _Assembler) -> tuple[dict[str, Any], dict[str, Any] | None, list[Cell]]:
    """The corpus JSON shape of what was found, the 2019 table 二, and one Cell per value."""
    cells: list[Cell] = []

    def cell(table: str, column: str, tok: Tok) -> Value:
        text = tok.cell.text
        v = int(text) if _is_plain_number(text) else parse_value(text)
        cells.append(Cell(TABLE_NAMES[table], column, text.strip(), v, tok.cell.source))
        return v

    active = None
    if asm.found["active"] and asm.version:
        spec = S.ACTIVE_2021 if asm.version == S.FORMAT_2021 else S.ACTIVE_2019
        column = {(k, i): c for k, i, c, _ in spec}
        width = L.widths(asm.version)
        active = {}
        for key in _active_keys(asm.version):
            if key in asm.found["active"]:
                jkey = _json_active_key(asm.version, key)
                vals = [
                    cell("active", column[(jkey, i if width[key] > 1 else None)], t)
                    for i, t in enumerate(asm.found["active"][key])
                ]
                active[jkey] = vals if width[key] > 1 else vals[0]
    apps = {
        k: [
            cell("applications", S.app_col(k, c), t)
            for t, (c, _) in zip(asm.found["applications"][k], S.APPLICANT_COLUMNS)
        ]
        for k in _app_keys(asm)
        if k in asm.found["applications"]
    }
    outcomes = [o for o, _ in S.REVIEW_OUTCOMES]
    review = {
        g: [cell("review", f"{g}_{o}", t) for t, o in zip(asm.found["review"][g], outcomes)]
        for g, _ in S.REVIEW_GROUPS
        if g in asm.found["review"]
    }
    tables = {
        "active": active if asm.version == S.FORMAT_2021 else None,
        "applications": apps or None,
        "review_litigation": review or None,
    }
    return tables, (active if asm.version == S.FORMAT_2019 else None), cells


def _missing(asm: _Assembler, tables: dict[str, Any], active_2019: dict | None) -> list[str]:
    """What a partial parse lacks: whole tables by name, else 'table.row' for each absent row."""
    out = []
    active = tables["active"] if asm.version != S.FORMAT_2019 else active_2019
    if not active:
        out.append("active")
    else:
        out += [
            f"active.{_json_active_key(asm.version, k)}"
            for k in _active_keys(asm.version)
            if _json_active_key(asm.version, k) not in active
        ]
    apps = tables["applications"]
    out += ["applications"] if not apps else [f"applications.{k}" for k in _app_keys(asm) if k not in apps]
    review = tables["review_litigation"]
    out += (
        ["review_litigation"]
        if not review
        else [f"review_litigation.{g}" for g, _ in S.REVIEW_GROUPS if g not in review]
    )
    return out


def _places(sources: Sequence[str]) -> str:
    """The first few of a list of sources, and how many in all."""
    return ", ".join(sources[:3]) + (f" 等共 {len(sources)} 处" if len(sources) > 3 else "")


def _unread_reason(asm: _Assembler, cut_off: Sequence[str]) -> str:
    """Why cells were left unread on purpose: numbers no row took, or generic column names whose count
    matches no statutory table; else cells cut off at a page's edge."""
    reasons = []
    if asm.strayed:
        reasons.append(
            "values-unplaced: 表格中有数值不在任何一行的标签之后,行与数值的对应无法确定,该表未读取 ("
            + "; ".join(f"{t}: {_places(s)}" for t, s in asm.strayed.items())
            + ")"
        )
    if asm.unmatched:
        reasons.append(
            "columns-unmatched: 表格用通用列名(数据1、列1 等)代替表头,且列数与法定表格不符,数值所在的列无法确定,"
            "该表未读取 (" + "; ".join(f"{t}: {w}" for t, w in asm.unmatched.items()) + ")"
        )
    if reasons:
        return "; ".join(reasons)
    if cut_off:
        return f"tables-cut-off: 表格超出页面边缘,部分单元格没有完整印在页面上,其所在行未读取 ({_places(cut_off)})"
    return ""


def _outcome(
    asm: _Assembler, missing: list[str], found_any: bool, has_images: bool, cut_off: Sequence[str]
) -> tuple[str, str]:
    """(status, reason) of the whole report."""
    if asm.run_together and missing:
        where = ", ".join(asm.run_together[:3])
        reason = f"cells-run-together: 表格单元格连在一起、没有分隔符,数值无法分开 ({where})"
        return ("partial" if found_any else "rejected"), reason
    if asm.version_conflict and "active" in missing:
        reason = "unknown-format: 表二的表头同时出现 2021 格式和 2019 (试行) 格式的栏目,无法判定格式版本"
        return ("partial" if found_any else "rejected"), reason
    unknown = [k for k, v in asm.problems.items() if v == "unknown-format"]
    if unknown and "active" in missing:
        reason = "unknown-format: 表二缺少可识别的表头,无法判定是 2021 格式还是 2019 (试行) 格式"
        return ("partial" if found_any else "rejected"), reason
    unread = _unread_reason(asm, cut_off)
    if not found_any:
        if unread:
            return "rejected", unread
        if has_images:
            return "rejected", "tables-are-images: 没有可读取的表格文字,表格可能是图片"
        seen = "找到了章节标题但没有任何统计行的数值" if asm.headings or asm.labels_seen else "没有找到表二、表三、表四"
        return "rejected", f"no-tables-found: {seen}"
    if not missing:
        return "parsed", ""
    problems = "; ".join(
        f"{k}: {asm.problems[k]}" for k in dict.fromkeys((*missing, "review_litigation")) if k in asm.problems
    )
    shown = ", ".join(missing[:5]) + (f" 等共 {len(missing)} 项" if len(missing) > 5 else "")
    detail = f"缺少 {shown}" + (f" ({problems})" if problems else "")
    if has_images and any("." not in m for m in missing):
        return "partial", f"tables-are-images: 部分表格没有可读取的文字,可能是图片; {detail}"
    if unread:
        return "partial", f"{unread}; {detail}"
    return "partial", f"tables-incomplete: {detail}"


@lru_cache(maxsize=1 << 16)
def section_cell_kind(text: str) -> str:
    """What sections.py needs to know of a printed line or cell to leave the tables out of the text:
    label (a statutory table's, or a converter's column name '列1'), number (or blank), word (a value
    word: '无', '/'; or one character of a vertical label) or text. Cached: cells recur in every report."""
    kind, lab = classify(text)
    if GENERIC_COLUMN.match(unicodedata.normalize("NFKC", text).strip()):
        return "label"
    if kind == LABEL:
        return "text" if lab.kind == "heading" else "label"
    if kind == VALUE:
        return "number" if not text.strip() or any(ch.isdigit() for ch in text) else "word"
    return "word" if kind == JUNK else "text"


def parse_lines(
    lines: list[list[TextCell]],
    *,
    source_file: str,
    sha256: str,
    text: str,
    has_images: bool = False,
    cut_off: Sequence[str] = (),
    columns: ColumnCheck | None = None,
    page: PageFacts | None = None,
) -> ParsedReport:
    """Assemble a ParsedReport from rows of printed cells; `text` is the plain text, for metadata (with
    `page`, what a web page's head says about it);
    `cut_off`, the sources of cells that run over a PDF page's edge (their rows are not read); `columns`,
    what the counts of generic columns tell (Markdown tables of converters)."""
    asm = _Assembler(_tokens(lines), columns)
    asm.run()
    _drop_strayed_tables(asm)
    _drop_unmatched_tables(asm)
    tables, active_2019, cells = _tables(asm)
    found_any = any(tables.values()) or bool(active_2019)
    missing = _missing(asm, tables, active_2019)
    status, reason = _outcome(asm, missing, found_any, has_images, cut_off)
    meta = read_metadata(text, page)
    version = asm.version or (S.FORMAT_2021 if asm.sub_rows_printed else None)
    deviations = ["other-single-row"] if version == S.FORMAT_2021 and "other" in (tables["applications"] or {}) else []
    return ParsedReport(
        source_file=source_file,
        source_sha256=sha256,
        status=status,
        reason=reason,
        missing=missing if status == "partial" else [],
        agency=meta.agency,
        region=meta.region,
        year=meta.year,
        format_version=version if found_any else None,
        deviations=deviations,
        tables=tables,
        active_2019=active_2019,
        cells=cells,
        sections=split_sections(lines, section_cell_kind),
        published=publication_date(text, page),
    )
