"""PDF -> rows of printed cells: ruled tables as grids (pdfplumber), the other text as space-separated lines.

Grids keep each printed cell whole (a label printed vertically is one cell, a number stays under its
column, a blank cell stays a blank), so they are preferred; a page without ruling lines falls back to text
lines, where number lines may precede their labels (handled by the core's orphan rule) and blank cells are
lost (the row is then missing, never shifted). Tables that go on across pages keep their grid: the rule a
page break leaves out is put back, and a row the break cut in two is joined again.
"""
from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import pdfplumber
from pdfplumber.utils.text import chars_to_textmap

from . import labels as L
from .core import NUMBER, VALUE, TextCell, classify
from .encoding import InputError
from .text import PAGE_NUMBER, space_cells

MAX_PAGES = 300   # a report has a few dozen pages at most; more is not a report and would take minutes


@dataclass
class PdfContent:
    """What a PDF yields: rows in reading order, plain text for the title, and what the pages hold."""
    lines: list[list[TextCell]]
    text: str
    chars: int
    has_images: bool


EDGE_TOLERANCE = 3          # points: a rule this close to a y is at that y (pdfplumber's snap tolerance)


@dataclass
class _Row:
    """One row of a ruled table as printed on one page."""
    cells: list[str | None]                    # None where a merged cell covers the slot
    sources: list[str]
    spans: list[tuple[float, float] | None]    # each cell's (x0, x1): a row cut by a page break is joined by position


@dataclass
class _Grid:
    """One ruled table as printed on one page."""
    rows: list[_Row]

    def lines(self) -> list[list[TextCell]]:
        """Every row that prints something. An empty cell is a blank value when a number is printed in its
        column, or when it follows its row's label in a row of values ('规章 | | 5 | 8'); elsewhere it is
        an unused label slot (left of a label, or in a header) and left out."""
        first_numeric = min((k for row in self.rows for k, c in enumerate(row.cells) if c and NUMBER.match(c)),
                            default=len(self.rows[0].cells) if self.rows else 0)
        lines = []
        for row in self.rows:
            keep_from = min(first_numeric, _values_from(row.cells))
            line = [TextCell(c, source) for k, (c, source) in enumerate(zip(row.cells, row.sources))
                    if c is not None and (c or k >= keep_from)]
            if line:
                lines.append(line)
        return lines


def _values_from(cells: list[str | None]) -> int:
    """Where a row's value slots start: 0 in a row of values only, after the label in a row of one label
    and values, never (a large number) in a row of labels such as a header."""
    printed = [(k, c) for k, c in enumerate(cells) if c]
    if not printed:
        return len(cells)
    first, rest = printed[0], printed[1:]
    if classify(first[1])[0] == VALUE:
        return 0
    return first[0] + 1 if all(classify(c)[0] == VALUE for _, c in rest) else len(cells)


def _cell_text(text: str | None) -> str:
    """A grid cell's text with its line breaks as spaces: '结果\\n维持' matches, '1\\n2' stays two numbers."""
    return " ".join((text or "").split())


def _covered(edges: list[dict], x0: float, x1: float) -> float:
    """How much of [x0, x1] the horizontal edges cover."""
    spans = sorted((max(e["x0"], x0), min(e["x1"], x1)) for e in edges if e["x1"] > x0 and e["x0"] < x1)
    total, reach = 0.0, x0
    for a, b in spans:
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return total


def _open_ends(page) -> list[dict]:
    """The missing top or bottom rule of a table that the page's edge cuts.

    Browsers and word processors draw a row's rule once, on the page where it falls: a table going on
    from the last page has vertical rules that start at nothing, and so has a row cut at the page's foot.
    Without the rule pdfplumber finds no cell there and the row falls to text lines, losing its blank
    cells. Returned as line objects for pdfplumber's explicit_horizontal_lines."""
    edges = page.edges
    vertical = [e for e in edges if e["orientation"] == "v" and e["height"] > EDGE_TOLERANCE]
    if not vertical:
        return []
    horizontal = [e for e in edges if e["orientation"] == "h"]
    ends = []
    for side, y in (("top", min(e["top"] for e in vertical)), ("bottom", max(e["bottom"] for e in vertical))):
        at = [e for e in vertical if abs(e[side] - y) <= EDGE_TOLERANCE]
        x0, x1 = min(e["x0"] for e in at), max(e["x1"] for e in at)
        rules = [e for e in horizontal if abs(e["top"] - y) <= EDGE_TOLERANCE]
        if len(at) >= 2 and _covered(rules, x0, x1) < (x1 - x0) / 2:
            ends.append({"object_type": "line", "x0": x0, "x1": x1, "top": y, "bottom": y,
                         "width": x1 - x0, "height": 0})
    return ends


def _page_items(page, number: int) -> list[tuple[float, _Grid | list[TextCell]]]:
    """(top, item) for every ruled table (a _Grid) and every text line outside the tables of one page."""
    ends = _open_ends(page)
    settings = {"explicit_horizontal_lines": ends} if ends else {}
    items: list[tuple[float, _Grid | list[TextCell]]] = []
    outside = page
    for t, table in enumerate(page.find_tables(settings), 1):
        outside = outside.outside_bbox(table.bbox)
        rows = [_Row([None if c is None else _cell_text(c) for c in cells],
                     [f"page {number} table {t} row {r} col {k}" for k in range(1, len(cells) + 1)],
                     [None if box is None else (box[0], box[2]) for box in row.cells])
                for r, (cells, row) in enumerate(zip(table.extract(), table.rows), 1)]
        items.append((table.bbox[1], _Grid(rows)))
    for n, tl in enumerate(_text_lines(outside), 1):
        if PAGE_NUMBER.match(tl["text"]):
            continue
        cells = space_cells(tl["text"])
        source = f"page {number} line {n}"
        line = [TextCell(c, source if len(cells) == 1 else f"{source} col {k}") for k, c in enumerate(cells, 1)]
        if line:
            items.append((tl["top"], line))
    return sorted(items, key=lambda it: it[0])


