"""HTML input: the page's tables read as their real grid (rowspan/colspan), paragraphs in between.

A spanned cell appears once, in its first row and column; a blank cell is TextCell(''), so the two
stay distinguishable. Table cells have source 'table T row R col C' (1-based, C = grid column, T
counts data tables only), paragraphs 'paragraph N'. Layout tables (holding a nested table, or one
column wide) are read as paragraphs. `read_page` returns a Page: `lines` for the core's
`parse_lines`, `text()` for metadata, `has_table_images()` for the 'tables-are-images' outcome.
The Word reader (docx.py) fills the same Page.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import lxml.etree as ET

from nianbao.parse.core import TextCell
from nianbao.parse.encoding import InputError, declared_charset, decoded
from nianbao.parse.metadata import PageFacts

_WIDE = r"\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\u3000-\u303f\u2018-\u201d"
_IS_WIDE = re.compile(f"[{_WIDE}]").match
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Section headings by number only: 二、三、四 hold the statutory tables, 五 and 六 follow them.
_SECTION = re.compile(r"^\s*([一二三四五六七八])\s*[、.．，,]")
_TABLE_SECTIONS = "二三四"

_SKIP = (
    "script",
    "style",
    "noscript",
    "template",
    "head",
    "title",
    "iframe",
    "object",
    "embed",
    "svg",
    "select",
    "textarea",
    "button",
)
_BLOCK = (
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "main",
    "blockquote",
    "pre",
    "address",
    "figure",
    "figcaption",
    "form",
    "fieldset",
    "center",
    "hr",
    "br",
    "body",
)
_BLOCK_TAGS = frozenset(_BLOCK)
# Table structure is a block boundary only in layout tables (and in data tables with cells inside cells):
# data tables are read cell by cell.
_TABLE_PARTS = ("table", "caption", "thead", "tbody", "tfoot", "tr", "td", "th")
_ROW_PARENTS = frozenset(("table", "thead", "tbody", "tfoot"))
# Hidden elements are looked for only when the source spells a hiding declaration the usual way: an
# XPath over every style attribute costs as much as parsing the page, and most pages hide nothing.
_HIDING = (
    "display:none",
    "display: none",
    "DISPLAY:NONE",
    "DISPLAY: NONE",
    "visibility:hidden",
    "visibility: hidden",
    "VISIBILITY:HIDDEN",
    "VISIBILITY: HIDDEN",
)
# The source is scanned for the four property names only (each scan of a large page costs), then
# each hit is checked against the full spellings.
_HIDING_PROPS = tuple(dict.fromkeys(h.split(":")[0] + ":" for h in _HIDING))
# The page is read at C speed: block boundaries, tables and images are marked in the tree with
# Unicode noncharacters (never in real text, unlike the private-use area GB18030 maps rare characters
# to), the tree is serialised as text once and split at the marks.
_SEP, _TABLE_MARK, _TABLE_END, _IMAGE_MARK = "\ufdd0", "\ufdd1", "\ufdd2", "\ufdd3"
_MARKS = re.compile("[\ufdd0-\ufdd3]")
_TAG_NAME = re.compile(r"<([A-Za-z][\w:-]*)")
_XML_DECLARATION = re.compile(r"\s*<\?xml[^>]*>")
# libxml2's message when a page nests deeper than it reads ('Excessive depth in document: 2048, ...').
_TOO_DEEP = re.compile(r"depth[^:\d]*:?\s*(\d+)", re.I)
# Inline formatting tags: no block boundary, so a page reads the same without them.
_INLINE = ("span", "font", "b", "i", "u", "strong", "em", "small", "big", "s", "strike", "sub", "sup", "o:p")
_ATTRIBUTES = r"""(?:"[^"]*"|'[^']*'|[^'">])*"""
# What lxml refuses to write into a tree (XML 1.0's excluded controls, the noncharacters U+FFFE and U+FFFF),
# and DEL: a page holding any of them is read again with each one a space.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
# Grid positions one table's spans may cover below their own rows. A statutory table covers a few hundred;
# spans near the HTML maxima (rowspan 65534, colspan 1000) in a few thousand rows would cover billions,
# and a 1 MB page could take the machine's memory before the parse time limit stops it.
MAX_SPANNED = 1_000_000


def clean(text: str) -> str:
    """Printed text of a cell or paragraph: invisible characters gone, whitespace as a reader sees it.

    CSS drops a line break between two wide characters; Word and CMS editors put such breaks (and
    &nbsp; padding) inside labels freely ("商业\n企业", "本年度办 理结果"), so whitespace between two
    wide characters goes. Elsewhere it becomes one space: "1\n2" -> "1 2", never the guessed "12".
    """
    parts = text.split()  # str.split(): the Unicode whitespace a browser collapses, &nbsp; and U+3000 too
    if len(parts) == 1 and parts[0].isprintable():  # the common case: one word, no format characters
        return parts[0]
    parts = _INVISIBLE.sub("", " ".join(parts)).split()
    if len(parts) < 2:
        return parts[0] if parts else ""
    out = [parts[0]]
    for prev, part in itertools.pairwise(parts):
        if not (_IS_WIDE(prev[-1]) and _IS_WIDE(part[0])):
            out.append(" ")
        out.append(part)
    return "".join(out)


@dataclass
class Page:
    """What a reader collects from one document, in document order."""

    lines: list[list[TextCell]] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    title: str = ""
    images_at: list[int] = field(default_factory=list)  # len(lines) when an image outside tables was met
    images_in_data_tables: bool = False
    tables: int = 0
    facts: PageFacts | None = None  # what the page's head says about it (HTML only)

    def paragraph(self, text: str) -> None:
        """Add one paragraph line (cleaned; empty text adds nothing)."""
        text = clean(text)
        if text:
            self.paragraphs.append(text)
            self.lines.append([TextCell(text, f"paragraph {len(self.paragraphs)}")])

    def text(self) -> str:
        """Title and paragraphs, one per line: the plain text for metadata extraction."""
        return "\n".join([self.title, *self.paragraphs] if self.title else self.paragraphs)

    def has_table_images(self) -> bool:
        """True if images sit inside a table or in sections 二–四, where the statutory tables belong."""
        if self.images_in_data_tables:
            return True
        if not self.images_at:
            return False
        section, marks = "", iter(self.images_at)
        mark = next(marks, None)
        for i, line in enumerate([*self.lines, []]):
            while mark is not None and mark <= i:
                if section and section in _TABLE_SECTIONS:
                    return True
                mark = next(marks, None)
            # A heading is a short paragraph; prose that happens to start with "二、" is not one.
            if len(line) == 1 and line[0].source.startswith("paragraph") and len(line[0].text) <= 40:
                m = _SECTION.match(line[0].text)
                section = m.group(1) if m else section
        return False


def read_lines(data: bytes, path: str) -> tuple[list[list[TextCell]], str]:
    """Rows of every data table and the paragraphs between them, plus the page's plain text."""
    page = read_page(data, path)
    return page.lines, page.text()


