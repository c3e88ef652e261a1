"""Reading report files: `parse_file(path, **meta) -> ParsedReport`, and the `nianbao parse` command.

Every input ends parsed, partial or rejected; bad input never raises (reason codes in model.py's
ParsedReport.reason: empty-file, binary-file, unreadable-file, file-too-large, unknown-file-kind,
encoding-undetected, no-tables-found, no-text-layer, tables-are-images, text-undecodable, tables-cut-off,
values-unplaced, cells-run-together, unknown-format, table-too-large, document-too-deep, parser-out-of-memory,
parser-crash, parser-timeout).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import zipfile
from io import BytesIO
from pathlib import Path

from .. import schema as S
from ..exitcodes import ExitCode
from ..model import ParsedReport
from .core import TextCell, parse_lines
from .encoding import InputError, decode_text
from .limits import PARSE_MEMORY_ENV, capped, parse_memory

MAX_BYTES = 50 * 1024 * 1024
TEXT_SUFFIXES = {".txt", ".md", ".text", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".shtml", ".xhtml"}
HTML_PAGE = re.compile(rb"<html[\s>]|<!doctype html", re.I)
HTML_TABLE = re.compile(rb"<table[\s>][\s\S]*?<t[rd][\s>]", re.I)
WORD_STREAM = "WordDocument".encode("utf-16-le")  # the stream's name in a compound file's directory
ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")  # a .docx/.xlsx with a password is a compound file
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")
# Reader codes -> the report-level reason codes.
CODE_MAP = {"undecodable-text": "encoding-undetected", "not-html": "unreadable-file", "not-a-docx": "unreadable-file"}


__all__ = ["TextCell", "command", "file_sha256", "parse_file", "parse_lines"]


def _rejected(path: str, sha256: str, code: str, detail: str) -> ParsedReport:
    """A rejection with reason '<code>: <detail>'."""
    return ParsedReport(source_file=path, source_sha256=sha256, status="rejected", reason=f"{code}: {detail}")


def file_sha256(p: Path) -> str:
    """SHA-256 of a file read in blocks (a file too large to parse is still identified)."""
    h = hashlib.sha256()
    with p.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sniff(data: bytes, suffix: str) -> str:
    """pdf | docx | doc | html | text, or 'unknown:<what>' / 'image'; content wins over the extension
    (a .txt or .md holding HTML tables is read as HTML)."""
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return "docx" if suffix == ".docx" else "unknown:损坏的 ZIP 文件"
        return "docx" if any(n.startswith("word/") for n in names) else "unknown:ZIP 压缩包(不是 Word .docx)"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        if ENCRYPTED_PACKAGE in data:
            return "unknown:加密的 Office 文件(设有打开密码),无法读取,请提供未加密的文件"
        if WORD_STREAM in data or suffix in (".doc", ".wps", ".dot"):  # a damaged .doc: its reader says what is wrong
            return "doc"
        return "unknown:Excel、PowerPoint 等 OLE 复合文档(不是 Word 文件),请另存为 .docx 或 PDF"
    if data.startswith(b"{\\rtf"):
        return "unknown:RTF 文件,请另存为 .docx 或 PDF"
    if any(data.startswith(m) for m in IMAGE_MAGIC):
        return "image"
    if suffix == ".pdf":
        return "unknown:扩展名为 .pdf 但内容不是 PDF"
    if suffix in HTML_SUFFIXES:
        return "html"
    if HTML_PAGE.search(data[:4096]) or HTML_TABLE.search(data):  # and OCR markdown whose tables are HTML
        return "html"
    return "text"


def _read(path: str, data: bytes, sha: str, kind: str) -> ParsedReport:
    """Run the reader for `kind` and the core; InputError becomes a rejection."""
    try:
        if kind == "text":
            from .text import read_text

            text = decode_text(data, path)
            if not text or text.isspace():  # (not text.strip(): a copy of the whole text)
                return _rejected(path, sha, "empty-file", "文件只有空白字符")
            rows, columns = read_text(text)
            return parse_lines(rows, source_file=path, sha256=sha, text=text, columns=columns)
        if kind == "pdf":
            from .pdf import read_pdf

            pdf = read_pdf(data, path)
            if not pdf.chars:
                code = "tables-are-images" if pdf.has_images else "no-text-layer"
                return _rejected(path, sha, code, "PDF 没有文字层(扫描件或图片),无法读取表格")
            if pdf.undecoded * 2 > pdf.chars:  # the text is there, but as glyph numbers, not characters
                return _rejected(
                    path,
                    sha,
                    "text-undecodable",
                    f"PDF 的文字无法解码:{pdf.chars} 个字符中有 {pdf.undecoded} 个的字体没有 Unicode 映射"
                    f"(缺少 ToUnicode),表格无法读取;请提供 Word、网页或重新导出的 PDF",
                )
            return parse_lines(
                pdf.lines, source_file=path, sha256=sha, text=pdf.text, has_images=pdf.has_images, cut_off=pdf.cut_off
            )
        if kind == "html" and Path(path).suffix.lower() in TEXT_SUFFIXES:
            from .text import has_markdown_tables, read_mixed_lines

            text = decode_text(data, path)
            if has_markdown_tables(text):  # converter Markdown with some of its tables as HTML blocks
                rows, columns = read_mixed_lines(text, path)
                return parse_lines(rows, source_file=path, sha256=sha, text=text, columns=columns)
        # HTML and Word readers are imported lazily: lxml is slow to import and not needed for text.
        if kind == "html":
            from .html import read_page
        elif kind == "doc":
            from .doc import read_page
        else:
            from .docx import read_page
        page = read_page(data, path)
        # OCR markdown with HTML tables: its title lines are plain text lines, not HTML paragraphs.
        text = decode_text(data, path) if Path(path).suffix.lower() in TEXT_SUFFIXES else page.text()
        return parse_lines(
            page.lines, source_file=path, sha256=sha, text=text, has_images=page.has_table_images(), page=page.facts
        )
    except InputError as e:
        return _rejected(path, sha, CODE_MAP.get(e.code, e.code), e.detail)


def parse_file(
    path: str | Path,
    *,
    agency: str | None = None,
    region: str | None = None,
    year: int | None = None,
    level: str | None = None,
    published: str | None = None,
    memory_mb: float | None = None,
) -> ParsedReport:
    """Parse one report file; never raises on bad input. Keyword metadata overrides what the text says.

    The readers may allocate `memory_mb` MB (parse_memory(): $NIANBAO_PARSE_MEMORY or the default; a
    value that is not a finite number >= 0 raises ValueError, a configuration error, not bad input)."""
    name = str(path)
    budget = parse_memory(memory_mb)
    p = Path(path)
    try:
        if not p.is_file():
            return _rejected(name, "", "unreadable-file", "文件不存在或不是普通文件")
        size = p.stat().st_size
        if size > MAX_BYTES:
            return _rejected(
                name, file_sha256(p), "file-too-large", f"{size / 2**20:.1f} MB,超过 {MAX_BYTES // 2**20} MB 上限"
            )
        data = p.read_bytes()
    except OSError as e:
        return _rejected(name, "", "unreadable-file", f"无法读取文件({e.strerror or e})")
    sha = hashlib.sha256(data).hexdigest()
    if not data or data.isspace():
        return _rejected(name, sha, "empty-file", "文件为空" if not data else "文件只有空白字符")
    kind = ""
    try:
        kind = sniff(data, p.suffix.lower())
        if kind == "image":
            report = _rejected(name, sha, "tables-are-images", "文件是图片,不是可读取文字的报告")
        elif kind.startswith("unknown:"):
            report = _rejected(name, sha, "unknown-file-kind", kind.split(":", 1)[1])
        else:
            with capped(budget):
                report = _read(name, data, sha, kind)
    except MemoryError:
        report = _rejected(name, sha, "parser-out-of-memory", _out_of_memory(kind, data, budget))
    except Exception as e:
        report = _rejected(name, sha, "parser-crash", f"{type(e).__name__}: {e}")
    report.agency = agency or report.agency
    report.region = region or report.region
    report.year = year or report.year
    report.level = level or report.level
    report.published = published or report.published
    return report


def _out_of_memory(kind: str, data: bytes, budget: float) -> str:
    """Why a parse ran out of memory, naming what was large: a text or page by its size and lines, a
    compressed format (PDF, Word) by its size and what its content may have inflated to."""
    size = f"{len(data) / 2**20:.1f} MB"
    if kind in ("text", "html"):
        lines = data.count(b"\n") + 1
        what = f"{'文本' if kind == 'text' else '网页'}文件 {size},{lines:,} 行"
    else:
        what = f"文件 {size},其压缩内容解压后可能远大于此(如压缩炸弹:几 MB 的文件解压成数 GB)"
    return (
        f"解析此文件所需内存超过 {budget:g} MB 上限,已中止({what};上限可用 --parse-memory 或 {PARSE_MEMORY_ENV} 调整)"
    )


def _summary(report: ParsedReport) -> str:
    """A short Chinese summary of one parse."""
    rows = [f"文件: {report.source_file}", f"结果: {S.PARSE_STATUS_ZH[report.status]} ({report.status})"]
    if report.reason:
        rows.append(f"原因: {report.reason}")
    rows.append(
        f"机关: {report.agency or '(未写明)'}  年度: {report.year or '(未写明)'}  地区: {report.region or '(未写明)'}"
    )
    if report.status != "rejected":
        rows.append(f"格式版本: {report.format_version or '(无法判定)'}  读取单元格: {len(report.cells)} 个")
    if report.deviations:
        rows.append(f"格式偏差: {', '.join(report.deviations)}")
    if report.missing:
        rows.append(f"缺少: {', '.join(report.missing)}")
    return "\n".join(rows)


def command(args) -> int:
    """`nianbao parse FILE [--json] [--agency --region --year]`."""
    try:
        memory_mb = parse_memory()
    except ValueError as e:
        print(f"配置错误:{e}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    report = parse_file(args.file, agency=args.agency, region=args.region, year=args.year, memory_mb=memory_mb)
    if args.json:
        # The report's text by part after its tables (not in to_json: the transcriptions hold tables only).
        parts = [{"section": p.key, "heading": p.heading, "text": p.text, "source": p.source} for p in report.sections]
        print(json.dumps({**report.to_json(), "sections": parts}, ensure_ascii=False, indent=1))
    else:
        print(_summary(report))
    return ExitCode.INPUT_UNREADABLE if report.status == "rejected" else ExitCode.OK