def _text_lines(page) -> list[dict]:
    """The page's text lines, grouped by baseline: a title's digits set in another font than its Chinese
    (Times New Roman beside 宋体) have another top, and grouped by top they fell on a line of their own."""
    chars = []
    for c in page.chars:
        a, b, cc, d, _, baseline = c["matrix"]
        if c["upright"] and b == 0 == cc and d > 0:
            top = c["top"] + c["y1"] - baseline - c["size"]    # top + y1 is the page's height: the same
            c = {**c, "top": top, "bottom": top + c["size"]}     # top for every font on one baseline
        chars.append(c)
    return chars_to_textmap(chars).extract_text_lines(return_chars=False) if chars else []


def _under(spans: list[tuple[float, float] | None], span: tuple[float, float] | None) -> int | None:
    """The slot of `spans` whose cell lies under the middle of `span` (the same column on another page)."""
    if span is None:
        return None
    middle = (span[0] + span[1]) / 2
    return next((j for j, s in enumerate(spans) if s and s[0] <= middle <= s[1]), None)


def _rest_of_row(last: _Row, first: _Row) -> list[int | None] | None:
    """Where each cell of `first`, the first row of a table at the top of a new page, goes in `last`, the
    last row of the page before, when `first` is the rest of `last` cut in two by the page break (word
    processors break rows across pages by default); None when it is a row of its own.

    It is the rest when every printed cell lies under a cell of the last row, its first text starts no
    label of its own, and no slot is printed on both sides except text continuing text (a wrapped label):
    a row of its own, or a header followed by its values, prints a value against something in the same
    column. The tail of a long label ('由逾期不补正、行政机关不再处理其政府信息公开申请') may match that label
    by itself: it starts a row only if it has an item number or does not continue the text above it."""
    printed = [(k, c) for k, c in enumerate(first.cells) if c]
    slots = [_under(last.spans, span) for span in first.spans]
    if not printed or any(slots[k] is None for k, _ in printed):
        return None
    k, text = printed[0]
    if _starts_row(last.cells[slots[k]] or "", text):
        return None
    for k, b in printed:
        a = last.cells[slots[k]]
        if a and VALUE in (classify(a)[0], classify(b)[0]):
            return None
    return slots


def _starts_row(above: str, text: str) -> bool:
    """Whether `text` is a label of its own rather than the rest of the label `above` it."""
    label = classify(text)[1]
    return bool(label) and (bool(L.ITEM_PREFIX.match(L.normalize(text))) or L.match(above + text) != label)


def _join(last: _Row, first: _Row, slots: list[int | None]) -> None:
    """Append `first` (the rest of `last` on the next page) to `last`, cell by cell."""
    for b, source, j in zip(first.cells, first.sources, slots):
        if b and j is not None:
            a = last.cells[j]
            last.cells[j] = f"{a} {b}" if a else b
            last.sources[j] = f"{last.sources[j]} + {source}" if a else source


@contextmanager
def _reading(path: str, what: str) -> Iterator[None]:
    """pdfminer raises many unrelated types on corrupt or encrypted files: any of them is `what` failing
    (InputError unreadable-file), except a MemoryError, which is the memory cap (parse.limits) and not
    the file's fault. pdfplumber re-raises pdfminer's errors as PdfminerException(e): it is unwrapped."""
    try:
        yield
    except Exception as e:
        cause: BaseException | None = e
        while cause is not None:
            if isinstance(cause, MemoryError):
                raise cause
            cause = cause.__cause__ or cause.__context__
        raise InputError("unreadable-file", path, f"{what}({type(e).__name__}: {e})") from None


def read_pdf(data: bytes, path: str) -> PdfContent:
    """Rows of every page in reading order; raises InputError when the PDF cannot be opened."""
    with _reading(path, "PDF 无法打开"):
        pdf = pdfplumber.open(io.BytesIO(data))
    with pdf:
        with _reading(path, "PDF 页面无法读取"):
            pages = pdf.pages
        if len(pages) > MAX_PAGES:
            raise InputError("file-too-large", path, f"PDF 共 {len(pages)} 页,超过 {MAX_PAGES} 页上限")
        items: list[_Grid | list[TextCell]] = []
        chars, images = 0, False
        last_item = None        # the last page's last row or table
        for number, page in enumerate(pages, 1):
            with _reading(path, f"PDF 第 {number} 页无法读取"):   # a corrupt content stream
                chars += len(page.chars)
                images = images or bool(page.images)
                page_items = [item for _, item in _page_items(page, number)] if page.chars else []
            page.close()
            first = page_items[0] if page_items else None
            if isinstance(last_item, _Grid) and isinstance(first, _Grid) and last_item.rows and first.rows:
                slots = _rest_of_row(last_item.rows[-1], first.rows[0])
                if slots:
                    _join(last_item.rows[-1], first.rows.pop(0), slots)
            items += page_items
            last_item = page_items[-1] if page_items else None
    lines = [line for item in items for line in (item.lines() if isinstance(item, _Grid) else [item])]
    text = "\n".join(" ".join(c.text for c in row) for row in lines)   # for the title: one line per row
    return PdfContent(lines, text, chars, images)