def has_table_images(data: bytes, path: str = "<html>") -> bool:
    """Whether the page shows images where its statutory tables belong (parses the page again)."""
    return read_page(data, path).has_table_images()


def read_page(data: bytes, path: str) -> Page:
    """Decode and parse one HTML page into a Page."""
    if not data.strip():
        raise InputError("empty-file", path, "文件为空")
    text, encoding = decoded(data, path, declared_charset(data))
    marked = any(mark in text for mark in (_SEP, _TABLE_MARK, _TABLE_END, _IMAGE_MARK))
    if marked:
        text = _MARKS.sub("", text)
    # lxml refuses str input that still carries an XML encoding declaration.
    declaration = _XML_DECLARATION.match(text)
    if declaration:
        text = text[declaration.end() :]
    # UTF-8 bytes are given to lxml as they are (1.5 M fewer instructions a page than a str, which it
    # converts first).
    as_bytes = encoding == "utf-8" and not marked and not declaration
    try:
        return _read_source(data if as_bytes else text, text, path)
    except InputError:
        raise
    except ValueError:
        # lxml refuses to write text holding a control character (Word's \x0b line break, a stray \x01 or
        # &#x1;) into the tree, where the reader writes its marks: such a page is read again with every
        # one of them a space (`clean`'s str.split already takes \x0b, \x0c and \x1c-\x1f for whitespace).
        return _read_source(_CONTROL.sub(" ", text), text, path, controls_to_spaces=True)


