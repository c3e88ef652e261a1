"""Inputs that broke the parser or ingest's report of them: deep HTML, a text file of millions of number
lines, UTF-16 text without a BOM, symlinks named by their targets, control characters in file names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nianbao import ingest as I
from nianbao.parse import parse_file
from nianbao.parse import text as T

CORPUS = Path(os.environ.get("NIANBAO_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
PAGE = CORPUS / "html" / "pingtan-2024.html"
REPORT = CORPUS / "real" / "000.txt"


def _values(report) -> tuple:
    """What a parse read: outcome, tables and every cell, without the file's name and hash."""
    cells = [(c.table, c.column, c.text, c.value, c.source) for c in report.cells]
    return report.status, report.reason, report.tables, report.active_2019, cells, report.agency, report.year


# --- Deep HTML: libxml2 stops at 256 levels unless told otherwise, and kept the page read so far.


def _deepened(prefix: bytes, suffix: bytes = b"") -> bytes:
    """The corpus page with `prefix` before its first table and `suffix` after its last one."""
    page = PAGE.read_bytes()
    first, last = page.lower().index(b"<table"), page.lower().rindex(b"</table>") + len(b"</table>")
    return page[:first] + prefix + page[first:last] + suffix + page[last:]


@pytest.mark.parametrize(
    "prefix,suffix",
    [
        (b"<span><font>" * 150, b""),  # 300 unclosed inline tags, as Word and CMS editors leave them
        (b'<div class="x">' * 300, b"</div>" * 300),  # tables 300 blocks deep
        ('<font face="宋体">x<br>'.encode() * 3000, b""),  # deeper than libxml2 reads at all: read without them
    ],
    ids=["unclosed-inline-300", "nested-div-300", "unclosed-font-3000"],
)
def test_deep_html_reads_like_the_page(tmp_path, prefix, suffix):
    """Nested past 256 levels (past 2048 in inline tags) the page reads as it does without the nesting."""
    path = tmp_path / "deep.html"
    path.write_bytes(_deepened(prefix, suffix))
    original, deep = parse_file(PAGE), parse_file(path)
    assert original.status == "parsed" and len(original.cells) == 200
    assert _values(deep) == _values(original)


def test_html_deeper_than_the_parser_reads_is_rejected_naming_the_depth(tmp_path):
    """Blocks nested past libxml2's hard limit: rejected as document-too-deep with the depth, not no-tables-found."""
    path = tmp_path / "deeper.html"
    path.write_bytes(_deepened(b"<div>" * 3000, b"</div>" * 3000))
    report = parse_file(path)
    assert report.status == "rejected"
    assert report.reason.startswith("document-too-deep: ") and "2048 层" in report.reason


# --- A text report followed by hundreds of thousands of number lines.


def _number_lines(n: int) -> str:
    """`n` short lines of numbers, one to three on a line."""
    return "".join(f"{i * 7919 % 1000003}\n" if i % 3 else f"{i % 997} {i * 31 % 10007} {i % 13}\n" for i in range(n))


_MEASURE = textwrap.dedent(
    """
    import json, sys, tracemalloc
    from nianbao.parse import parse_file
    parse_file(sys.argv[1])  # imports and label tables are not the parse's
    tracemalloc.start()
    report = parse_file(sys.argv[2], memory_mb=0)
    print(json.dumps({"peak": tracemalloc.get_traced_memory()[1], "status": report.status}))
    """
)
# What the parse of the report alone allocates, and what the caches of labels and cells grow by.
FIXED = 4 * 2**20


def test_text_with_300000_number_lines_parses_in_memory_linear_in_its_size(tmp_path):
    """A report plus 300,000 number lines (2.4 MB): the parse allocates less than 10x the file's size at its
    peak (it was 84x; a 49 MB file of this shape ran out of 4 GB), and the report reads as it does alone."""
    path = tmp_path / "long.txt"
    path.write_text(REPORT.read_text(encoding="utf-8") + "\n" + _number_lines(300_000), encoding="utf-8")
    size = path.stat().st_size
    run = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(REPORT), str(path)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    measured = json.loads(run.stdout)
    assert measured["status"] == "parsed"
    assert measured["peak"] < 10 * size + FIXED, f"{measured['peak'] / 2**20:.0f} MB for {size / 2**20:.1f} MB"
    assert _values(parse_file(path)) == _values(parse_file(REPORT))


