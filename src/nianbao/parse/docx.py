"""Word (.docx) input: the body's tables read as their real grid (gridSpan/vMerge), paragraphs between.

Same contract as nianbao.parse.html: a spanned cell appears once, in its first row and column; a
blank cell is TextCell(''); sources are 'table T row R col C' and 'paragraph N'. Automatic list
numbers ("一、" of an auto-numbered heading, "1." of a table label) are rendered, because Word keeps
them out of the text. The OOXML is read with lxml directly: python-docx hides merged cells.
"""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from io import BytesIO

import lxml.etree as ET

from nianbao.parse.core import TextCell
from nianbao.parse.encoding import InputError
from nianbao.parse.html import Page, clean

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAX_PART = 200 * 1024 * 1024  # a report's XML is a few MB; more is a zip bomb, not a report
# Wrappers whose content Word shows in place (content controls, custom XML, smart tags).
_WRAPPERS = {
    "sdt",
    "sdtContent",
    "customXml",
    "smartTag",
    "ins",
    "moveTo",
    "hyperlink",
    "fldSimple",
    "AlternateContent",
    "Choice",
    "r",
    "dir",
    "bdo",
}
# Never shown (deleted/moved-away revisions, fallbacks duplicating the Choice, field codes, properties).
_SKIP = {
    "del",
    "moveFrom",
    "Fallback",
    "instrText",
    "delText",
    "pPr",
    "rPr",
    "tcPr",
    "trPr",
    "tblPr",
    "sectPr",
    "txbxContent",
    "bookmarkStart",
    "bookmarkEnd",
    "proofErr",
    "commentReference",
}
_IMAGE = {"drawing", "pict", "object"}


def _local(el) -> str:
    """Local name of an element ('' for comments and processing instructions)."""
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


def _attr(el, name: str) -> str | None:
    """A w:-namespaced (or unprefixed) attribute, whatever the namespace URI (transitional or strict)."""
    if el is None:
        return None
    for key, value in el.attrib.items():
        if key.rsplit("}", 1)[-1] == name:
            return value
    return None


def _child(el, name: str):
    """First child with this local name, or None."""
    if el is None:
        return None
    return next((c for c in el if _local(c) == name), None)


def _int(value: str | None, default: int) -> int:
    """An integer attribute value, `default` when absent or malformed."""
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _on(el) -> bool:
    """An OOXML on/off property: present and not switched off."""
    return el is not None and (_attr(el, "val") or "true") not in ("0", "false", "off")


def read_lines(data: bytes, path: str) -> tuple[list[list[TextCell]], str]:
    """Rows of every data table and the paragraphs between them, plus the document's plain text."""
    page = read_page(data, path)
    return page.lines, page.text()


def has_table_images(data: bytes, path: str = "<docx>") -> bool:
    """Whether the document shows images where its statutory tables belong (parses it again)."""
    return read_page(data, path).has_table_images()


