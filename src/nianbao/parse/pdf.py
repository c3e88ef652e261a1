"""PDF -> rows of printed cells: ruled tables as grids (pdfplumber), the other text as space-separated lines.

Grids keep each printed cell whole (a label printed vertically is one cell, a number stays under its
column, a blank cell stays a blank), so they are preferred; a page without ruling lines falls back to text
lines, where number lines may precede their labels (handled by the core's orphan rule) and blank cells are
lost (the row is then missing, never shifted). Tables that go on across pages keep their grid: the rule a
page break leaves out is put back, and a row the break cut in two is joined again.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pdfplumber
from pdfplumber.utils.text import chars_to_textmap, extract_text

from . import labels as L
from .core import NUMBER, VALUE, TextCell, classify
from .encoding import InputError, unify_ideographs
from .text import BARE_PAGE_NUMBER, PAGE_NUMBER, space_cells

# pdfminer warns through logging about fonts it reads anyway ('Could not get FontBBox from font
# descriptor', once a character in Chromium's prints): hundreds of lines a report on stderr, nothing to act on.
logging.getLogger("pdfminer").setLevel(logging.ERROR)

MAX_PAGES = 300  # a report has a few dozen pages at most; more is not a report and would take minutes


@dataclass
class PdfContent:
    """What a PDF yields: rows in reading order, plain text for the title, and what the pages hold."""

    lines: list[list[TextCell]]
    text: str
    chars: int
    has_images: bool
    undecoded: int  # characters whose font maps them to no Unicode text ('(cid:123)', private use)
    cut_off: list[str]  # sources of cells and lines that run over the page's edge (what shows is not all)


EDGE_TOLERANCE = 3  # points: a rule this close to a y is at that y (pdfplumber's snap tolerance)
CUT_OFF = "（超出页面边缘）"  # the text of a cell cut off by the page's edge: no value, so its row is not read
MARGIN_SHARE = 0.1  # of the page's height: where a header or footer stands, and no table's row
MAX_CELL_PADDING = 8  # points each side of a cell's text: Word and WPS 5.4 (0.19 cm), LibreOffice 5.5
WRAPPED_PART = re.compile(r"[0-9.,]+")  # what a number wrapped over lines goes on with


@dataclass
class _Row:
    """One row of a ruled table as printed on one page."""

    cells: list[str | None]  # None where a merged cell covers the slot
    sources: list[str]
    spans: list[tuple[float, float] | None]  # each cell's (x0, x1): a row cut by a page break is joined by position
    ends_full: list[bool] = field(default_factory=list)  # per cell: a number that may go on over the page
    open_end: bool = False  # the page's foot cuts the row (no rule under it): it goes on over the page


@dataclass
class _Grid:
    """One ruled table as printed on one page."""

    rows: list[_Row]

    def lines(self) -> list[list[TextCell]]:
        """Every row that prints something. An empty cell is a blank value when a number is printed in its
        column, or when it follows its row's label in a row of values ('规章 | | 5 | 8'); elsewhere it is
        an unused label slot (left of a label, or in a header) and left out."""
        first_numeric = min(
            (k for row in self.rows for k, c in enumerate(row.cells) if c and NUMBER.match(c)),
            default=len(self.rows[0].cells) if self.rows else 0,
        )
        lines = []
        for row in self.rows:
            keep_from = min(first_numeric, _values_from(row.cells))
            line = [
                TextCell(c, source)
                for k, (c, source) in enumerate(zip(row.cells, row.sources))
                if c is not None and (c or k >= keep_from)
            ]
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


def _cell_text(text: str | None, box: tuple[float, float, float, float] | None, chars: list[dict]) -> str:
    """A grid cell's text with its line breaks as spaces ('结果\\n维持' matches), except a number that its
    narrow column wrapped over lines, which is one number again ('2062\\n8' is 20628)."""
    lines = (text or "").split("\n")
    if (
        box
        and len(lines) > 1
        and all(WRAPPED_PART.fullmatch(line.strip()) for line in lines[1:])
        and NUMBER.match(lines[0].strip())
        and _wraps(box, chars)
    ):
        return "".join(line.strip() for line in lines)
    return " ".join((text or "").split())


def _in_box(c: dict, box: tuple[float, float, float, float]) -> bool:
    """Whether the middle of character `c` lies in `box`, as pdfplumber assigns characters to cells."""
    return box[0] <= (c["x0"] + c["x1"]) / 2 < box[2] and box[1] <= (c["top"] + c["bottom"]) / 2 < box[3]


def _text_lines_in(box: tuple[float, float, float, float], chars: list[dict]) -> list[list[dict]]:
    """The characters whose middle lies in `box` (as pdfplumber assigns them to cells), line by line."""
    inside = [c for c in chars if _in_box(c, box)]
    lines: list[list[dict]] = []
    for c in sorted(inside, key=lambda c: (round(c["top"]), c["x0"])):
        if lines and abs(lines[-1][0]["top"] - c["top"]) <= EDGE_TOLERANCE:
            lines[-1].append(c)
        else:
            lines.append([c])
    return lines


def _full(line: list[dict], box: tuple[float, float, float, float]) -> bool:
    """Whether a line of digits leaves no room in its cell for one more (the cell's padding aside): a word
    processor wraps a number only there."""
    width = max(c["x1"] for c in line) - min(c["x0"] for c in line)
    return width + (line[-1]["x1"] - line[-1]["x0"]) > box[2] - box[0] - 2 * MAX_CELL_PADDING


def _wraps(box: tuple[float, float, float, float], chars: list[dict]) -> bool:
    """Whether the lines printed in `box` are one number wrapped: every line but the last is full and as long
    as the first. Two numbers set one above the other in a wide cell leave room, and stay two."""
    lines = _text_lines_in(box, chars)
    if len(lines) < 2:
        return False
    width = [max(c["x1"] for c in line) - min(c["x0"] for c in line) for line in lines]
    return (
        all(_full(line, box) and abs(w - width[0]) <= EDGE_TOLERANCE for line, w in zip(lines[:-1], width))
        and width[-1] <= width[0] + EDGE_TOLERANCE
    )


def _ends_full(cell: str | None, box: tuple[float, float, float, float] | None, chars: list[dict]) -> bool:
    """Whether a number cell's last line is full: at a page's foot, the number may go on over the page."""
    if not (cell and box and NUMBER.match(cell)):
        return False
    lines = _text_lines_in(box, chars)
    return bool(lines) and _full(lines[-1], box)


def _covered(edges: list[dict], x0: float, x1: float) -> float:
    """How much of [x0, x1] the horizontal edges cover."""
    spans = sorted((max(e["x0"], x0), min(e["x1"], x1)) for e in edges if e["x1"] > x0 and e["x0"] < x1)
    total, reach = 0.0, x0
    for a, b in spans:
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return total


def _open_ends(page) -> dict[str, dict]:
    """The missing top or bottom rule of a table that the page's edge cuts, by side ('top', 'bottom').

    Browsers and word processors draw a row's rule once, on the page where it falls: a table going on
    from the last page has vertical rules that start at nothing, and so has a row cut at the page's foot.
    Without the rule pdfplumber finds no cell there and the row falls to text lines, losing its blank
    cells. Returned as line objects for pdfplumber's explicit_horizontal_lines."""
    edges = page.edges
    vertical = [e for e in edges if e["orientation"] == "v" and e["height"] > EDGE_TOLERANCE]
    if not vertical:
        return {}
    horizontal = [e for e in edges if e["orientation"] == "h"]
    ends = {}
    for side, y in (("top", min(e["top"] for e in vertical)), ("bottom", max(e["bottom"] for e in vertical))):
        at = [e for e in vertical if abs(e[side] - y) <= EDGE_TOLERANCE]
        x0, x1 = min(e["x0"] for e in at), max(e["x1"] for e in at)
        rules = [e for e in horizontal if abs(e["top"] - y) <= EDGE_TOLERANCE]
        if len(at) >= 2 and _covered(rules, x0, x1) < (x1 - x0) / 2:
            ends[side] = {
                "object_type": "line",
                "x0": x0,
                "x1": x1,
                "top": y,
                "bottom": y,
                "width": x1 - x0,
                "height": 0,
            }
    return ends


def _undecoded(c: dict) -> bool:
    """A character its font maps to no text: pdfminer's '(cid:123)', or a private-use code point."""
    t = c["text"]
    return t.startswith("(cid:") or (len(t) == 1 and "\ue000" <= t <= "\uf8ff")


def _unify(chars: list[dict]) -> None:
    """Each character's text as the unified ideograph the page prints ('⽆' -> '无', see unify_ideographs), in
    place: the tables, the text lines and every label match of the page are read from these dicts."""
    printed = "".join(c["text"] for c in chars)
    if unify_ideographs(printed) != printed:  # one scan of the page; most pages hold no such character
        for c in chars:
            c["text"] = unify_ideographs(c["text"])


def _doubled(chars: list[dict]) -> bool:
    """Whether some character is drawn twice at (nearly) one place. pdfplumber's dedupe_chars takes four
    times as long as finding the tables, so it runs only where this finds one."""
    keys = sorted((c["text"], c["fontname"], round(c["top"]), c["x0"]) for c in chars)
    return any(a[:3] == b[:3] and b[3] - a[3] <= 1 for a, b in itertools.pairwise(keys))


def _off_page(page) -> list[dict]:
    """The characters that run over the page's edge: in the file, but not on the page (a table wider than
    the paper is cut off where the page ends, its last column half shown or not at all)."""
    return [c for c in page.chars if _runs_over(c, page.bbox)]


def _runs_over(c: dict, bbox: tuple[float, float, float, float]) -> bool:
    """Whether character `c` reaches over the edge of the page `bbox` (by more than a point)."""
    return c["x0"] < bbox[0] - 1 or c["x1"] > bbox[2] + 1 or c["top"] < bbox[1] - 1 or c["bottom"] > bbox[3] + 1


def _cut_off(
    box: tuple[float, float, float, float], page_box: tuple[float, float, float, float], off: list[dict], side: str
) -> bool:
    """Whether text runs over the page's edge beside grid cell `box`, the outermost cell of its row (side
    'right', 'left') or at the foot of its column in the table's last row ('bottom'): what shows of the
    cell may be part of a number ('5' of 51746), and a column beyond the page does not show at all."""
    x0, top, x1, bottom = box
    px0, _, px1, pbottom = page_box
    for c in off:
        ymid, xmid = (c["top"] + c["bottom"]) / 2, (c["x0"] + c["x1"]) / 2
        if side == "right" and top <= ymid < bottom and c["x1"] > px1 + 1 and xmid >= x0:
            return True
        if side == "left" and top <= ymid < bottom and c["x0"] < px0 - 1 and xmid < x1:
            return True
        if side == "bottom" and x0 <= xmid < x1 and c["bottom"] > pbottom + 1 and ymid >= top:
            return True
    return False


def _cut_cells(
    row,
    last: bool,
    table_box: tuple[float, float, float, float],
    page_box: tuple[float, float, float, float],
    off: list[dict],
) -> set[int]:
    """The slots of a table row whose cells are cut off by the page's edge: text runs over the edge beside
    them (see _cut_off), or the table itself reaches the edge, where a producer that clips what lies beyond
    leaves no text to see (no table ends at the paper's edge: a report has margins)."""
    slots = [k for k, box in enumerate(row.cells) if box]
    if not slots:
        return set()
    touches = {
        "left": table_box[0] <= page_box[0] + 1,
        "right": table_box[2] >= page_box[2] - 1,
        "bottom": table_box[3] >= page_box[3] - 1,
    }
    cut = {
        k
        for k, side in ((slots[-1], "right"), (slots[0], "left"))
        if touches[side] or (off and _cut_off(row.cells[k], page_box, off, side))
    }
    if last:
        cut |= {k for k in slots if touches["bottom"] or (off and _cut_off(row.cells[k], page_box, off, "bottom"))}
    return cut


def _page_items(page, number: int, cut_off: list[str]) -> list[tuple[float, _Grid | list[TextCell]]]:
    """(top, item) for every ruled table (a _Grid) and every text line outside the tables of one page; the
    sources of cells and lines that run over the page's edge are added to `cut_off`, their text is CUT_OFF."""
    ends = _open_ends(page)
    settings = {"explicit_horizontal_lines": list(ends.values())} if ends else {}
    items: list[tuple[float, _Grid | list[TextCell]]] = []
    outside = page
    off = _off_page(page)
    for t, table in enumerate(page.find_tables(settings), 1):
        outside = outside.outside_bbox(table.bbox)
        rows = []
        for r, (cells, row) in enumerate(zip(_grid_texts(table, page.chars), table.rows), 1):
            sources = [f"page {number} table {t} row {r} col {k}" for k in range(1, len(cells) + 1)]
            texts = [None if c is None else _cell_text(c, box, page.chars) for c, box in zip(cells, row.cells)]
            for k in _cut_cells(row, r == len(table.rows), table.bbox, page.bbox, off):
                texts[k] = CUT_OFF
                cut_off.append(sources[k])
            # A slot a merged cell from above covers takes that cell's span: text ending it on the next page
            # is put under it, not taken for a row of its own.
            spans = [
                (box[0], box[2]) if box else rows[-1].spans[k] if rows and k < len(rows[-1].spans) else None
                for k, box in enumerate(row.cells)
            ]
            rows.append(_Row(texts, sources, spans))
        if rows:  # only the last row can be cut by the page's foot
            rows[-1].ends_full = [
                _ends_full(c, box, page.chars) for c, box in zip(rows[-1].cells, table.rows[-1].cells)
            ]
            rows[-1].open_end = "bottom" in ends and abs(ends["bottom"]["top"] - table.bbox[3]) <= EDGE_TOLERANCE
        items.append((table.bbox[1], _Grid(rows)))
    for n, tl in enumerate(_text_lines(outside, page.bbox, bool(off)), 1):
        if PAGE_NUMBER.match(tl["text"]):
            continue
        source = f"page {number} line {n}"
        if tl["cut"]:
            items.append((tl["top"], [TextCell(CUT_OFF, source)]))
            cut_off.append(source)
            continue
        cells = space_cells(tl["text"])
        line = [TextCell(c, source if len(cells) == 1 else f"{source} col {k}") for k, c in enumerate(cells, 1)]
        if line:
            items.append((tl["top"], line))
    items.sort(key=lambda it: it[0])
    # A bare number below (or above) everything else, in the page's footer (or header) margin, is its page
    # number ('3'), not a value: read as one, no row would take it, and its table would be left unread.
    height = page.bbox[3] - page.bbox[1]
    for end, in_margin in (
        (-1, lambda top: top > page.bbox[1] + (1 - MARGIN_SHARE) * height),
        (0, lambda top: top < page.bbox[1] + MARGIN_SHARE * height),
    ):
        if (
            items
            and isinstance(items[end][1], list)
            and len(items[end][1]) == 1
            and BARE_PAGE_NUMBER.match(items[end][1][0].text)
            and in_margin(items[end][0])
        ):
            items.pop(end)
    return items


def _on_baseline(c: dict) -> dict:
    """A copy of character `c` whose top is its baseline less its size, the same top for every font on one
    baseline: pdfminer puts a Latin font's top lower than a CJK font's beside it (Liberation Serif's by 3.2 pt
    beside Noto CJK at 15 pt), more than pdfplumber's 3 pt line tolerance."""
    _, b, cc, d, _, baseline = c["matrix"]
    if not (c["upright"] and b == 0 == cc and d > 0):
        return c
    top = c["top"] + c["y1"] - baseline - c["size"]  # top + y1 is the page's height
    return {**c, "top": top, "bottom": top + c["size"]}


def _grid_texts(table, chars: list[dict]) -> list[list[str | None]]:
    """table.extract() with each cell's characters put into lines by baseline: the item number of
    '1.属于国家秘密' set in a Latin font, by its top, fell on a line after the label's Chinese characters."""
    out = []
    for row in table.rows:
        in_row = [c for c in chars if _in_box(c, row.bbox)]
        out.append(
            [
                None if box is None else extract_text([_on_baseline(c) for c in in_row if _in_box(c, box)])
                for box in row.cells
            ]
        )
    return out


def _text_lines(page, bbox: tuple[float, float, float, float], cut: bool) -> list[dict]:
    """The page's text lines, grouped by baseline: a title's digits set in another font than its Chinese
    (Times New Roman beside 宋体) have another top, and grouped by top they fell on a line of their own.
    When some characters run over the edge of the page `bbox` (`cut`), a line holding any has "cut": True."""
    chars = []
    for c in page.chars:
        over = cut and _runs_over(c, bbox)
        c = _on_baseline(c)
        if cut:
            c = {**c, "cut": over}
        chars.append(c)
    if not chars:
        return []
    lines = chars_to_textmap(chars).extract_text_lines(return_chars=cut)
    for line in lines:
        line["cut"] = any(c.get("cut") for c in line.pop("chars", ()))
    return lines


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

    It is the rest when every printed cell lies under a cell of the last row (or under a merged cell
    from above, whose wrapped text it ends), no text starts a label of its own, and no slot is printed on
    both sides except text continuing text (a wrapped label) or digits continuing a number that filled
    its cell (a number wrapped over the page): a row of its own, or a header followed by its values,
    prints a value against something in the same column. The tail of a long label
    ('由逾期不补正、行政机关不再处理其政府信息公开申请') may match that label by itself: it starts a row only if
    it has an item number or does not continue the text above it. When the text does continue a row's
    label, the row is the rest whatever its values: a value against a value that is no wrapped number then
    reads as both, which is no number (the row cannot be read, and is not read as two)."""
    printed = [(k, c) for k, c in enumerate(first.cells) if c]
    slots = [_under(last.spans, span) for span in first.spans]
    if not printed or any(slots[k] is None for k, _ in printed):
        return None
    texts = [(last.cells[slots[k]] or "", b) for k, b in printed if classify(b)[0] != VALUE]
    if any(_starts_row(a, b) for a, b in texts):
        return None
    label_goes_on = any(a and classify(a)[0] != VALUE and _row_label(a + b) for a, b in texts)
    for k, b in printed:
        a = last.cells[slots[k]]
        if (
            a
            and VALUE in (classify(a)[0], classify(b)[0])
            and not (label_goes_on or _number_goes_on(last, slots[k], b))
        ):
            return None
    return slots


def _row_label(text: str) -> bool:
    """Whether `text` is a row's label (not a group's, which spans rows and goes on past any one of them)."""
    label = L.match(text)
    return bool(label) and label.kind == "row"


def _number_goes_on(last: _Row, j: int, text: str) -> bool:
    """Whether `text` is the rest of the number in slot j of `last`, wrapped over the page."""
    return j < len(last.ends_full) and last.ends_full[j] and bool(WRAPPED_PART.fullmatch(text))


def _starts_row(above: str, text: str) -> bool:
    """Whether `text` is a label of its own rather than the rest of the label `above` it."""
    label = classify(text)[1]
    if not label:
        return False
    if not above or label.kind not in ("row", "group"):  # only a row's or group's label wraps onto a next line
        return True
    own = L.match(above)  # a whole label above ('行政许可') ends its row there
    return (
        bool(L.ITEM_PREFIX.match(L.normalize(text)))
        or (own is not None and own != label)
        or L.match(above + text) != label
    )


def _repeated_header(last: _Grid, first: _Grid) -> int:
    """How many rows at the top of `first`, a table at the top of a new page, repeat the header rows at
    the top of `last`, the same table on the page before: word processors repeat a table's header on each
    page ('标题行重复'). They are printed again, not read again, and the rest of a cut row follows them."""
    k = 0
    while (
        k < min(len(first.rows) - 1, len(last.rows) - 1)
        and first.rows[k].cells == last.rows[k].cells
        and not any(c and NUMBER.match(c) for c in first.rows[k].cells)
    ):
        k += 1
    return k


def _end_cut_row(row: _Row, cut_off: list[str]) -> None:
    """A row the page's foot cut whose rest is not at the top of the next page (a producer lost it): a number
    that filled its cell there may have gone on, and is not read."""
    for j, full in enumerate(row.ends_full):
        if full:
            row.cells[j] = CUT_OFF
            cut_off.append(row.sources[j])


def _join(last: _Row, first: _Row, slots: list[int | None]) -> None:
    """Append `first` (the rest of `last` on the next page) to `last`, cell by cell."""
    for b, source, j in zip(first.cells, first.sources, slots):
        if b and j is not None:
            a = last.cells[j]
            last.cells[j] = (a + b if _number_goes_on(last, j, b) else f"{a} {b}") if a else b
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
                raise cause from e
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
        chars, images, cut_off, undecoded = 0, False, [], 0
        last_item = None  # the last page's last row or table
        for number, page in enumerate(pages, 1):
            with _reading(path, f"PDF 第 {number} 页无法读取"):  # a corrupt content stream
                chars += len(page.chars)
                undecoded += sum(map(_undecoded, page.chars))
                _unify(page.chars)
                images = images or bool(page.images)
                # A bold face a font lacks is drawn twice, a fraction of a point apart (WPS, Word): once per
                # character is what the page shows ('本年制发件数', not '本本年年制制发发件件数数').
                shown = page.dedupe_chars() if _doubled(page.chars) else page
                page_items = [item for _, item in _page_items(shown, number, cut_off)] if page.chars else []
            page.close()
            first = page_items[0] if page_items else None
            if isinstance(last_item, _Grid) and isinstance(first, _Grid):
                del first.rows[: _repeated_header(last_item, first)]
            if isinstance(last_item, _Grid) and last_item.rows:
                slots = (
                    _rest_of_row(last_item.rows[-1], first.rows[0]) if isinstance(first, _Grid) and first.rows else None
                )
                if slots:
                    _join(last_item.rows[-1], first.rows.pop(0), slots)
                elif last_item.rows[-1].open_end:
                    _end_cut_row(last_item.rows[-1], cut_off)
            items += page_items
            last_item = page_items[-1] if page_items else None
        if isinstance(last_item, _Grid) and last_item.rows and last_item.rows[-1].open_end:
            _end_cut_row(last_item.rows[-1], cut_off)
    lines = [line for item in items for line in (item.lines() if isinstance(item, _Grid) else [item])]
    text = "\n".join(" ".join(c.text for c in row) for row in lines)  # for the title: one line per row
    return PdfContent(lines, text, chars, images, undecoded, cut_off)
