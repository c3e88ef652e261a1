"""Word 97-2003 (.doc) input: documents LibreOffice saved in the binary format
(tests/fixtures/wordprocessor/make.py), read back; damaged and foreign compound files named errors."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from test_roundtrip import assert_same

from nianbao.parse import parse_file, sniff
from nianbao.parse.doc import _shown, read_page
from nianbao.parse.encoding import InputError
from nianbao.parse.html import Page

FIXTURES = Path(__file__).parent / "fixtures" / "wordprocessor"
DOCS = sorted(FIXTURES.glob("*.doc"))


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.stem)
def test_a_doc_parses_back_exactly(path):
    """Each .doc parses to the report it holds: both formats, (六) as one row, blanks, agency and format."""
    report = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    parsed = parse_file(path)
    assert_same(parsed, report)
    assert (parsed.format_version, parsed.agency) == (report["format_version"], report["agency"])


def test_merged_cells_appear_once_and_rows_stay_in_one_table():
    """Table 三's group labels merged down their rows appear once, in their first row; a row ends at its
    end mark, not at the \\x07 of an empty cell, so each statutory table is one table of whole rows."""
    page = read_page((FIXTURES / "html-2021.doc").read_bytes(), "html-2021.doc")
    rows = {line[0].text: [c.text for c in line] for line in page.lines if line[0].source.startswith("table 2 ")}
    assert page.tables == 3
    assert rows["三、本年度办理结果"][:2] == ["三、本年度办理结果", "（一）予以公开"]
    assert rows["（三）不予公开"][:2] == ["（三）不予公开", "1.属于国家秘密"]
    assert rows["2.其他法律行政法规禁止公开"][0] == "2.其他法律行政法规禁止公开"  # no blank for the merged cells
    assert all(len(cells) == 8 for label, cells in rows.items() if label.startswith(("一、", "二、", "四、")))


@pytest.mark.parametrize(
    "body,shown",
    [
        ("第\x13 PAGE \x143\x15页", "第3页"),  # a field: its result, not its code
        ('\x13 HYPERLINK "http://x" \x14见\x13 REF a \x14附件\x15\x15', "见附件"),  # fields inside fields
        ("\x13 TOC \\o \x15目录", "目录"),  # a field without a result
        ("一\x0b二\xa0三\x1e四\x1f", "一\n二 三-四"),  # line break, no-break space, hyphens
    ],
)
def test_what_a_paragraph_shows(body, shown):
    assert _shown(body, Page(), in_table=False) == shown


def test_pictures_are_noted_where_they_stand():
    """A picture in a table cell marks the tables as images; one outside notes the line it stands at."""
    page = Page()
    assert _shown("表\x01", page, in_table=True) == "表" and page.images_in_data_tables
    page = Page()
    _shown("\x01", page, in_table=False)
    assert page.images_at == [0] and not page.images_in_data_tables


def _with_fib(data: bytes, set_flags: int = 0, n_fib: int | None = None) -> bytes:
    """The .doc with its File Information Block changed in place: it opens the WordDocument stream, at
    the start of a 512-byte sector of the compound file, with the Word magic 0xA5EC."""
    at = next(i for i in range(512, len(data), 512) if data[i : i + 2] == struct.pack("<H", 0xA5EC))
    out = bytearray(data)
    struct.pack_into("<H", out, at + 0x0A, struct.unpack_from("<H", out, at + 0x0A)[0] | set_flags)
    if n_fib is not None:
        struct.pack_into("<H", out, at + 2, n_fib)
    return bytes(out)


@pytest.mark.parametrize(
    "change,detail",
    [
        (lambda d: _with_fib(d, set_flags=0x0100), "已加密"),  # fEncrypted
        (lambda d: _with_fib(d, n_fib=104), "Word 6.0/95"),  # Word 95's nFib
        (lambda d: d[:3000], "文件结构损坏"),  # cut short: the directory is gone
        (lambda d: d[:512] + bytes(len(d) - 512), "找不到 WordDocument"),  # all but the header zeroed
    ],
)
def test_damaged_old_or_encrypted_docs_are_named_rejections(tmp_path, change, detail):
    """Each ends rejected as unreadable-file, naming the file and what is wrong; none is a parser crash."""
    path = tmp_path / "report.doc"
    path.write_bytes(change((FIXTURES / "html-2021.doc").read_bytes()))
    parsed = parse_file(path)
    assert parsed.status == "rejected" and parsed.reason.startswith("unreadable-file: "), parsed.reason
    assert detail in parsed.reason and parsed.source_file == str(path)


def test_compound_files_that_are_not_word_are_told_apart():
    """An OLE compound file is a Word document when it has a WordDocument stream, or is named .doc/.wps
    (damaged: its reader says what is wrong); an Excel workbook is an unknown kind, and so is a .docx
    with a password, said to be encrypted."""
    word = (FIXTURES / "html-2021.doc").read_bytes()
    excel = word.replace("WordDocument".encode("utf-16-le"), "Workbook\0\0\0\0".encode("utf-16-le"))
    assert sniff(word, ".doc") == sniff(word, ".bin") == "doc"
    assert sniff(excel, ".doc") == sniff(excel, ".wps") == "doc"
    assert sniff(excel, ".xls").startswith("unknown:")
    locked = excel + "EncryptedPackage".encode("utf-16-le")  # a .docx with a password is a compound file
    assert sniff(locked, ".docx").startswith("unknown:加密的 Office 文件")
    with pytest.raises(InputError) as err:
        read_page(excel, "/in/report.doc")
    assert (
        err.value.code == "unreadable-file" and "WordDocument" in str(err.value) and "/in/report.doc" in str(err.value)
    )