def _read_source(source: str | bytes, text: str, path: str, controls_to_spaces: bool = False) -> Page:
    """Parse the page (`source`: its UTF-8 bytes or its decoded `text`) and read it into a Page."""
    root = _tree(source, text, path) if text.strip() else None
    if root is None:
        raise InputError("not-html", path, "无法解析为 HTML")
    if controls_to_spaces:  # those of character references too, which only the parse reveals
        for el in root.iter():
            if el.text and _CONTROL.search(el.text):
                el.text = _CONTROL.sub(" ", el.text)
            if el.tail and _CONTROL.search(el.tail):
                el.tail = _CONTROL.sub(" ", el.tail)
    title = root.find("head/title")
    page = Page(title=clean("".join(title.itertext())) if title is not None else "")
    page.facts = _page_facts(root, page.title)
    _drop_unseen(root, _hiding_tags(text), hidden_attr=" hidden" in text)
    all_tables = list(root.iter("table"))
    grids = _data_tables(all_tables)
    nested = {t for t, rows in grids.items() if _nested(t, rows)}
    _mark(root, _cell_edge_blocks(rows for t, rows in grids.items() if t not in nested))
    _mark_table_parts([t for t in all_tables if t not in grids or t in nested])
    tables = [_read_table(t, rows, k, page, path) for k, (t, rows) in enumerate(grids.items(), start=1)]
    page.tables = len(tables)
    body = root.find("body")
    _read_flow(_text_of(root if body is None else body), tables, page)
    return page


# The head's meta lines that say what a page is, by lower-cased name (CMS spell them as they like).
_META_FACTS = {
    "articletitle": "article_title",
    "pubdate": "pub_date",
    "publishdate": "pub_date",
    "firstpublishedtime": "pub_date",
    "article:published_time": "pub_date",
    "author": "author",
}


def _page_facts(root: ET._Element, title: str) -> PageFacts:
    """The page's ArticleTitle, PubDate and Author meta lines (the first of each) and its <title>."""
    found: dict[str, str] = {}
    for meta in root.iter("meta"):
        name = (meta.get("name") or meta.get("property") or "").strip().lower()
        key = _META_FACTS.get(name)
        content = clean(meta.get("content") or "")
        if key and content and key not in found:
            found[key] = content
    return PageFacts(title=title, **found)


def _parsed(source: str | bytes) -> tuple[ET._Element | None, int]:
    """The page's tree, and the depth at which libxml2 stopped reading it (0: read to the end)."""
    # One parser per call: lxml parsers must not be shared between threads. huge_tree: Word and CMS
    # output nests unclosed <span>/<font> hundreds deep, past libxml2's default limit of 256 levels.
    parser = ET.HTMLParser(
        remove_comments=True,
        remove_pis=True,
        no_network=True,
        huge_tree=True,
        encoding="utf-8" if isinstance(source, bytes) else None,
    )
    root = ET.fromstring(source, parser)
    # Past the limit libxml2 stops with a recoverable error and keeps the tree read so far: the rest of
    # the page, its tables with it, would be silently missing.
    too_deep = (_TOO_DEEP.search(e.message) for e in parser.error_log if e.type == ET.ErrorTypes.ERR_RESOURCE_LIMIT)
    depth = next((int(m.group(1)) for m in too_deep if m), 0)
    return root, depth


def _tree(source: str | bytes, text: str, path: str) -> ET._Element | None:
    """The page's tree. A page nested deeper than libxml2 reads is read again without its inline formatting
    tags, which make no block (its text reads the same); still too deep, it is rejected as document-too-deep."""
    root, depth = _parsed(source)
    if depth:
        page = source if isinstance(source, str) else text
        # A tag whose style or attribute may hide text keeps its place: without it, hidden text would show.
        hiding = _hiding_tags(page)
        names = [n for n in _INLINE if n not in hiding and not _hidden_by_attribute(n, page)]
        flat = re.sub(rf"</?(?:{'|'.join(names)})\b{_ATTRIBUTES}>", "", page, flags=re.I) if names else page
        if flat != page:
            root, depth = _parsed(flat)
    if depth:
        raise InputError(
            "document-too-deep",
            path,
            f"网页元素嵌套超过 {depth} 层(HTML 解析器的上限),之后的内容(包括表格)无法读取",
        )
    return root