def read_page(data: bytes, path: str) -> Page:
    """Open the .docx and read its body into a Page."""
    if not data.strip():
        raise InputError("empty-file", path, "文件为空")
    if data.startswith(_OLE_MAGIC):
        raise InputError("not-a-docx", path, "这是 OLE 复合文档(旧版 .doc 或加密的 .docx),不是 Word 2007 以后的 .docx")
    try:
        zf = zipfile.ZipFile(BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError("not-a-docx", path, "不是有效的 .docx(ZIP)文件") from None
    with zf:
        main = _main_part(zf, path)
        rels = _rels(zf, main, path)
        numbering = _Numbering(_xml(zf, rels.get("numbering"), path), _xml(zf, rels.get("styles"), path))
        body = _child(_xml(zf, main, path), "body")
    if body is None:
        raise InputError("not-a-docx", path, f"{main} 中没有正文(w:body)")
    page = Page()
    _Reader(page, numbering).block(body)
    return page


def _xml(zf: zipfile.ZipFile, name: str | None, path: str):
    """Parse one part of the package (None when the part is absent), safely and with a clear error."""
    if name is None or name not in zf.NameToInfo:
        return None
    if zf.getinfo(name).file_size > _MAX_PART:
        raise InputError("not-a-docx", path, f"{name} 解压后超过 {_MAX_PART // 2**20} MB")
    parser = ET.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    try:
        return ET.fromstring(zf.read(name), parser)
    except (
        ET.XMLSyntaxError,
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        RuntimeError,
        NotImplementedError,
    ) as e:  # corrupt, encrypted or unsupported compression
        raise InputError("not-a-docx", path, f"{name} 无法读取:{e}") from None


def _main_part(zf: zipfile.ZipFile, path: str) -> str:
    """The main document part named by the package relationships (word/document.xml by convention)."""
    root = _xml(zf, "_rels/.rels", path)
    for rel in root if root is not None else ():
        if (_attr(rel, "Type") or "").endswith("/officeDocument"):
            return (_attr(rel, "Target") or "").lstrip("/")
    if "word/document.xml" in zf.NameToInfo:
        return "word/document.xml"
    raise InputError("not-a-docx", path, "缺少正文部件 word/document.xml")


def _rels(zf: zipfile.ZipFile, main: str, path: str) -> dict[str, str]:
    """Relationship type (last path segment, e.g. 'numbering') -> part name, for the main part."""
    folder, name = posixpath.split(main)
    root = _xml(zf, posixpath.join(folder, "_rels", name + ".rels"), path)
    out = {}
    for rel in root if root is not None else ():
        target = _attr(rel, "Target") or ""
        out[(_attr(rel, "Type") or "").rsplit("/", 1)[-1]] = (
            target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        )
    return out


class _Reader:
    """Walks the body in document order, filling a Page."""

    def __init__(self, page: Page, numbering: _Numbering):
        self.page, self.numbering = page, numbering

    def block(self, el) -> None:
        """Paragraphs and tables of a container (body, content control, layout-table cell)."""
        for child in el:
            name = _local(child)
            if name == "p":
                for line in self.paragraph(child, in_table=False):
                    self.page.paragraph(line)
            elif name == "tbl" and _is_data_table(child):
                self.table(child)
            elif name == "tbl":
                for tr in _rows(child):
                    for tc in _cells(tr):
                        self.block(tc)
            elif name in _WRAPPERS:
                self.block(child)

    def paragraph(self, p, in_table: bool) -> list[str]:
        """The paragraph's text, split at line breaks, with its list number in front."""
        parts = [self.numbering.label(p)]
        self._runs(p, parts, in_table)
        return "".join(parts).split("\n")

    def _runs(self, el, parts: list[str], in_table: bool) -> None:
        """Collect shown text below `el`; '\n' marks a line break."""
        for child in el:
            name = _local(child)
            if name in _SKIP:
                continue
            if name == "t":
                parts.append(child.text or "")
            elif name in ("tab", "ptab"):
                parts.append("\t")
            elif name in ("br", "cr"):
                parts.append("\n")
            elif name == "noBreakHyphen":
                parts.append("-")
            elif name in _IMAGE and child.xpath(".//*[local-name()='blip' or local-name()='imagedata']"):
                if in_table:
                    self.page.images_in_data_tables = True
                else:
                    self.page.images_at.append(len(self.page.lines))
            elif name == "r" and _on(_child(_child(child, "rPr"), "vanish")):
                continue  # hidden text
            elif name in _WRAPPERS:
                self._runs(child, parts, in_table)

    def table(self, tbl) -> None:
        """One line per row; a gridSpan cell advances the column, a vMerge continuation is not repeated."""
        self.page.tables += 1
        t = self.page.tables
        for r, tr in enumerate(_rows(tbl), start=1):
            c = 1 + _int(_attr(_child(_child(tr, "trPr"), "gridBefore"), "val"), 0)
            line = []
            for tc in _cells(tr):
                pr = _child(tc, "tcPr")
                span = max(_int(_attr(_child(pr, "gridSpan"), "val"), 1), 1)
                if not _continues(pr):
                    text = "\n".join(x for p in _paragraphs(tc) for x in self.paragraph(p, in_table=True))
                    line.append(TextCell(clean(text), f"table {t} row {r} col {c}"))
                c += span
            if line:
                self.page.lines.append(line)


def _continues(tc_pr) -> bool:
    """A cell that continues a vertical (vMerge) or legacy horizontal (hMerge) merge."""
    for name in ("vMerge", "hMerge"):
        el = _child(tc_pr, name)
        if el is not None and _attr(el, "val") != "restart":
            return True
    return False


def _unwrap(el, name: str):
    """Children named `name`, looking through content controls and custom XML wrappers."""
    for child in el:
        local = _local(child)
        if local == name:
            yield child
        elif local in ("sdt", "sdtContent", "customXml"):
            yield from _unwrap(child, name)


def _rows(tbl) -> list:
    """The rows of one table."""
    return list(_unwrap(tbl, "tr"))


def _cells(tr) -> list:
    """The cells of one row."""
    return list(_unwrap(tr, "tc"))


def _paragraphs(tc) -> list:
    """The paragraphs of one cell of a data table."""
    return list(_unwrap(tc, "p"))


def _is_data_table(tbl) -> bool:
    """A table that shows data: no nested table, and some row with two cells or more."""
    if tbl.xpath(".//*[local-name()='tc']//*[local-name()='tbl']"):
        return False
    return any(sum(not _continues(_child(tc, "tcPr")) for tc in _cells(tr)) >= 2 for tr in _rows(tbl))


class _Numbering:
    """Renders Word's automatic list labels (numbering.xml, with numbering inherited from styles)."""

    def __init__(self, numbering, styles):
        self.levels: dict[str, dict[int, tuple[int, str, str]]] = {}  # numId -> ilvl -> (start, fmt, text)
        self.counters: dict[str, dict[int, int]] = {}
        self.style_num: dict[str, tuple[str | None, str | None, str | None]] = {}  # numId, ilvl, basedOn
        if numbering is not None:
            self._load_numbering(numbering)
        if styles is not None:
            for st in styles:
                if _local(st) == "style":
                    num_pr = _child(_child(st, "pPr"), "numPr")
                    self.style_num[_attr(st, "styleId") or ""] = (
                        _attr(_child(num_pr, "numId"), "val"),
                        _attr(_child(num_pr, "ilvl"), "val"),
                        _attr(_child(st, "basedOn"), "val"),
                    )

    def _load_numbering(self, root) -> None:
        """numId -> its levels, with start overrides applied."""
        abstract = {}
        for el in root:
            if _local(el) == "abstractNum":
                abstract[_attr(el, "abstractNumId")] = {
                    _int(_attr(lvl, "ilvl"), 0): (
                        _int(_attr(_child(lvl, "start"), "val"), 1),
                        _attr(_child(lvl, "numFmt"), "val") or "decimal",
                        _attr(_child(lvl, "lvlText"), "val") or "",
                    )
                    for lvl in el
                    if _local(lvl) == "lvl"
                }
        for el in root:
            if _local(el) == "num":
                levels = dict(abstract.get(_attr(_child(el, "abstractNumId"), "val"), {}))
                for ov in el:
                    start = _child(ov, "startOverride") if _local(ov) == "lvlOverride" else None
                    ilvl = _int(_attr(ov, "ilvl"), 0)
                    if start is not None and ilvl in levels:
                        levels[ilvl] = (_int(_attr(start, "val"), 1), *levels[ilvl][1:])
                self.levels[_attr(el, "numId") or ""] = levels

    def _num_pr(self, p) -> tuple[str | None, int]:
        """(numId, ilvl) of a paragraph: its own numPr, completed from its style chain."""
        ppr = _child(p, "pPr")
        num_pr = _child(ppr, "numPr")
        num_id = _attr(_child(num_pr, "numId"), "val")
        ilvl = _attr(_child(num_pr, "ilvl"), "val")
        style = _attr(_child(ppr, "pStyle"), "val")
        for _ in range(10):  # basedOn chains are short; the bound guards against cycles
            if (num_id is not None and ilvl is not None) or style not in self.style_num:
                break
            s_num, s_ilvl, style = self.style_num[style]
            num_id = s_num if num_id is None else num_id
            ilvl = s_ilvl if ilvl is None else ilvl
        return num_id, _int(ilvl, 0)

    def label(self, p) -> str:
        """The list label Word shows in front of this paragraph ('' if none); advances the counters."""
        num_id, ilvl = self._num_pr(p)
        levels = self.levels.get(num_id or "")
        if not levels or ilvl not in levels or levels[ilvl][1] in ("none", "bullet"):
            return ""
        counters = self.counters.setdefault(num_id, {})
        counters[ilvl] = counters.get(ilvl, levels[ilvl][0] - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        text = levels[ilvl][2]
        for k in range(ilvl + 1):
            if k in levels:
                value = counters.get(k, levels[k][0])
                text = text.replace(f"%{k + 1}", _format_number(value, levels[k][1]))
        return text


_CN_DIGITS = "〇一二三四五六七八九"
_CN_LEGAL = "零壹贰叁肆伍陆柒捌玖"
_STEMS = "甲乙丙丁戊己庚辛壬癸"


def _chinese(n: int, digits: str = _CN_DIGITS, ten: str = "十") -> str:
    """Chinese counting as Word prints it: 1-99 (一, 十, 十一, 二十一), larger numbers digit by digit."""
    if n < 10:
        return digits[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return (digits[tens] if tens > 1 else "") + ten + (digits[ones] if ones else "")
    return "".join(digits[int(d)] for d in str(n))


def _roman(n: int) -> str:
    """Upper-case Roman numerals."""
    out = ""
    for value, sym in (
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ):
        count, n = divmod(n, value)
        out += sym * count
    return out


def _format_number(n: int, fmt: str) -> str:
    """One counter in a w:numFmt (unknown formats print as decimal)."""
    if fmt in ("chineseCounting", "chineseCountingThousand", "taiwaneseCounting", "taiwaneseCountingThousand"):
        return _chinese(n)
    if fmt == "chineseLegalSimplified":
        return _chinese(n, _CN_LEGAL, "拾")
    if fmt == "ideographTraditional" and 1 <= n <= 10:
        return _STEMS[n - 1]
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt == "decimalEnclosedParen" and 1 <= n <= 20:
        return chr(0x2474 + n - 1)
    if fmt == "decimalEnclosedFullstop" and 1 <= n <= 20:
        return chr(0x2488 + n - 1)
    if fmt == "decimalFullWidth":
        return "".join(chr(0xFF10 + int(d)) for d in str(n))
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("upperLetter", "lowerLetter"):
        s = chr(ord("A") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return s if fmt == "upperLetter" else s.lower()
    if fmt in ("upperRoman", "lowerRoman"):
        return _roman(n) if fmt == "upperRoman" else _roman(n).lower()
    return str(n)
