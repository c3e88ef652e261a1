"""Word 97-2003 (.doc) input: the binary Word document read from its own structures ([MS-DOC]).

Same contract as nianbao.parse.docx: a data table's rows as cells, a cell merged from the one above is not
repeated, a blank cell is TextCell(''); paragraphs between; sources 'table T row R col C' (C counts the
row's cells) and 'paragraph N'. What is read:
- the text of the main document through the piece table (CLX), each piece 8-bit or UTF-16;
- paragraph properties (PAPX in their FKP pages) for what the text alone cannot say: which paragraphs
  lie in a table, which one ends a row (an empty cell and a row's end are both a \\x07), the nesting
  depth, and the row's cell list (sprmTDefTable) with its merge flags;
- character properties (CHPX) for text Word does not show: hidden, or deleted in tracked changes (a
  count changed from 12 to 28314 keeps the deleted '12' in the text);
- fields: their results shown, their codes not ('PAGE', 'HYPERLINK "..."');
- pictures (\\x01, \\x08) for 'tables are images'.
Not read: Word 6/95 files and encrypted files (each a clear rejection).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from io import BytesIO

from .core import TextCell
from .encoding import InputError
from .html import Page, clean

WORD_MAGIC = 0xA5EC
WORD_97 = 0xC0  # the first nFib of the format read here (Word 97 writes 0xC1, later versions more)
FKP_SIZE = 512
# Paragraph sprms ([MS-DOC] 2.6.2) and the one table sprm that lists a row's cells.
SPRM_IN_TABLE, SPRM_TTP, SPRM_ITAP = 0x2416, 0x2417, 0x6649
SPRM_INNER_CELL, SPRM_INNER_TTP = 0x244B, 0x244C
SPRM_DEF_TABLE, SPRM_VERT_MERGE = 0xD608, 0xD62B
SPRM_HUGE_PAPX = 0x6646  # the paragraph's properties are too large for its FKP page: in the Data stream
SPRM_DELETED, SPRM_HIDDEN = 0x0800, 0x083C  # character sprms: a tracked deletion, hidden text
SHOWN_OFF = (0x00, 0x80)  # a toggle operand that leaves the text shown (off, or as its style: not hidden)
_OPERAND_SIZE = {0: 1, 1: 1, 2: 2, 3: 4, 4: 2, 5: 2, 7: 3}  # by spra; 6 is variable
# TC80 flags of sprmTDefTable: a cell merged into the one before it, or into the one above.
TC_MERGED, TC_VERT_MERGE, TC_VERT_RESTART = 0x0002, 0x0020, 0x0040
CELL_MARK, PARAGRAPH_MARK = "\x07", "\r"
FIELD_BEGIN, FIELD_SEPARATOR, FIELD_END = "\x13", "\x14", "\x15"
PICTURES = "\x01\x08"  # an inline picture or object; a drawn (floating) object's anchor
# Other marks Word keeps in the text: shown as their meaning, or not at all.
_SHOWN = str.maketrans(
    {
        "\x00": None,
        "\x0b": "\n",
        "\x0c": "\n",
        "\x0e": "\n",
        "\x1e": "-",
        "\x1f": None,
        "\xa0": " ",
        "\x02": None,
        "\x03": None,
        "\x04": None,
        "\x05": None,
        "\x06": None,
    }
)


def read_page(data: bytes, path: str) -> Page:
    """Open the .doc and read its main text into a Page; raises InputError when it cannot be read."""
    import olefile

    try:
        ole = olefile.OleFileIO(BytesIO(data))
    except Exception as e:
        raise InputError("unreadable-file", path, f"Word 97-2003 文件结构损坏({type(e).__name__}: {e})") from None
    with ole:
        if not ole.exists("WordDocument"):
            raise InputError(
                "unreadable-file", path, "复合文档中找不到 WordDocument 流(文件不完整或已损坏,或不是 Word 文件)"
            )
        try:
            word = ole.openstream("WordDocument").read()
            fib = _Fib(word, path)
            table_name = "1Table" if fib.which_table else "0Table"
            if not ole.exists(table_name):
                raise InputError("unreadable-file", path, f"Word 文件缺少 {table_name} 流")
            table = ole.openstream(table_name).read()
            data_stream = ole.openstream("Data").read() if ole.exists("Data") else b""
        except (OSError, struct.error, ValueError) as e:  # olefile's damaged-sector errors
            raise InputError("unreadable-file", path, f"Word 97-2003 文件无法读取({type(e).__name__}: {e})") from None
    try:
        pieces = _pieces(table, fib, path)
        text = _without_unshown(_text(word, pieces, fib.ccp_text), _unshown(word, table, fib, pieces))
        ends = _paragraph_properties(word, table, data_stream, fib, pieces)
    except (struct.error, IndexError, ValueError) as e:
        raise InputError("unreadable-file", path, f"Word 97-2003 文件内容损坏({type(e).__name__}: {e})") from None
    return _assemble(text, ends)


class _Fib:
    """What the File Information Block says about where things are ([MS-DOC] 2.5.1)."""

    def __init__(self, word: bytes, path: str):
        if len(word) < 0x200:
            raise InputError("unreadable-file", path, "WordDocument 流太短,文件已损坏")
        ident, n_fib = struct.unpack_from("<HH", word, 0)
        flags = struct.unpack_from("<H", word, 0x0A)[0]
        if ident != WORD_MAGIC:
            raise InputError("unreadable-file", path, "WordDocument 流的标识不对,不是 Word 97-2003 文件")
        if n_fib < WORD_97:  # Word 6.0 and 95 (nFib 101-105): another FIB, no Unicode text
            raise InputError("unreadable-file", path, "Word 6.0/95 格式的文件过旧,请另存为 .docx 或 PDF")
        if flags & 0x0100:
            raise InputError("unreadable-file", path, "Word 文件已加密(设有打开密码),无法读取")
        self.which_table = bool(flags & 0x0200)
        csw = struct.unpack_from("<H", word, 32)[0]
        lw = 34 + 2 * csw  # cslw, then fibRgLw
        cslw = struct.unpack_from("<H", word, lw)[0]
        self.ccp_text = struct.unpack_from("<i", word, lw + 2 + 12)[0]
        fc_lcb = lw + 2 + 4 * cslw + 2  # after cbRgFcLcb
        self.fc_clx, self.lcb_clx = struct.unpack_from("<II", word, fc_lcb + 33 * 8)
        self.fc_papx, self.lcb_papx = struct.unpack_from("<II", word, fc_lcb + 13 * 8)
        self.fc_chpx, self.lcb_chpx = struct.unpack_from("<II", word, fc_lcb + 12 * 8)


@dataclass(frozen=True)
class _Piece:
    """A run of the text stored together: CPs [cp, cp_end) at byte `fc` of WordDocument."""

    cp: int
    cp_end: int
    fc: int
    compressed: bool  # one byte a character (cp1252) instead of two (UTF-16)

    @property
    def fc_end(self) -> int:
        return self.fc + (self.cp_end - self.cp) * (1 if self.compressed else 2)


def _pieces(table: bytes, fib: _Fib, path: str) -> list[_Piece]:
    """The piece table (the Pcdt of the CLX, after any Prc of properties)."""
    pos, end = fib.fc_clx, fib.fc_clx + fib.lcb_clx
    while pos < end and table[pos] == 0x01:
        pos += 3 + struct.unpack_from("<H", table, pos + 1)[0]
    if pos >= end or table[pos] != 0x02:
        raise InputError("unreadable-file", path, "Word 文件的文本索引(piece table)缺失或损坏")
    lcb = struct.unpack_from("<I", table, pos + 1)[0]
    plc = pos + 5
    n = (lcb - 4) // 12
    cps = struct.unpack_from(f"<{n + 1}I", table, plc)
    pieces = []
    for i in range(n):
        fc = struct.unpack_from("<I", table, plc + 4 * (n + 1) + 8 * i + 2)[0]
        compressed = bool(fc & 0x40000000)
        fc &= 0x3FFFFFFF
        pieces.append(_Piece(cps[i], cps[i + 1], fc // 2 if compressed else fc, compressed))
    return pieces


def _text(word: bytes, pieces: list[_Piece], ccp_text: int) -> str:
    """The main document's characters, CP 0 to ccp_text (headers, footnotes and the rest follow it)."""
    parts = []
    for p in pieces:
        if p.cp >= ccp_text:
            break
        end = min(p.cp_end, ccp_text)
        raw = word[p.fc : p.fc + (end - p.cp) * (1 if p.compressed else 2)]
        parts.append(
            raw.decode("cp1252", errors="replace") if p.compressed else raw.decode("utf-16-le", errors="replace")
        )
    return "".join(parts)