def _hidden_by_attribute(name: str, page: str) -> bool:
    """Whether some <`name`> tag of the page carries the `hidden` attribute."""
    return re.search(rf"<{name}\b{_ATTRIBUTES}\shidden\b", page, re.I) is not None


def _text_of(el, with_tail: bool = True) -> str:
    """The text content of an element, serialised by lxml in C."""
    return ET.tostring(el, method="text", encoding=str, with_tail=with_tail)


def _hiding_tags(text: str) -> set[str]:
    """Names of the tags whose inline style may hide them, from the source (cheaper than a tree search)."""
    tags = set()
    for prop in _HIDING_PROPS:
        pos = text.find(prop)
        while pos != -1:
            if text.startswith(_HIDING, pos):
                m = _TAG_NAME.match(text, max(text.rfind("<", 0, pos), 0))
                if m:
                    tags.add(m.group(1).lower())
            pos = text.find(prop, pos + 1)
    return tags


def _drop_unseen(root, hiding_tags: set[str], hidden_attr: bool) -> None:
    """Drop what a browser does not show."""
    ET.strip_elements(root, *_SKIP, with_tail=False)
    hidden = []
    if hiding_tags:  # (root.iter() without tags would visit every node)
        hidden = [el for el in root.iter(*hiding_tags) if any(h in (el.get("style") or "") for h in _HIDING)]
    if hidden_attr:
        hidden += root.xpath("descendant-or-self::*[@hidden]")
    for el in hidden:
        _drop(el)


def _cell_edge_blocks(grids: Iterable[list]) -> set:
    """Blocks that are their cell's only element, with no text beside them, in tables without nested
    cells: their boundaries are the cell's own edges, so they need no marks (Word puts one <p> in every
    cell; its two marks cost more than reading the cell)."""
    edge = set()
    for rows in grids:
        for _, cells in rows:
            for td in cells:
                if len(td) == 1 and (not td.text or td.text.isspace()):
                    child = td[0]
                    if child.tag in _BLOCK_TAGS and (not child.tail or child.tail.isspace()):
                        edge.add(child)
    return edge


def _mark(root, unmarked: set) -> None:
    """Mark block boundaries (except around `unmarked` blocks), <pre> line breaks and content images."""
    for el in root.iter(*_BLOCK):
        if el not in unmarked:
            el.text = _SEP + (el.text or "")
            el.tail = _SEP + (el.tail or "")
    for pre in root.iter("pre"):
        for el in pre.iter():
            if el.text:
                el.text = el.text.replace("\n", _SEP)
            if el.tail and el is not pre:
                el.tail = el.tail.replace("\n", _SEP)
    for img in root.iter("img"):
        if _is_image(img):
            img.tail = _IMAGE_MARK + (img.tail or "")


def _mark_table_parts(tables: list) -> None:
    """Make every part of these tables a block boundary: layout tables, whose cells' content a browser
    stacks, and data tables with cells inside cells, whose text would otherwise run into the outer cell's."""
    for table in tables:
        for el in table.iter(*_TABLE_PARTS):
            el.text = _SEP + (el.text or "")
            el.tail = _SEP + (el.tail or "")


