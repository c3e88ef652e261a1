"""Parser core, text layouts, encodings, bad input, metadata and `nianbao parse`, on real files and
variants of them (000.txt is a complete 2021 report; each test changes what it is about)."""

from __future__ import annotations

import difflib
import json
import os
import random
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from nianbao import schema as S
from nianbao.parse import labels as L
from nianbao.parse import parse_file
from nianbao.parse import render as R
from nianbao.parse.core import TextCell, parse_lines
from nianbao.parse.metadata import read_metadata
from nianbao.parse.text import pipe_cells
from nianbao.paths import ROOT

CORPUS = Path(os.environ.get("NIANBAO_CORPUS", ROOT.parent / "shared" / "corpus"))
REAL = CORPUS / "real"
TEXT_000 = (REAL / "000.txt").read_text(encoding="utf-8")
JSON_000 = json.loads((REAL / "000.json").read_text(encoding="utf-8"))
NO_TABLES = {"active": None, "applications": None, "review_litigation": None}


def write(tmp_path: Path, content: str | bytes, name: str = "report.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def variant(*edits: tuple[str, str]) -> str:
    """000.txt with exact line edits (old line -> new line), each of which must apply once."""
    text = TEXT_000
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def as_json(value):
    return json.loads(json.dumps(value))


# --- Label vocabulary.


@pytest.mark.parametrize(
    "printed,key",
    [
        ("二、主動(dòng)公開政府信息情況", "2"),  # traditional, pinyin ruby (017)
        ("第二十條第(一)項(xiàng)", "一"),
        ("（二）部分公开（区分处理的，只计这一情 形，不", "partly_granted"),  # cut by a line break (002)
        ("(二)部分公开(区分处理的,只计这一情况,不计其他情形)", "partly_granted"),  # altered word (007)
        ("2.其他法律行政止公开", "withheld_2"),  # typo (002)
        ("(五)不予以处理", "not_processed"),
        ("1、申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", "other_1"),
        ("3.其他", "other_3"),
        ("（七）总计", "total"),
        ("四、结转下年度继续办理", "carried_forward"),
        ("现行有效件数 (历史累计)", "现行有效件数"),
        ("现行有效件", "现行有效件数"),  # 029, 019
        ("本年新\n制作数量", "本年新制作数量"),
        ("处理决定数量", "处理决定数量"),  # 2019 headers
        ("四、政府信息公开行政复议、行政诉讼情况", "4"),
        ("三、依申请公开政府信息办理情况", "3"),
    ],
)
def test_labels_match_printed_variants(printed, key):
    """Variants seen in real reports match their label."""
    assert L.match(printed).key == key


@pytest.mark.parametrize(
    "printed",
    [
        "本年",
        "规章000",
        "其他需要",
        "计其他情形）",
        "0",
        "商业",
        "2021年,市政府办公室认真贯彻落实国务院办公厅政务公开办",
    ],
)
def test_labels_do_not_match_fragments(printed):
    """Ambiguous fragments, glued numbers and prose match no label."""
    assert L.match(printed) is None


def test_similarity_bounds_rule_out_only_what_difflib_would():
    """_by_similarity skips SequenceMatcher for candidates whose upper bounds are below the threshold;
    on typo'd, cut and extended labels it must choose exactly as scoring every candidate would."""

    def scored_everywhere(s):
        num, scored = L._numeral(s), []
        for key, lab, *_ in L._FUZZY:
            knum = L._numeral(key)
            if 0.6 <= len(key) / len(s) <= 1.6 and not (num and knum and num != knum):
                m = difflib.SequenceMatcher(None, s, key, autojunk=False)
                if m.real_quick_ratio() >= L.FUZZY_THRESHOLD and m.quick_ratio() >= L.FUZZY_THRESHOLD:
                    scored.append((m.ratio(), lab))
        scored.sort(key=lambda t: -t[0])
        if not scored or scored[0][0] < L.FUZZY_THRESHOLD:
            return None
        if len(scored) > 1 and scored[1][1] != scored[0][1] and scored[0][0] - scored[1][0] < 0.05:
            return None
        return scored[0][1]

    rng, keys = random.Random(3), sorted(L.VOCAB)
    alphabet = sorted(set("".join(keys))) + list("的了是在有机关年度")
    matched = 0
    for _ in range(3000):
        chars = list(rng.choice(keys))
        for _ in range(rng.randint(0, 3)):
            i = rng.randrange(len(chars))
            op = rng.randrange(3)
            if op == 0:
                chars[i] = rng.choice(alphabet)
            elif op == 1:
                chars.insert(i, rng.choice(alphabet))
            elif len(chars) > 1:
                del chars[i]
        s = "".join(chars)
        if len(s) >= 5:
            expected = scored_everywhere(s)
            assert L._by_similarity(s) == expected, s
            matched += expected is not None
    assert matched > 500  # the comparison covered real matches, not only rejections


def test_format_specific_headers_carry_their_version():
    """2019 and 2021 table-二 headers are told apart (detection from structure, never from the year)."""
    assert L.match("本年处理决定数量").version == "2021" and L.match("上一年项目数量").version == "2019"
    assert L.match("第二十条第（九）项").version == "2019" and L.match("规范性文件").version == ""


# --- Layouts and values.


def test_000_parses_complete(tmp_path):
    """The complete 2021 report: parsed, every table equal to the transcription, metadata from the title."""
    report = parse_file(REAL / "000.txt")
    assert (report.status, report.reason, report.missing) == ("parsed", "", [])
    assert as_json(report.tables) == JSON_000["tables"]
    assert (report.agency, report.year, report.format_version) == ("深州市人民政府办公室", 2021, "2021")
    assert len(report.cells) == 10 + 175 + 15


def test_non_numeric_and_blank_cells_are_kept_as_printed(tmp_path):
    """'/', '—', '无', '? 0', '3件' stay strings, a blank cell is None, decimals stay as printed; none becomes 0."""
    text = variant(
        ("规章 | 0 | 0 | 0 |", "规章 | / | — | 无 |"),
        ("行政许可 | 0 |", "行政许可 | ? 0 |"),
        ("行政处罚 | 0 |", "行政处罚 |  |"),
        ("行政强制 | 0 |", "行政强制 | 3件 |"),
        ("2 | 0 | 0 | 0 | 2 | 1 | 0", "2 | 0 | 0 | 0 | 2.50 | 1 | 0"),
    )
    report = parse_file(write(tmp_path, text))
    active = report.tables["active"]
    assert (active["rules"], active["licensing"], active["punishment"]) == (["/", "—", "无"], "? 0", None)
    assert active["enforcement"] == "3件"
    assert active["fees_10k_yuan"] == 180.338174
    assert report.tables["review_litigation"]["review"] == [2, 0, 0, 0, 2.5]
    cells = {c.column: c for c in report.cells}
    assert (cells["rules_issued"].text, cells["punishment_decisions"].text) == ("/", "")
    assert cells["review_total"].text == "2.50"


def test_label_variants_parse_like_the_original(tmp_path):
    """Full-width brackets and digits, spaces in labels, traditional characters and typos change nothing."""
    text = variant(
        ("2.其他法律行政法规禁止公开 |", "2.其他法律行政止公开 |"),
        ("(三)不予公开 | 1.属于国家秘密 |", "（三）不予公开 | １.属于 国家秘密 |"),
        ("4.保护第三方合法权益 |", "4．保护第三方 合法权益 |"),
        ("行政处罚 | 0 |", "行政處罰 | 0 |"),
        (
            "(二)部分公开(区分处理的,只计这一情形,不计其他情形) |",
            "(二)部分公开(区分处理的,只计这一情况,不计其他情形) |",
        ),
    )
    report = parse_file(write(tmp_path, text))
    assert (report.status, as_json(report.tables)) == ("parsed", JSON_000["tables"])


# Look-alike code points a PDF's text layer gives for ordinary ideographs (text copied from it keeps them):
# every character that has a compatibility ideograph or a Kangxi radical form (NFKC maps both back), and
# six CJK radical supplements (U+2EA0 ⺠, U+2ED3 ⻓, U+2ED4 ⻔, U+2EAB ⺫, U+2EC5 ⻅, U+2EC4 ⻄), which NFKC
# leaves as they are.
LOOK_ALIKES = {
    **{unicodedata.normalize("NFKC", chr(c)): chr(c) for c in (*range(0xF900, 0xFB00), *range(0x2F800, 0x2FA20))},
    **{unicodedata.normalize("NFKC", chr(c)): chr(c) for c in range(0x2F00, 0x2FD6)},
    "民": "⺠",
    "长": "⻓",
    "门": "⻔",
    "目": "⺫",
    "见": "⻅",
    "西": "⻄",
}


def look_alike(text: str) -> str:
    """`text` with every character that has a look-alike form written in that form."""
    return "".join(LOOK_ALIKES.get(ch, ch) for ch in text)


@pytest.mark.parametrize(
    "name,text",
    [
        ("000 with 无 cells", variant(("规章 | 0 | 0 | 0 |", "规章 | 无 | 0 | 无 |"))),  # pipe rows, 2021
        ("027", (REAL / "027.tables.txt").read_text(encoding="utf-8")),  # one cell per paragraph, 2019
        (
            "pdftotext",
            (Path(__file__).parent / "fixtures" / "wordprocessor" / "html-2021.pdftotext-layout.txt").read_text(
                encoding="utf-8"
            ),
        ),  # space-separated PDF text
    ],
    ids=["000", "027", "pdftotext"],
)
def test_look_alike_ideographs_parse_like_the_original(tmp_path, name, text):
    """Labels, title and cells written with Kangxi radicals, radical supplements and compatibility
    ideographs parse to what the original parses to: every value, every cell as printed ('⽆' as 无), the
    agency (人⺠政府 as 人民政府), the outcome."""
    rewritten = look_alike(text)
    assert sum(a != b for a, b in zip(text, rewritten)) >= 50 and "⾏政" in rewritten  # labels hold them
    want = parse_file(write(tmp_path, text, "original.txt"))
    got = parse_file(write(tmp_path, rewritten, "look-alike.txt"))
    assert want.cells and got.to_json() == want.to_json()
    assert [(c.table, c.column, c.text, c.value, c.source) for c in got.cells] == [
        (c.table, c.column, c.text, c.value, c.source) for c in want.cells
    ]


def test_a_look_alike_blank_word_is_kept_as_the_word_it_prints(tmp_path):
    """'⽆' (U+2F46), how Noto CJK's text layer gives 无, is a value kept as '无', not as text of its own."""
    report = parse_file(write(tmp_path, variant(("规章 | 0 | 0 | 0 |", "规章 | ⽆ | 0 | ⽆ |"))))
    assert report.status == "parsed" and report.tables["active"]["rules"] == ["无", 0, "无"]
    assert [c.text for c in report.cells if c.column.startswith("rules_")] == ["无", "0", "无"]


def test_other_processing_as_one_row_is_a_deviation(tmp_path):
    """A 2021 table 三 printing (六)其他处理 as one row: parsed, key 'other', deviation flagged."""
    text = TEXT_000
    start, end = text.index("(六)其他处理 |"), text.index("(七)总计 |")
    text = text[:start] + "(六)其他处理 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |\n" + text[end:]
    report = parse_file(write(tmp_path, text))
    assert (report.status, report.format_version, report.deviations) == ("parsed", "2021", ["other-single-row"])
    assert list(report.tables["applications"]) == list(S.APPLICATION_ROW_KEYS_SINGLE)
    assert report.tables["applications"]["other"] == [0] * 7


def test_a_row_with_a_missing_cell_is_left_out_not_guessed(tmp_path):
    """A table-三 row printing 6 of its 7 cells is missing (with its line), the other rows are read."""
    short = "3.危及“三安全一稳定” | 0 | 0 | 0 | 0 | 0 | 0 |"
    text = variant(("3.危及“三安全一稳定” | 0 | 0 | 0 | 0 | 0 | 0 | 0 |", short))
    report = parse_file(write(tmp_path, text))
    assert report.status == "partial" and report.missing == ["applications.withheld_3"]
    line = text.splitlines().index(short) + 1
    assert report.reason.startswith("tables-incomplete: ") and f"line {line} " in report.reason
    assert "withheld_3" not in report.tables["applications"]
    assert report.tables["applications"]["withheld_4"] == [0] * 7
    assert not any(c.column.startswith("withheld_3_") for c in report.cells)


def test_tab_separated_rows(tmp_path):
    """000's tables pasted with a tab between cells (a table copied from a browser or Word), its prose
    indented with a tab, parse the same; two tabs hold a blank cell, which stays in its column."""
    from nianbao.parse.text import pipe_cells

    lines = ["\t".join(pipe_cells(x, markdown=False)) if "|" in x else "\t" + x for x in TEXT_000.splitlines()]
    report = parse_file(write(tmp_path, "\n".join(lines)))
    assert (report.status, report.reason) == ("parsed", "")
    assert report.tables == JSON_000["tables"]
    row = next(i for i, x in enumerate(lines) if x.startswith("行政规范性文件\t"))
    lines[row] = "行政规范性文件\t\t0\t3"
    report = parse_file(write(tmp_path, "\n".join(lines)))
    assert report.tables["active"]["normative_docs"] == [None, 0, 3]


def _drawn(text: str, bar: str, rule: str) -> str:
    """Each table row of `text` with `bar` for '|' and a `rule` line above it."""
    return "\n".join(f"{rule}\n{x.replace('|', bar)}" if "|" in x else x for x in text.splitlines())


@pytest.mark.parametrize(
    "bar,rule",
    [("｜", ""), ("│", "├──────┼──────┼──────┤"), ("|", "+------+------+------+"), ("║", "╠══════╬══════╣")],
    ids=["fullwidth", "box", "grid", "double"],
)
def test_drawn_tables(tmp_path, bar, rule):
    """000's tables with the full-width bar a Chinese input method types, or drawn with box characters or
    ASCII rules between rows, parse the same; a cell's source is still its own line."""
    text = _drawn(TEXT_000, bar, rule) if rule else TEXT_000.replace("|", bar)
    report = parse_file(write(tmp_path, text))
    assert (report.status, report.reason) == ("parsed", "")
    assert report.tables == JSON_000["tables"]
    cell = next(c for c in report.cells if c.table == "active_disclosure" and c.column == "normative_in_force")
    assert text.splitlines()[int(cell.source.split()[1]) - 1].startswith("行政规范性文件")


def test_a_table_whose_cells_run_together_is_reported(tmp_path):
    """Table 四 printed without separators: partial, reason cells-run-together, no table-四 value."""
    start, end = TEXT_000.index("行政复议 | 行政诉讼 |"), TEXT_000.index("五、存在的主要问题")
    glued = "行政复议行政诉讼结果维持结果纠正其他结果尚未审结总计200021000120002\n"
    report = parse_file(write(tmp_path, TEXT_000[:start] + glued + TEXT_000[end:]))
    assert report.status == "partial" and report.missing == ["review_litigation"]
    assert report.reason.startswith("cells-run-together: ")
    assert report.tables["review_litigation"] is None
    assert report.tables["applications"] == JSON_000["tables"]["applications"]


def test_one_cell_per_paragraph_layout(tmp_path):
    """000's tables written one cell per blank-line paragraph, a blank cell as a lone ' ' (019), parse the same."""
    lines = TEXT_000.splitlines()
    start, end = lines.index("二、主动公开政府信息情况"), lines.index("五、存在的主要问题及改进情况")
    cells = [
        c.strip() or " "
        for line in lines[start:end]
        for c in (line.rstrip().removesuffix("|").split("|") if "|" in line else [line])
    ]
    text = "\n".join(lines[:start]) + "\n\n" + "\n\n".join(cells) + "\n\n" + "\n".join(lines[end:])
    report = parse_file(write(tmp_path, text))
    assert (report.status, report.reason) == ("parsed", "")
    assert as_json(report.tables) == JSON_000["tables"]
    assert report.tables["applications"]["other_2"] == [None] * 7


def test_ocr_markdown_with_html_tables(tmp_path):
    """OCR-style markdown: '#' headings, prose, and the tables as HTML: read by the HTML reader."""
    out, rows = [], []
    for line in TEXT_000.splitlines():
        if "|" in line:
            cells = [c.strip() for c in line.rstrip().removesuffix("|").split("|")]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if rows:
            out, rows = [*out, "<table>" + "".join(rows) + "</table>"], []
        out.append(("## " if re.match("^[一二三四五六]、", line) else "") + line)
    report = parse_file(write(tmp_path, "\n\n".join(out), "ocr.md"))
    assert (report.status, report.agency, report.year) == ("parsed", "深州市人民政府办公室", 2021)
    assert as_json(report.tables) == JSON_000["tables"]


def test_parse_lines_takes_reader_rows():
    """The core on rows from an HTML/Word reader: a grid with an empty label column and spanned cells."""
    rows = [
        ["二、主动公开政府信息情况"],
        ["第二十条第（一）项"],
        ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"],
        ["规章", "0", "0", "0"],
        ["规范性文件", "8", "0", "18"],
        ["三、收到和处理政府信息公开申请情况"],
        ["", "（六）其他处理", "", "1", "0", "0", "0", "0", "0", "1"],
    ]
    lines = [[TextCell(t, f"table 1 row {r} col {c}") for c, t in enumerate(row, 1)] for r, row in enumerate(rows, 1)]
    report = parse_lines(lines, source_file="x.html", sha256="0" * 64, text="")
    assert report.tables["active"] == {"rules": [0, 0, 0], "normative_docs": [8, 0, 18]}
    assert report.tables["applications"] == {"other": [1, 0, 0, 0, 0, 0, 1]}
    assert report.status == "partial" and "active.licensing" in report.missing
    assert report.cells[0].source == "table 1 row 4 col 2"


# --- Encodings.


@pytest.mark.parametrize(
    "encoding,prefix", [("gb18030", b""), ("gbk", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe")]
)
def test_encodings_are_detected(tmp_path, encoding, prefix):
    """GB18030/GBK, UTF-8 with BOM and UTF-16 with BOM read like the UTF-8 original."""
    report = parse_file(write(tmp_path, prefix + TEXT_000.encode(encoding)))
    assert (report.status, report.agency) == ("parsed", "深州市人民政府办公室")
    assert as_json(report.tables) == JSON_000["tables"]


def test_big5_traditional_report(tmp_path):
    """017 (traditional characters) saved as Big5 without its pinyin: the same tables as its transcription."""
    text = re.sub(r"\([a-zà-ǜ]+\)", "", (REAL / "017.tables.txt").read_text(encoding="utf-8"))
    report = parse_file(write(tmp_path, text.encode("big5")))
    expected = json.loads((REAL / "017.json").read_text(encoding="utf-8"))["tables"]
    assert report.status == "partial" and as_json(report.tables) == expected


# --- Bad input: never raises, always a rejection with a reason code and what is wrong.


def _pdf(content: bytes) -> bytes:
    """A minimal one-page PDF whose page draws `content` (no text objects)."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R /Resources << >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)


IMAGE_PAGE = b"q 100 0 0 100 10 10 cm BI /W 2 /H 2 /CS /G /BPC 8 ID \x00\xff\xff\x00 EI Q"
BAD_INPUTS = [
    ("empty.txt", b"", "empty-file"),
    ("blank.txt", b" \n\t\n", "empty-file"),
    ("nul.txt", b"\x00\x01\x02binary" * 100, "binary-file"),
    ("latin.txt", bytes(range(0x80, 0x100)) * 4, "encoding-undetected"),
    ("prose.txt", "我市未收取过信息处理费用。\n".encode(), "no-tables-found"),
    ("glued.txt", "规章000行政规范性文件6233440行政许可4529\n".encode(), "cells-run-together"),
    ("corrupt.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", "unreadable-file"),
    ("fake.pdf", b"not a pdf at all", "unknown-file-kind"),
    ("blank.pdf", _pdf(b""), "no-text-layer"),
    ("scan.pdf", _pdf(IMAGE_PAGE), "tables-are-images"),
    ("scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "tables-are-images"),
    ("broken.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "unreadable-file"),
    ("sheet.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "unknown-file-kind"),
    ("archive.zip", b"PK\x03\x04" + b"\x00" * 64, "unknown-file-kind"),
]


@pytest.mark.parametrize("name,data,code", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_rejected_with_a_reason(tmp_path, name, data, code):
    """Each bad file is rejected with its code, a detail, its hash and no table."""
    path = write(tmp_path, data, name)
    report = parse_file(path)
    assert report.status == "rejected" and report.reason.startswith(code + ": ")
    assert len(report.reason) > len(code) + 4
    assert report.source_file == str(path) and len(report.source_sha256) == 64
    assert report.tables == NO_TABLES and report.cells == []


def test_missing_and_huge_files(tmp_path):
    """A path that is no file, a directory, and a file over 50 MB (not read) are rejected."""
    assert parse_file(tmp_path / "nope.txt").reason.startswith("unreadable-file: ")
    assert parse_file(tmp_path).reason.startswith("unreadable-file: ")
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(51 * 1024 * 1024)  # sparse: no 51 MB written
    report = parse_file(huge)
    assert report.status == "rejected" and report.reason.startswith("file-too-large: ")


def test_a_long_text_without_tables(tmp_path):
    """A few MB of prose on one line: rejected no-tables-found, not a crash or a hang."""
    report = parse_file(write(tmp_path, "政府信息公开工作" * 300_000))
    assert report.reason.startswith("no-tables-found: ")


# --- Metadata.


@pytest.mark.parametrize(
    "head,agency,year,region",
    [
        ("深州市人民政府办公室\n2021年政府信息公开工作年度报告\n", "深州市人民政府办公室", 2021, None),
        ("盐边县新九镇人民政府 关于2021年度政府信息公开工作的年度报告\n", "盐边县新九镇人民政府", 2021, None),
        ("盐城市行政审批局政府信息公开工作2022年度情况的报告\n", "盐城市行政审批局", 2022, None),
        ("淮安市洪泽区人民政府\n2024 年政府信息公开工作年度报告\n", "淮安市洪泽区人民政府", 2024, "淮安市洪泽区"),
        ("江苏省人民政府2023年政府信息公开工作年度报告\n", "江苏省人民政府", 2023, "江苏省"),
        # A title in large type wraps where the line is full (PDF text lines, hard-wrapped text).
        ("深州市人民政府办公室2023年政府信息公开工作年\n度报告\n", "深州市人民政府办公室", 2023, None),
        ("盐城市行政审批局政府信息公开\n工作2022年度情况的报告\n", "盐城市行政审批局", 2022, None),
        ("淮安市洪泽区财政局2023年政\n府信息公开工作年度\n报告\n", "淮安市洪泽区财政局", 2023, "淮安市洪泽区"),
        # A line above the title is not joined to it: the title names the line above as its agency.
        ("首页 > 政务公开\n深州市人民政府办公室\n2021年政府信息公开工作年度报告\n", "深州市人民政府办公室", 2021, None),
        (
            "发布时间：2022年01月12日\n深州市人民政府办公室2021年政府信息公开工作年度报告\n",
            "深州市人民政府办公室",
            2021,
            None,
        ),
        ("本报告统计期限自2022年1月1日起至2022年12月31日止。\n", None, 2022, None),
        ("一、总体情况\n本机关认真落实条例。\n", None, None, None),
    ],
)
def test_metadata_from_title(head, agency, year, region):
    """Agency and year from the title (or the statistics period), region only when the name states it."""
    assert tuple(vars(read_metadata(head + "二、主动公开政府信息情况\n")).values()) == (agency, year, region)


def test_metadata_flags_override_the_text():
    """Keyword metadata wins over what the title says."""
    report = parse_file(REAL / "000.txt", agency="某局", region="河北省衡水市深州市", year=2020, level="county")
    assert (report.agency, report.region, report.year, report.level) == ("某局", "河北省衡水市深州市", 2020, "county")


# --- The command.


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nianbao.cli", "parse", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_json_equals_the_transcription():
    """`nianbao parse ../shared/corpus/real/000.txt --json` prints 000.json's tables; exit code 0."""
    done = _cli(str(REAL / "000.txt"), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["tables"] == JSON_000["tables"]
    assert (out["agency"], out["year"], out["status"]) == ("深州市人民政府办公室", 2021, "parsed")


def test_cli_summary_and_exit_code_for_rejected(tmp_path):
    """Without --json a Chinese summary; a rejected file exits with INPUT_UNREADABLE (3)."""
    done = _cli(str(REAL / "030.tables.txt"))
    assert done.returncode == 3
    assert "拒收" in done.stdout and "cells-run-together" in done.stdout
    done = _cli(str(REAL / "005.tables.txt"), "--region", "广东省深圳市龙岗区")
    assert done.returncode == 0 and "部分解析" in done.stdout and "广东省深圳市龙岗区" in done.stdout


class _CountingTokens(list):
    """A token list that counts the tokens read through indexing and slicing."""

    reads = 0

    def __getitem__(self, key):
        item = super().__getitem__(key)
        _CountingTokens.reads += len(item) if isinstance(key, slice) else 1
        return item


@pytest.mark.parametrize("heading", ["二、主动公开政府信息情况", "四、政府信息公开行政复议、行政诉讼情况"])
def test_assembling_reads_each_token_a_bounded_number_of_times(heading):
    """Thousands of number lines (a PDF's, or junk): the assembler's work grows with the tokens, not with
    their square (each number line once copied every token before it: a 1.2 MB file took over 5 minutes)."""
    from nianbao.parse import core, text

    lines = text.read_lines(heading + "\n" + "1 2 3\n" * 3000)
    toks = _CountingTokens(core._tokens(lines))
    _CountingTokens.reads = 0
    core._Assembler(toks).run()
    assert 0 < _CountingTokens.reads < 20 * len(toks)


# --- Text extracted from word-processor PDFs (pdftotext, as scrapers save it: tests/fixtures/wordprocessor).
# Blank cells are gone, a number a narrow column wrapped lies on lines of its own above and below its row,
# and in reading order a row's values may come before its label or after another's: numbers that no row
# takes leave their table unread, never read into another row's cells.

WORD_PROCESSOR = Path(__file__).parent / "fixtures" / "wordprocessor"


@pytest.mark.parametrize("name", sorted(p.name for p in WORD_PROCESSOR.glob("*.pdftotext*.txt")))
def test_pdf_text_from_a_word_processor_never_puts_a_number_in_another_cell(name):
    """Each text parses partial (or rejected) with reason values-unplaced; every number read is the one
    in that cell of the report, and every row not read is listed as missing."""
    from test_parse_pdf import unread_rows_never_wrong

    report = json.loads((WORD_PROCESSOR / (name.split(".")[0] + ".json")).read_text(encoding="utf-8"))
    parsed = parse_file(WORD_PROCESSOR / name)
    assert parsed.status in ("partial", "rejected") and parsed.reason.startswith("values-unplaced: "), parsed.reason
    unread_rows_never_wrong(parsed, report)


HEAD3 = "三、收到和处理政府信息公开申请情况\n"
HEAD4 = "四、政府信息公开行政复议、行政诉讼情况\n行政复议 行政诉讼\n"


@pytest.mark.parametrize(
    "text,table,reason",
    [
        # a row short of values, the rest of a wrapped number on the next line: the two are not one row
        (
            HEAD3 + "一、本年新收政府信息公开申请数量 3 0 0 0 0\n0 3\n二、上年结转政府信息公开申请数量 0 0 0 0 0 0 0\n",
            "applications",
            "values-unplaced",
        ),
        # numbers above a row that has its own: no row takes them, so the table is not read
        (
            HEAD3
            + "一、本年新收政府信息公开申请数量 3 0 0 0 0 0 3\n4474 3923\n"
            + "二、上年结转政府信息公开申请数量 1 0 0 0 0 0 1\n",
            "applications",
            "values-unplaced",
        ),
        # table 四: 15 numbers by chance, a number's parts above and below a row that lost a blank
        (
            HEAD3
            + "一、本年新收政府信息公开申请数量 3 0 0 0 0 0 3\n"
            + HEAD4
            + "2377\n77963 85838 0 0 0 0 85 62717 0 33468 0 21587 0\n8\n",
            "review_litigation",
            "tables-incomplete",
        ),
    ],
    ids=["short-row-then-a-number-line", "numbers-above-a-whole-row", "table-4-number-wrapped-around-a-row"],
)
def test_numbers_out_of_their_rows_leave_the_table_unread(tmp_path, text, table, reason):
    """What pdftotext makes of wrapped numbers and lost blanks: the table is not read, and says why."""
    parsed = parse_file(write(tmp_path, text))
    assert parsed.tables[table] is None and parsed.reason.startswith(reason + ": "), parsed.reason
    assert table in parsed.missing or parsed.status == "rejected"


def test_a_paragraph_of_number_lines_stays_rows_and_keeps_its_numbers_apart(tmp_path):
    """In a paragraph layout (cells between empty lines), a paragraph of number lines is rows of numbers,
    not one cell, and digits on either side of a line break are two numbers ('917806' / '54')."""
    from nianbao.parse.text import read_lines

    cells = "\n\n".join(["二、主动公开政府信息情况", "规章", "1", "2", "3", "行政规范性文件", "4", "5", "6"] * 2)
    rows = read_lines(cells + "\n\n124296 917806\n54 0 17\n654371\n\n")
    texts = [[c.text for c in row] for row in rows[-3:]]
    assert texts == [["124296", "917806"], ["54", "0", "17"], ["654371"]]
    assert [c.source for row in rows[-3:] for c in row][:3] == ["line 37 col 1", "line 37 col 2", "line 38 col 1"]


def test_numbers_of_a_numbered_label_we_cannot_match_do_not_leave_the_table_unread(tmp_path):
    """A number line after a numbered label no form prints is that row's (missing), not a stray."""
    text = (
        HEAD3 + "一、本年新收政府信息公开申请数量 3 0 0 0 0 0 3\n9.属于某种新情形\n1 0 0 0 0 0 1\n"
        "二、上年结转政府信息公开申请数量 1 0 0 0 0 0 1\n"
    )
    parsed = parse_file(write(tmp_path, text))
    apps = parsed.tables["applications"]
    assert apps["new"] == [3, 0, 0, 0, 0, 0, 3] and apps["carried_over"] == [1, 0, 0, 0, 0, 0, 1]
    assert parsed.reason.startswith("tables-incomplete: "), parsed.reason


@pytest.mark.parametrize(
    "text,kept",
    [
        # pdftotext: each page ends with its number, and a form feed starts the next
        (
            "规章 1 2 3\n\n   1\n\f行政规范性文件 4 5 6\n  2\n\f行政许可 7\n",
            ["规章 1 2 3", "行政规范性文件 4 5 6", "行政许可 7"],
        ),
        # numbered from 5 on (the report inside a larger document), at the top of each next page
        (
            "规章 1 2 3\f\n  6\n行政规范性文件 4 5 6\f\n 7\n行政许可 7\n",
            ["规章 1 2 3", "行政规范性文件 4 5 6", "行政许可 7"],
        ),
        # the last value of a page is no page number: 0 on page 1 does not go up with the pages
        ("行政处罚\n0\n\f31784\n行政强制\n", ["行政处罚", "0", "31784", "行政强制"]),
        ("规章 1 2 3\n5\n行政规范性文件 4 5 6\n", ["规章 1 2 3", "5", "行政规范性文件 4 5 6"]),  # no page break
        ("规章 1 2 3\f行政规范性文件 4 5 6\n", ["规章 1 2 3", "行政规范性文件 4 5 6"]),  # a break mid-line
    ],
)
def test_a_bare_page_number_at_a_page_break_is_not_a_value(text, kept):
    """Around a form feed, a line holding only a number that goes up with the pages is the page number;
    elsewhere it is a value."""
    from nianbao.parse.text import read_lines

    assert [" ".join(c.text for c in row) for row in read_lines(text)] == kept


def test_page_numbers_kept_without_page_breaks_are_no_stray_values(tmp_path):
    """Text saved page by page without form feeds keeps its page numbers as lines of their own, inside
    the tables too: numbers that go up by one through the document are set aside, and the report parses
    whole; one lone number inside a table is no page number that can be told, and leaves it unread."""
    from test_roundtrip import assert_same

    report = R.random_report(random.Random(3), S.FORMAT_2021)
    lines = R.render_text(report, "pipe").split("\n")
    numbered = [x for i, line in enumerate(lines) for x in ([line, f"  {i // 25}"] if i and i % 25 == 0 else [line])]
    assert sum(x.strip().isdigit() for x in numbered) == 2  # pages 1 and 2 end inside tables 二 and 三
    assert_same(parse_file(write(tmp_path, "\n".join(numbered))), report)
    lone = [*lines[:50], "  7", *lines[50:]]
    assert parse_file(write(tmp_path, "\n".join(lone), "lone.txt")).reason.startswith("values-unplaced: ")


# --- Markdown from PDF converters, damaged: a number is read only where its row and column are certain.


def _table_rows(lines: list[str]) -> list[int]:
    """Indexes of the body rows of the Markdown tables (not the header rows or rules)."""
    return [k for k, x in enumerate(lines) if x.startswith("|") and "---" not in x and lines[k - 1].startswith("|")]


def _html_rows(lines: list[str]) -> list[range]:
    """The lines of each row ('<tr>' to '</tr>') of the HTML table blocks among the Markdown."""
    starts = [k for k, x in enumerate(lines) if x.strip() == "<tr>"]
    return [range(k, next(n for n in range(k, len(lines)) if lines[n].strip() == "</tr>") + 1) for k in starts]


def _html_cells(lines: list[str], row: range) -> list[range]:
    """The lines of each cell ('<td' to '</td>') of one HTML row."""
    starts = [k for k in row if lines[k].lstrip().startswith("<td")]
    return [range(k, next(n for n in range(k, row.stop) if lines[n].strip() == "</td>") + 1) for k in starts]


HTML_HEADER_ROWS = 3  # table 三 as an HTML block: three header rows (申请人情况 / 法人或其他组织 / its five kinds)


def _without(lines: list[str], lost: set[int]) -> list[str]:
    return [x for k, x in enumerate(lines) if k not in lost]


def _drop_rows(lines: list[str], rng: random.Random) -> list[str]:
    """Body rows of the tables lost: of the Markdown tables, or of the HTML block where there is one."""
    html = _html_rows(lines)[HTML_HEADER_ROWS:]
    if html and rng.random() < 0.5:
        return _without(lines, {k for row in rng.sample(html, rng.randint(1, 3)) for k in row})
    return _without(lines, set(rng.sample(_table_rows(lines), rng.randint(1, 3))))


def _drop_column(lines: list[str], rng: random.Random) -> list[str]:
    """One column of one table lost in every one of its rows, header and rule included; in an HTML block,
    the cell that many places from the end of each row (the value columns: rows differ in their labels)."""
    if _html_rows(lines) and rng.random() < 0.5:
        back = rng.randint(1, len(S.APPLICANT_COLUMNS))
        cells = [_html_cells(lines, row) for row in _html_rows(lines)]
        return _without(lines, {k for row in cells if len(row) >= back for k in row[-back]})
    starts = [k for k, x in enumerate(lines) if x.startswith("|") and (k == 0 or not lines[k - 1].startswith("|"))]
    k = rng.choice(starts)
    column = rng.randrange(len(pipe_cells(lines[k], True)))
    out = list(lines)
    while k < len(out) and out[k].startswith("|"):
        cells = pipe_cells(out[k], True)
        out[k] = "| " + " | ".join(c for n, c in enumerate(cells) if n != column) + " |"
        k += 1
    return out


def _lose_headers(lines: list[str], rng: random.Random) -> list[str]:
    """Headings and the header rows over them lost, the HTML block's header rows too (a converter that
    kept only the body rows)."""
    html = {k for row in _html_rows(lines)[:HTML_HEADER_ROWS] for k in row}
    return [
        x
        for k, x in enumerate(lines)
        if not x.startswith("#") and not (k + 1 < len(lines) and "---" in lines[k + 1]) and k not in html
    ]


def _merge_tables(lines: list[str], rng: random.Random) -> list[str]:
    """Two consecutive row tables printed as one: what stood between their rows (heading, header) lost."""
    ends = [
        k for k, x in enumerate(lines) if x.startswith("|") and k + 1 < len(lines) and not lines[k + 1].startswith("|")
    ]
    k = rng.choice(ends[:-1])
    nxt = next(n for n in range(k + 1, len(lines)) if lines[n].startswith("|") and "---" in lines[n])
    return [*lines[: k + 1], *lines[nxt + 1 :]]


DAMAGE = {"rows-dropped": _drop_rows, "column-dropped": _drop_column, "headers-lost": _lose_headers}
DAMAGE["tables-merged"] = _merge_tables
CONVERTED = [layout for layout in R.LAYOUTS if layout.startswith("markdown-")]


def test_the_damage_covers_every_converter_layout():
    """Every Markdown layout a converter prints is damaged below, the HTML block's rows and cells found."""
    assert CONVERTED == ["markdown-split", "markdown-generic", "markdown-html"]
    lines = R.render_text(R.random_report(random.Random(1), S.FORMAT_2021), "markdown-html").split("\n")
    rows = _html_rows(lines)
    assert len(rows) == HTML_HEADER_ROWS + len(S.APPLICATION_ROW_KEYS_SUBROWS)
    assert len(_html_cells(lines, rows[-1])) == 1 + len(S.APPLICANT_COLUMNS)  # '四、结转下年度继续办理' + 7


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("layout", CONVERTED)
def test_damaged_converter_markdown_never_puts_a_number_in_another_cell(tmp_path, layout, damage):
    """Converted reports with rows or columns dropped, headers lost or row tables merged: every number read
    is the one in that cell, every row not read is listed as missing; dropped cells never parse complete."""
    from test_parse_pdf import unread_rows_never_wrong

    rng = random.Random(f"{layout}{damage}")
    outcomes = set()
    for i in range(20):
        version = S.FORMAT_2019 if i % 2 else S.FORMAT_2021
        report = R.random_report(rng, version, blank_rate=0.1, text_rate=0.05)
        lines = R.render_text(report, layout).split("\n")
        path = write(tmp_path, "\n".join(DAMAGE[damage](lines, rng)), f"{i}.md")
        parsed = parse_file(path)
        unread = unread_rows_never_wrong(parsed, report)
        if damage in ("rows-dropped", "column-dropped"):
            assert parsed.status != "parsed" or not unread, parsed.reason
        outcomes.add(parsed.status)
    # Headers lost leave every row its label; so do merged tables in the generic layout, whose tables are
    # whole statutory tables (only a section heading goes): those may read back complete.
    if damage != "headers-lost" and (damage, layout) != ("tables-merged", "markdown-generic"):
        assert outcomes & {"partial", "rejected"}


def _review_section(text: str, new: str) -> str:
    """A converted report with its section 四 (table 四) printed as `new`."""
    head, rest = text.split("## 四、政府信息公开行政复议、行政诉讼情况\n", 1)
    return head + "## 四、政府信息公开行政复议、行政诉讼情况\n\n" + new + "\n## 五、" + rest.split("## 五、", 1)[1]


def _groups(review: dict, *, lost: tuple[int, ...] = (), unnamed: tuple[int, ...] = (), short: int = -1) -> str:
    """Table 四 as one table per group under its heading ('### 行政诉讼 · 复议后起诉'): the groups `lost`
    not printed, those `unnamed` without their heading, the one `short` with its last column lost."""
    outcomes = [label for _, label in S.REVIEW_OUTCOMES]
    out = []
    for n, (group, label) in enumerate(S.REVIEW_GROUPS):
        if n in lost:
            continue
        width = len(outcomes) - (n == short)
        values = [R.value_text(v) for v in review[group]][:width]
        out += [] if n in unnamed else [f"### {label.replace('·', ' · ')}", ""]
        out += [
            "| " + " | ".join(outcomes[:width]) + " |",
            "| --- " * width + "|",
            "| " + " | ".join(values) + " |",
            "",
        ]
    return "\n".join(out)


REVIEW_SPLIT = [  # (case, section 四 as printed, the groups read back: None for none)
    ("one table per group", lambda r: _groups(r), ("review", "litigation_direct", "litigation_after_review")),
    # a group's values are its label's only: a row without one is no group's (here the second's, not the first's)
    ("first group lost, second unnamed", lambda r: _groups(r, lost=(0,), unnamed=(1,)), None),
    ("second group's last column lost", lambda r: _groups(r, short=1), ("review", "litigation_after_review")),
    # a group's line over the whole table's 15 values names the first group only: read by position as before
    (
        "a group's line over all 15",
        lambda r: (
            "行政复议\n\n| "
            + " | ".join(f"列{k}" for k in range(1, 16))
            + " |\n"
            + "| --- " * 15
            + "|\n| "
            + " | ".join(R.value_text(v) for g, _ in S.REVIEW_GROUPS for v in r[g])
            + " |\n"
        ),
        ("review", "litigation_direct", "litigation_after_review"),
    ),
]


@pytest.mark.parametrize("case,printed,read", REVIEW_SPLIT, ids=[c[0] for c in REVIEW_SPLIT])
def test_table_four_split_by_group_gives_a_group_only_what_its_label_heads(tmp_path, case, printed, read):
    """Table 四 as converters split it, one small table per group under its heading: each group takes the
    values under its own heading; a value row without one is not read by its position (a group before it
    may be lost), and a group whose columns are not all there is missing. Never a number in another cell."""
    from test_parse_pdf import unread_rows_never_wrong

    report = R.random_report(random.Random(9), S.FORMAT_2021, blank_rate=0.2, text_rate=0.05)
    review = report["tables"]["review_litigation"]
    text = _review_section(R.render_text(report, "markdown-split"), printed(review))
    parsed = parse_file(write(tmp_path, text, "review.md"))
    unread_rows_never_wrong(parsed, report)
    got = parsed.tables["review_litigation"]
    assert (None if got is None else tuple(got)) == read, parsed.reason
    assert parsed.status == ("parsed" if read and len(read) == len(S.REVIEW_GROUPS) else "partial")


def test_converter_blank_marks_stay_as_printed_never_zero(tmp_path):
    """A blank cell printed empty, '-', '—' or '/' by a converter is read as printed: no number."""
    report = R.random_report(random.Random(5), S.FORMAT_2021, blank_rate=0.0, text_rate=0.0)
    report["tables"]["applications"]["new"][1:5] = [None, "-", "—", "/"]
    parsed = parse_file(write(tmp_path, R.render_text(report, "markdown-split"), "blank.md"))
    assert parsed.status == "parsed", parsed.reason
    assert parsed.tables["applications"]["new"][1:5] == [None, "-", "—", "/"]


def test_an_applicant_header_of_dashes_is_no_rows_values(tmp_path):
    """The applicant header printed as a table of seven dashes, above a row whose label is in its heading
    only: the dashes are not that row's values (it takes those of the table under its heading)."""
    report = R.random_report(random.Random(6), S.FORMAT_2021, blank_rate=0.0, text_rate=0.0)
    header = "| 自然人 | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 | 总计 |\n" + "| --- " * 7 + "|\n"
    header += "| - | - | - | - | - | - | - |\n\n### 一、本年新收政府信息公开申请数量\n"
    text = R.render_text(report, "markdown-split").replace("### 一、本年新收政府信息公开申请数量\n", header, 1)
    parsed = parse_file(write(tmp_path, text, "dashes.md"))
    assert parsed.status == "parsed", parsed.reason
    assert parsed.tables["applications"]["new"] == report["tables"]["applications"]["new"]


LABEL_LOST = [  # (what befell the row '(一)予以公开' of a split report, edits (old -> new), parsed back exactly)
    ("label cell and heading lost", [("| (一)予以公开 |", "|"), ("### (一)予以公开\n", "")], False),
    (
        "label cell empty, the heading a plain line",
        [("| (一)予以公开 |", "|  |"), ("### (一)予以公开", "(一)予以公开")],
        True,
    ),
    # one cell short of its header: a label cell lost, or a value with an empty label cell: not told apart
    (
        "label cell lost, the heading a plain line",
        [("| (一)予以公开 |", "|"), ("### (一)予以公开", "(一)予以公开")],
        False,
    ),
]


@pytest.mark.parametrize("case,edits,exact", LABEL_LOST, ids=[c[0] for c in LABEL_LOST])
def test_a_value_row_without_its_label_takes_it_only_from_a_line_over_its_table(tmp_path, case, edits, exact):
    """A per-row table whose label is printed on a line over it (a heading, a plain line) takes it into
    its empty label cell; with no such line, or no label cell to take it, which row its values are cannot
    be told: table 三 is left unread (a row's values are never given to the next heading's row)."""
    from test_parse_pdf import unread_rows_never_wrong

    report = R.random_report(random.Random(8), S.FORMAT_2021, blank_rate=0.0, text_rate=0.0)
    text = R.render_text(report, "markdown-split")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    parsed = parse_file(write(tmp_path, text, "label.md"))
    if exact:
        assert parsed.status == "parsed" and parsed.tables["applications"] == report["tables"]["applications"]
        return
    assert parsed.status == "partial"
    assert "applications.granted" in parsed.missing or "applications" in parsed.missing
    unread_rows_never_wrong(parsed, report)