def test_long_number_runs_keep_their_ends_and_line_numbers():
    """Of 5,000 number lines the first and last T.NUMBER_RUN_KEPT are read, at their own line numbers, and a
    line after the run keeps its number."""
    lines = T.read_lines("标题\n" + "".join(f"{i}\n" for i in range(1, 5001)) + "结束\n")
    read = [(row[0].text, row[0].source) for row in lines]
    kept = T.NUMBER_RUN_KEPT
    assert read[1] == ("1", "line 2") and read[kept] == (str(kept), f"line {kept + 1}")
    assert read[kept + 1] == (str(5001 - kept), f"line {5002 - kept}")
    assert read[-2:] == [("5000", "line 5001"), ("结束", "line 5002")]
    assert len(read) == 2 + 2 * kept


def test_out_of_memory_on_a_text_file_names_its_size_and_lines(tmp_path):
    """A text file over the memory limit: the reason names its size and lines, and no compression bomb."""
    path = tmp_path / "long.txt"
    path.write_text(REPORT.read_text(encoding="utf-8") + "\n" + _number_lines(300_000), encoding="utf-8")
    lines = path.read_bytes().count(b"\n") + 1
    script = "import sys; from nianbao.parse import parse_file; print(parse_file(sys.argv[1], memory_mb=1).reason)"
    run = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60)
    reason = run.stdout.strip()
    assert reason.startswith("parser-out-of-memory: "), run.stderr
    assert f"文本文件 {path.stat().st_size / 2**20:.1f} MB,{lines:,} 行" in reason
    assert "压缩炸弹" not in reason


# --- UTF-16 without a BOM (Windows Notepad's "Unicode" saved by some tools without the BOM).


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_text_without_bom_reads_like_utf8(tmp_path, encoding):
    """A real report in UTF-16 without a BOM reads as the UTF-8 original does, not as binary-file."""
    path = tmp_path / "report.txt"
    path.write_bytes(REPORT.read_text(encoding="utf-8").encode(encoding))
    assert _values(parse_file(path)) == _values(parse_file(REPORT))


def test_binary_with_nul_high_bytes_stays_binary(tmp_path):
    """16-bit integers look like UTF-16 by their NULs, but decode to control characters: still binary-file."""
    path = tmp_path / "data.txt"
    path.write_bytes(b"".join((i % 300).to_bytes(2, "little") for i in range(5000)))
    assert parse_file(path).reason.startswith("binary-file: ")


# --- Symlinks are named as given.


def test_symlinks_are_named_as_given(tmp_path):
    """A dangling link under its own name (not its missing target's), two dangling links to one target
    both listed, and a live link under its own name too."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "real.txt").write_bytes(REPORT.read_bytes())
    os.symlink(src / "nowhere.txt", src / "dangling.txt")
    os.symlink(src / "nowhere.txt", src / "dangling-too.txt")
    os.symlink(src / "real.txt", tmp_path / "alias.txt")
    summary = I.ingest([src / "dangling.txt", src / "dangling-too.txt", tmp_path / "alias.txt"], tmp_path / "data")
    named = {Path(o.path).name: (o.path, o.code) for o in summary.outcomes}
    base = tmp_path.resolve()
    assert named == {
        "dangling.txt": (str(base / "in" / "dangling.txt"), "not-found"),
        "dangling-too.txt": (str(base / "in" / "dangling-too.txt"), "not-found"),
        "alias.txt": (str(base / "alias.txt"), ""),
    }
    assert "nowhere.txt" not in summary.text()


# --- File names in the summary.


def test_newline_in_a_file_name_cannot_forge_a_summary_line(tmp_path):
    """A file named 'a\\n  [完整解析] forged.txt' is one summary line, its newline escaped, its Chinese as is."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "a\n  [完整解析] forged.txt").write_bytes(b"\x00\x01binary")
    (src / "b\x1b[2K\r.txt").write_bytes(b"")
    summary = I.ingest([src], tmp_path / "data")
    lines = summary.text().splitlines()
    forged = [line for line in lines if "forged.txt" in line]
    assert len(forged) == 1 and "a\\n  [完整解析] forged.txt" in forged[0]
    assert not any(line.startswith("  [完整解析]") for line in lines)
    assert sum("b\\x1b[2K\\r.txt" in line for line in lines) == 1
    assert all(ch == "\n" or ch >= " " for ch in summary.text())
