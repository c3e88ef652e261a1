"""PDF -> rows of printed cells: ruled tables as grids (pdfplumber), the other text as space-separated lines.

Grids keep each printed cell whole (a label printed vertically is one cell, a number stays under its
column), so they are preferred; a page without ruling lines falls back to text lines, where number
lines may precede their labels (handled by the core's orphan rule).
"""
from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import pdfplumber

from .core import NUMBER, TextCell
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


def _cell_text(text: str | None) -> str:
    """A grid cell's text with its line breaks as spaces: '结果\\n维持' matches, '1\\n2' stays two numbers."""
    return " ".join((text or "").split())


def _numeric_columns(grid: list[list[str | None]]) -> set[int]:
    """Grid columns that print a number somewhere; an empty cell elsewhere is an unused label column."""
    return {k for cells in grid for k, c in enumerate(cells) if c and NUMBER.match(c)}


def _page_items(page, number: int) -> list[tuple[float, list[TextCell]]]:
    """(top, row) for every table row and every text line outside the tables of one page."""
    items = []
    outside = page
    for t, table in enumerate(page.find_tables(), 1):
        outside = outside.outside_bbox(table.bbox)
        grid = [[None if c is None else _cell_text(c) for c in cells] for cells in table.extract()]
        numeric = _numeric_columns(grid)
        for r, (row, cells) in enumerate(zip(table.rows, grid), 1):
            line = [TextCell(c, f"page {number} table {t} row {r} col {k}") for k, c in enumerate(cells, 1)
                    if c is not None and (c or k - 1 in numeric)]
            if line:
                items.append((row.bbox[1], line))
    for n, tl in enumerate(outside.extract_text_lines(), 1):
        if PAGE_NUMBER.match(tl["text"]):
            continue
        cells = space_cells(tl["text"])
        source = f"page {number} line {n}"
        line = [TextCell(c, source if len(cells) == 1 else f"{source} col {k}") for k, c in enumerate(cells, 1)]
        if line:
            items.append((tl["top"], line))
    return sorted(items, key=lambda it: it[0])


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
        lines, chars, images = [], 0, False
        for number, page in enumerate(pages, 1):
            with _reading(path, f"PDF 第 {number} 页无法读取"):   # a corrupt content stream
                chars += len(page.chars)
                images = images or bool(page.images)
                if page.chars:
                    lines += [row for _, row in _page_items(page, number)]
            page.close()
    text = "\n".join(" ".join(c.text for c in row) for row in lines)   # for the title: one line per row
    return PdfContent(lines, text, chars, images)