def _drop(el) -> None:
    """Remove an element but keep the text that follows it."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _read_flow(flow: str, tables: list[list[list[TextCell]]], page: Page) -> None:
    """Split the marked page text into paragraphs, table rows and image positions."""
    in_table = False
    for segment in flow.split(_SEP):
        if in_table:  # a data table's own text: its rows are already read
            in_table = not segment.startswith(_TABLE_END)
            segment = segment[1:] if not in_table else ""
        if not segment or segment.isspace():
            continue
        if segment.startswith(_TABLE_MARK):
            page.lines.extend(tables[int(segment[1:]) - 1])
            in_table = True
            continue
        if _IMAGE_MARK in segment:
            page.images_at.extend([len(page.lines)] * segment.count(_IMAGE_MARK))
            segment = segment.replace(_IMAGE_MARK, "")
        page.paragraph(segment)


def _is_image(el) -> bool:
    """An <img> big enough to carry content (spacer and icon images are not)."""
    for attr in ("width", "height"):
        m = re.match(r"\s*(\d+)\s*(px)?\s*$", el.get(attr) or "")
        if m and int(m.group(1)) < 20:
            return False
    return True


def _span(value: str, limit: int) -> int:
    """A rowspan/colspan value as a count in 1..limit (malformed values count as 1)."""
    m = re.match(r"\s*(\d+)", value)
    return min(max(int(m.group(1)), 1), limit) if m else 1


def _cells(tr) -> list:
    """The <td>/<th> of one row."""
    return list(tr.iterchildren("td", "th"))


def _data_tables(tables: list) -> dict:
    """Tables that show data, each with its rows and their cells: no nested table (so every <tr> below is
    its own), and some row with two cells or more (others are layout)."""
    grids = {}
    for t in tables:
        if next(t.iterdescendants("table"), None) is None:
            rows = [(tr, _cells(tr)) for tr in t.iter("tr")]
            if any(len(cells) >= 2 for _, cells in rows):
                grids[t] = rows
    return grids


def _nested(table, rows: list) -> bool:
    """Whether rows or cells of a data table sit inside its cells (broken markup: lxml keeps a <tr> inside a
    <font>, a <td> inside a <div>)."""
    return any(tr.getparent().tag not in _ROW_PARENTS for tr, _ in rows) or sum(
        1 for _ in table.iter("td", "th")
    ) != sum(len(cells) for _, cells in rows)


def _read_table(table, rows: list, number: int, page: Page, path: str) -> list[list[TextCell]]:
    """One line per non-empty row, each cell at its grid column; marks the table's place in the flow."""
    lines: list[list[TextCell]] = []
    # Grid columns of later rows covered by a span from an earlier cell, by row (a span's own row needs
    # none: its columns are passed over at once).
    covered: dict[int, set[int]] = {}
    spanned = 0
    for r, (_tr, cells) in enumerate(rows, start=1):
        line, c, where = [], 1, f"table {number} row {r} col "
        taken = covered.pop(r, None)
        for td in cells:
            if taken:
                while c in taken:
                    c += 1
            rowspan, colspan = td.get("rowspan"), td.get("colspan")
            across = _span(colspan, 1000) if colspan else 1
            if rowspan:
                # rowspan="0" spans to the last row (HTML); rows past the table's last are never read.
                rest = len(rows) - r + 1
                down = rest if rowspan.strip() == "0" else min(_span(rowspan, 65534), rest)
                spanned += (down - 1) * across
                if spanned > MAX_SPANNED:
                    raise InputError(
                        "table-too-large",
                        path,
                        f"表格 {number} 的合并单元格 (rowspan/colspan) 覆盖超过 "
                        f"{MAX_SPANNED:,} 个单元格位置,不是可读取的报告表格",
                    )
                for below in range(r + 1, r + down):
                    covered.setdefault(below, set()).update(range(c, c + across))
            line.append(TextCell(_cell_text(td, page), where + str(c)))
            c += across
        if line:
            lines.append(line)
    # Captions stay paragraphs, before the table; the flow skips from the table mark to its end mark.
    captions = "".join(_SEP + _cell_text(c, page) for c in table if c.tag == "caption")
    table.text = f"{captions}{_SEP}{_TABLE_MARK}{number}{_SEP}{table.text or ''}"
    table.tail = f"{_SEP}{_TABLE_END}{_SEP}{table.tail or ''}"
    return lines


def _cell_text(el, page: Page) -> str:
    """Text of one cell; block boundaries inside it are whitespace (joined per `clean`)."""
    # Most cells hold text only: then .text is the whole content, with no serialisation.
    text = (el.text or "") if not len(el) else _text_of(el, with_tail=False)
    if _SEP in text:
        text = text.replace(_SEP, "\n")
    if _IMAGE_MARK in text:
        page.images_in_data_tables = True
        text = text.replace(_IMAGE_MARK, "")
    return clean(text)