def _fkp_pages(word: bytes, table: bytes, fc: int, lcb: int):
    """The 512-byte FKP pages a PlcBteChpx or PlcBtePapx points to, with their run count."""
    if lcb < 12:
        return
    n = (lcb - 4) // 8
    for pn in struct.unpack_from(f"<{n}I", table, fc + 4 * (n + 1)):
        page = word[(pn & 0x3FFFFF) * FKP_SIZE :][:FKP_SIZE]
        if len(page) == FKP_SIZE:
            yield page, page[FKP_SIZE - 1]


def _unshown(word: bytes, table: bytes, fib: _Fib, pieces: list[_Piece]) -> list[tuple[int, int]]:
    """CP ranges of text Word does not show: hidden, or deleted with changes tracked (CHPX FKPs)."""
    out = []
    for page, crun in _fkp_pages(word, table, fib.fc_chpx, fib.lcb_chpx):
        fcs = struct.unpack_from(f"<{crun + 1}I", page, 0)
        for i in range(crun):
            offset = page[4 * (crun + 1) + i] * 2
            if not offset:
                continue
            grpprl = page[offset + 1 : offset + 1 + page[offset]]
            if any(
                sprm in (SPRM_DELETED, SPRM_HIDDEN) and operand and operand[0] not in SHOWN_OFF
                for sprm, operand in _sprms(grpprl)
            ):
                out += _cp_ranges(fcs[i], fcs[i + 1], pieces)
    return out


def _cp_ranges(fc: int, fc_end: int, pieces: list[_Piece]) -> list[tuple[int, int]]:
    """The CP ranges of the characters stored in bytes [fc, fc_end)."""
    out = []
    for p in pieces:
        a, b = max(fc, p.fc), min(fc_end, p.fc_end)
        if a < b:
            width = 1 if p.compressed else 2
            out.append((p.cp + (a - p.fc) // width, p.cp + (b - p.fc + width - 1) // width))
    return out


def _without_unshown(text: str, ranges: list[tuple[int, int]]) -> str:
    """`text` with the characters of `ranges` blanked out (to \x00, dropped when shown), its paragraph and
    cell marks kept where they are: CPs stay the paragraph properties' keys."""
    if not ranges:
        return text
    chars = list(text)
    for a, b in ranges:
        for cp in range(a, min(b, len(chars))):
            if chars[cp] not in (PARAGRAPH_MARK, CELL_MARK):
                chars[cp] = "\x00"
    return "".join(chars)


@dataclass
class _Para:
    """The properties of one paragraph that decide where it goes."""

    in_table: bool = False
    row_end: bool = False  # the paragraph is a row's end mark (TTP)
    depth: int = 0  # table nesting depth (1: a table in the body)
    continued: list[bool] = field(default_factory=list)  # per cell of a row end: merged into the one before/above


def _paragraph_properties(word: bytes, table: bytes, data: bytes, fib: _Fib, pieces: list[_Piece]) -> dict[int, _Para]:
    """{CP of a paragraph's last character: its properties} from the PAPX FKP pages."""
    out: dict[int, _Para] = {}
    for page, crun in _fkp_pages(word, table, fib.fc_papx, fib.lcb_papx):
        fcs = struct.unpack_from(f"<{crun + 1}I", page, 0)
        for i in range(crun):
            offset = page[4 * (crun + 1) + 13 * i] * 2
            para = _papx(page, offset, data) if offset else _Para()
            for cp, _ in _cp_ranges(fcs[i + 1] - 1, fcs[i + 1], pieces)[:1]:  # its last character's CP
                out[cp] = para
    return out


def _papx(page: bytes, offset: int, data: bytes) -> _Para:
    """A PapxInFkp: its sprms read into a _Para (from the Data stream when they are too large for the page:
    a row's end with its many cells)."""
    cb = page[offset]
    if cb:
        grpprl = page[offset + 1 : offset + 2 * cb]  # 2*cb - 1 bytes
    else:
        grpprl = page[offset + 2 : offset + 2 + 2 * page[offset + 1]]
    sprms = list(_sprms(grpprl[2:]))  # after the style index
    huge = next((operand for sprm, operand in sprms if sprm == SPRM_HUGE_PAPX and len(operand) == 4), None)
    if huge is not None:
        at = struct.unpack("<I", huge)[0]
        size = struct.unpack_from("<H", data, at)[0] if at + 2 <= len(data) else 0
        sprms += _sprms(data[at + 2 : at + 2 + size])
    para = _Para()
    for sprm, operand in sprms:
        if sprm == SPRM_IN_TABLE:
            para.in_table = bool(operand[0])
            para.depth = max(para.depth, 1 if para.in_table else 0)
        elif sprm == SPRM_TTP:
            para.row_end = bool(operand[0])
        elif sprm == SPRM_ITAP:
            para.depth = struct.unpack_from("<i", operand)[0]
        elif sprm == SPRM_DEF_TABLE:
            para.continued = _continued_cells(operand)
        elif sprm == SPRM_VERT_MERGE and len(operand) >= 2 and operand[0] < len(para.continued):
            para.continued[operand[0]] = operand[1] == 1  # 1: merged with the cell above
    return para


def _sprms(grpprl: bytes):
    """(sprm, operand) pairs of a grpprl; a variable operand without its size."""
    pos = 0
    while pos + 2 <= len(grpprl):
        sprm = struct.unpack_from("<H", grpprl, pos)[0]
        pos += 2
        if sprm == SPRM_DEF_TABLE:  # the one operand whose size takes two bytes (and counts one more)
            size = struct.unpack_from("<H", grpprl, pos)[0] - 1 if pos + 2 <= len(grpprl) else 0
            pos += 2
        elif sprm >> 13 == 6:
            size = grpprl[pos] if pos < len(grpprl) else 0
            pos += 1
        else:
            size = _OPERAND_SIZE[sprm >> 13]
        yield sprm, grpprl[pos : pos + size]
        pos += size


def _continued_cells(operand: bytes) -> list[bool]:
    """From sprmTDefTable's TableDefineOperand: per cell, whether it continues a merge (a vertical merge's
    lower cell, or a legacy horizontal merge's later cell)."""
    if not operand:
        return []
    count = operand[0]
    tcs = 1 + 2 * (count + 1)
    out = []
    for i in range(count):
        at = tcs + 20 * i
        flags = struct.unpack_from("<H", operand, at)[0] if at + 2 <= len(operand) else 0
        out.append(bool(flags & TC_MERGED) or (bool(flags & TC_VERT_MERGE) and not flags & TC_VERT_RESTART))
    return out


def _assemble(text: str, props: dict[int, _Para]) -> Page:
    """Paragraphs and table rows in document order."""
    page, builder = Page(), _Tables()
    start = 0
    for cp, ch in enumerate(text):
        if ch not in (PARAGRAPH_MARK, CELL_MARK):
            continue
        para = props.get(cp, _Para())
        body = text[start:cp]
        start = cp + 1
        if para.in_table or para.depth >= 1:
            builder.add(page, body, para, ends_cell=ch == CELL_MARK)
            continue
        builder.close(page)
        for line in _shown(body, page, in_table=False).split("\n"):
            page.paragraph(line)
    builder.close(page)
    return page


class _Tables:
    """Rows of the table being read: cells close at a cell mark, rows at a row end (TTP) paragraph."""

    def __init__(self):
        self.rows: list[tuple[list[str], list[bool]]] = []  # each row's cells, and which continue a merge
        self.row: list[str] = []
        self.cell: list[str] = []

    def add(self, page: Page, body: str, para: _Para, ends_cell: bool) -> None:
        if para.depth > 1:  # a table in a cell: its text goes into the outer cell
            if body.strip():
                self.cell.append(_shown(body, page, in_table=True))
            return
        if para.row_end:
            self.rows.append((self.row, para.continued))
            self.row, self.cell = [], []
            return
        self.cell.append(_shown(body, page, in_table=True))
        if ends_cell:
            self.row.append("\n".join(self.cell))
            self.cell = []

    def close(self, page: Page) -> None:
        """End the table being read (a paragraph outside it follows, or the document ends)."""
        if self.row or self.cell:  # a row without its end mark: keep what it holds
            self.rows.append((self.row + (["\n".join(self.cell)] if self.cell else []), []))
        rows, self.rows, self.row, self.cell = self.rows, [], [], []
        if not rows:
            return
        if not any(
            sum(1 for k in range(len(cells)) if not (k < len(cont) and cont[k])) >= 2 for cells, cont in rows
        ):  # a one-column layout table: its cells are paragraphs
            for cells, _ in rows:
                for text in cells:
                    for line in text.split("\n"):
                        page.paragraph(line)
            return
        page.tables += 1
        t = page.tables
        for r, (cells, cont) in enumerate(rows, start=1):
            line = [
                TextCell(clean(text), f"table {t} row {r} col {k}")
                for k, text in enumerate(cells, start=1)
                if not (k - 1 < len(cont) and cont[k - 1])
            ]
            if line:
                page.lines.append(line)


def _shown(body: str, page: Page, in_table: bool) -> str:
    """A paragraph's text as shown: field results without their codes, pictures noted, marks replaced."""
    if FIELD_BEGIN in body:
        out, stack = [], []  # per open field: whether its result has begun
        for ch in body:
            if ch == FIELD_BEGIN:
                stack.append(False)
            elif ch == FIELD_SEPARATOR and stack:
                stack[-1] = True
            elif ch == FIELD_END and stack:
                stack.pop()
            elif all(stack):
                out.append(ch)
        body = "".join(out)
    if any(c in body for c in PICTURES):
        if in_table:
            page.images_in_data_tables = True
        else:
            page.images_at.append(len(page.lines))
        body = body.replace("\x01", "").replace("\x08", "")
    return body.translate(_SHOWN)
