"""One input file -> its ParsedReport, its rows of the Parquet tables and their digest: the work each
parser process of `nianbao ingest` does. Imports neither pyarrow nor pandas (nor does anything it
imports), so that a parser process starts in a fraction of the time (measured: 0.4 s of CPU less each).
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import math
import signal
import stat
import threading
import unicodedata
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import collector
from . import schema as S
from .faults import stall_point
from .model import ParsedReport
from .parse import file_sha256
from .parse.limits import limit_setting, parse_memory

MAX_FILE_BYTES = 50 * 1024 * 1024
INT64_MAX = 2**63 - 1
FEE_QUANTUM = Decimal(1).scaleb(-S.FEE_SCALE)
PARSE_TIMEOUT_ENV = "NIANBAO_PARSE_TIMEOUT"
DEFAULT_PARSE_TIMEOUT = 300.0  # seconds per file: a 50 MB PDF parses well within it, a hung parser does not
# HTML and text reports are read without making reference cycles, so they are read with the collector
# paused (measured: its passes were 2 % of an HTML page's instructions). PDF and Word files are not:
# pdfminer's objects hold cycles, and a large PDF read without the collector would hold them all.
CYCLE_FREE_SUFFIXES = (".html", ".htm", ".shtml", ".xhtml", ".txt", ".text", ".md")


class ManifestError(ValueError):
    """A manifest or a metadata flag that cannot be used; the message names the file and line."""


@dataclass
class FileOutcome:
    """What became of one input file: its outcome, its report id and, once merged, what it changed."""

    path: str
    status: str
    reason: str = ""
    missing: list[str] = field(default_factory=list)
    report_id: str | None = None
    source_sha256: str | None = None
    old_sha256: str | None = None  # of the stored version this one replaced
    action: str = ""  # added | replaced | unchanged | conflict ('' until merged)
    detail: str = ""  # replaced: what it replaced; conflict: which file was kept
    agency: str | None = None
    year: int | None = None
    region: str | None = None

    @property
    def code(self) -> str:
        """The kebab-case reason code ('' when parsed)."""
        return self.reason.split(":", 1)[0].strip() if self.reason else ""


def real_path(path: Path) -> Path:
    """The real path (symlinks resolved) that identifies a file across runs."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return path.absolute()


def shown_path(path: Path) -> Path:
    """The path an outcome names a file by: its real path, but a symlink (dangling or not) by its own name,
    in its folder's real path, as it was given: not by its target's, which is no name the user gave."""
    try:
        link = path.is_symlink()
    except OSError:
        link = False
    return real_path(path.parent) / path.name if link else real_path(path)


# --- One file -> one ParsedReport, whatever the file holds.


def rejected_report(path: Path, reason: str, sha: str = "") -> ParsedReport:
    return ParsedReport(source_file=str(path), source_sha256=sha, status="rejected", reason=reason)


def _check_file(path: Path) -> str | None:
    """The reason a file must not be opened (missing, not a regular file, too large), else None.

    Permissions are left to open(): the parser reports an unreadable file as such.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        return "not-found: 文件不存在(或符号链接指向不存在的文件)"
    except OSError as e:
        return f"unreadable-file: 无法访问 ({e.strerror or e})"
    if not stat.S_ISREG(st.st_mode):
        # A FIFO or device would block or never end: never open one.
        return "not-a-file: 不是普通文件"
    if st.st_size > MAX_FILE_BYTES:
        return f"file-too-large: {st.st_size / 2**20:.1f} MB,超过 {MAX_FILE_BYTES // 2**20} MB 上限,未读取"
    return None


class ParseTimeout(BaseException):
    """Raised inside the parser when its time is up. A BaseException, like KeyboardInterrupt, so that
    no `except Exception` in the parser or a library under it can swallow it."""


def parse_timeout(value: float | str | None = None) -> float:
    """Seconds one file may take to parse: `value`, else $NIANBAO_PARSE_TIMEOUT, else the default; 0 = none.
    Raises ValueError on a value that is not a finite number >= 0."""
    return limit_setting(value, PARSE_TIMEOUT_ENV, DEFAULT_PARSE_TIMEOUT, "解析时限", "秒数", "--parse-timeout")


def _parse_within(path: Path, meta: dict[str, Any], seconds: float, memory_mb: float | None = None) -> ParsedReport:
    """parse_file, interrupted by SIGALRM after `seconds` (where the platform and thread allow it)."""
    from .parse import parse_file  # lazy: the parsers import pdfplumber and lxml

    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return parse_file(path, memory_mb=memory_mb, **meta)

    def expire(signum, frame):
        raise ParseTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    try:  # nested, so that the handler is restored even if the alarm goes off while it is being stopped
        try:
            signal.setitimer(signal.ITIMER_REAL, seconds)
            return parse_file(path, memory_mb=memory_mb, **meta)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)


def parse_one(
    path: Path, meta: dict[str, Any], timeout: float | None = None, memory_mb: float | None = None
) -> ParsedReport:
    """Parse one file with metadata overrides applied, within `timeout` seconds (parse_timeout()) and
    `memory_mb` MB (parse_memory()); never raises on bad input (a bad limit is a ValueError)."""
    seconds, memory_mb = parse_timeout(timeout), parse_memory(memory_mb)
    problem = _check_file(path)
    if problem:
        report = rejected_report(path, problem)
    else:
        try:
            report = _parse_within(path, meta, seconds, memory_mb)
        except ParseTimeout:
            # A pathological file (a PDF that never ends, a regex that backtracks) must not hang the run.
            report = rejected_report(
                path,
                f"parser-timeout: 解析超过 {seconds:g} 秒仍未完成,已中止"
                f"(时限可用 --parse-timeout 或 {PARSE_TIMEOUT_ENV} 调整)",
            )
        except Exception as e:
            report = rejected_report(path, f"parser-crash: {type(e).__name__}: {e}")
        if report.status not in S.PARSE_STATUSES:
            report = rejected_report(path, f"parser-invalid-status: 解析器返回了未知状态 {report.status!r}")
        if not report.source_sha256:
            try:
                report.source_sha256 = file_sha256(path)
            except OSError as e:
                report = rejected_report(path, f"unreadable-file: 读取失败 ({e.strerror or e})")
    return with_identity(report, path, meta)


def with_identity(report: ParsedReport, path: Path, meta: dict[str, Any]) -> ParsedReport:
    """The report under its file's path (shown_path), with the metadata overrides (flags, manifest) applied."""
    report.source_file = str(shown_path(path))
    for key, value in meta.items():
        setattr(report, key, value)
    return report


@dataclass(frozen=True)
class Ingested:
    """One file, parsed and turned into table rows (in a worker process: the main one only merges)."""

    outcome: FileOutcome
    rows: dict[str, list[tuple]]  # table -> the report's rows (report_tuples), for the tables it has rows in
    digest: str


def ingest_one(
    path: Path,
    meta: dict[str, Any],
    ingested_at: datetime,
    timeout: float | None = None,
    memory_mb: float | None = None,
) -> Ingested:
    """parse_one, then the report's rows, their digest and its outcome; never raises."""
    with collector.paused() if path.suffix.lower() in CYCLE_FREE_SUFFIXES else nullcontext():
        return to_ingested(parse_one(path, meta, timeout, memory_mb), ingested_at)


def to_ingested(report: ParsedReport, ingested_at: datetime) -> Ingested:
    rows = report_tuples(report, ingested_at=ingested_at)
    outcome = FileOutcome(
        path=report.source_file,
        status=report.status,
        reason=report.reason,
        missing=list(report.missing),
        report_id=rows["reports"][0][0],
        source_sha256=report.source_sha256 or None,
        agency=report.agency,
        year=report.year,
        region=report.region,
    )
    return Ingested(outcome, {table: table_rows for table, table_rows in rows.items() if table_rows}, rows_digest(rows))


def ingest_job(job: tuple[Path, dict[str, Any], datetime, float, float]) -> Ingested:
    stall_point("parse")
    return ingest_one(*job)


def parser_process_start(parent: int | None = None) -> None:
    """A parser process dies with its parent, imports the readers up front, then freezes what the imports
    made (gc.freeze): the collector then only walks what each parse makes (measured: 3 % fewer
    instructions a page)."""
    if parent is not None:
        die_with_parent(parent)
    import nianbao.parse.html
    import nianbao.parse.text  # noqa: F401

    gc.freeze()


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies, however the parent dies (kill -9 too).

    Without it a parser process whose ingest was killed waits on its task pipe forever, and keeps the
    resource tracker waiting with it. A parent that died before the request is caught by getppid().
    """
    import ctypes
    import os

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pool's own pipe ends the worker at its next task
        return
    if os.getppid() != parent:
        os._exit(1)


# --- One ParsedReport -> rows of the Parquet tables.


def report_id(report: ParsedReport) -> str:
    """schema.report_id_for on agency, region, year; unnamed reports fall back to the file hash.

    A rejected file falls back to hash and path together, so identical empty or broken files each keep
    their own row; an unnamed parsed report is keyed by content, so a copy of it is a listed duplicate.
    """
    fallback = report.source_sha256
    if report.status == "rejected":
        fallback = f"{report.source_sha256}|{report.source_file}"
    return S.report_id_for(report.agency, report.region, report.year, fallback=fallback)


def _fee_decimal(value: Any, text: str | None) -> Decimal | None:
    """The fee exactly as printed: Decimal of the printed text, checked against the parsed value."""
    printed = None
    if text:
        compact = "".join(unicodedata.normalize("NFKC", text).split()).replace(",", "")
        try:
            printed = Decimal(compact)
        except InvalidOperation:
            printed = None
    if (
        printed is None
        or not printed.is_finite()
        or not math.isclose(float(printed), float(value), rel_tol=1e-12, abs_tol=1e-9)
    ):
        printed = Decimal(repr(float(value))) if isinstance(value, float) else Decimal(int(value))
    # More than 6 decimals of 万元 is below 0.01 元: round to the column's scale; cells keeps the print.
    quantized = printed.quantize(FEE_QUANTUM, rounding=ROUND_HALF_EVEN)
    return quantized if len(quantized.as_tuple().digits) <= S.FEE_PRECISION else None


def _count(value: Any) -> int | None:
    """An int64 count, or None for blank, text, non-integral or out-of-range values."""
    if type(value) is int:  # the common case first
        return value if -INT64_MAX <= value <= INT64_MAX else None
    if not _is_number(value):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    return value if -INT64_MAX <= value <= INT64_MAX else None


def _items(obj: Any, index: int | None) -> Any:
    """obj[index] of a JSON row (a list), or obj itself for single-cell rows; None when absent."""
    if index is None:
        return obj
    return obj[index] if isinstance(obj, list) and index < len(obj) else None


def statistical_values(report: ParsedReport) -> dict[str, dict[str, Any]]:
    """Printed values by table and schema column, from the JSON-shaped tables of the report."""
    out: dict[str, dict[str, Any]] = {}
    tables = report.tables or {}
    active: dict[str, Any] = {}
    for source, spec in ((tables.get("active"), S.ACTIVE_2021), (report.active_2019, S.ACTIVE_2019)):
        if source:
            for key, index, column, _ in spec:
                active[column] = _items(source.get(key), index)
    if tables.get("active") or report.active_2019:
        out["active_disclosure"] = active
    if tables.get("applications"):
        out["applications"] = {
            column: _items(values, i)
            for row, values in tables["applications"].items()
            for i, column in enumerate(_application_columns(row))
        }
    if tables.get("review_litigation"):
        review = tables["review_litigation"]
        out["review_litigation"] = {column: _items(review.get(g), i) for g, i, column in _REVIEW_CELLS}
    return out


@lru_cache(maxsize=256)
def _application_columns(row: str) -> tuple[str, ...]:
    """The schema columns of one table-三 row, in applicant order."""
    return tuple(S.app_col(row, c) for c, _ in S.APPLICANT_COLUMNS)


_REVIEW_CELLS = tuple((g, i, f"{g}_{o}") for g, _ in S.REVIEW_GROUPS for i, (o, _) in enumerate(S.REVIEW_OUTCOMES))
_DECIMAL_COLUMNS = frozenset(S.DECIMAL_COLUMNS)
_NUMBER_TYPES = frozenset({int, float})
_COLUMN_NAMES = {table: tuple(name for name, _ in columns) for table, columns in S.TABLE_COLUMNS.items()}
_COLUMN_INDEX = {table: {name: i for i, name in enumerate(names)} for table, names in _COLUMN_NAMES.items()}
_INGESTED_AT = _COLUMN_NAMES["reports"].index("ingested_at")
# Tables with a Decimal column: the digest gives marshal a Decimal's exact text.
_DECIMAL_TABLES = frozenset(t for t, columns in S.TABLE_COLUMNS.items() if any(kind == S.FEE for _, kind in columns))


def _is_number(value: Any) -> bool:
    return type(value) in _NUMBER_TYPES or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _day(iso: str | None) -> date | None:
    """The publication date of the reports row (date32); None when unknown or not a day (a hand-built report)."""
    try:
        return date.fromisoformat(iso) if iso else None
    except (TypeError, ValueError):
        return None


def report_tuples(report: ParsedReport, *, ingested_at: datetime | None = None) -> dict[str, list[tuple]]:
    """Rows of every table of schema.TABLE_SCHEMAS for one report, each a tuple in its schema's column
    order (a rejected report only has its `reports` row)."""
    rid = report_id(report)
    rows: dict[str, list[tuple]] = {name: [] for name in S.TABLE_COLUMNS}
    rows["reports"].append(
        (
            rid,
            report.agency,
            report.region,
            report.level,
            report.year,
            report.format_version,
            ",".join(report.deviations),
            report.source_file,
            report.source_sha256 or None,
            report.status,
            report.reason,
            ",".join(report.missing),
            (ingested_at or datetime.now(UTC)).replace(microsecond=0),
            _day(report.published),
        )
    )
    if report.status == "rejected":
        return rows
    texts = {(c.table, c.column): c.text for c in report.cells}
    cells = rows["cells"]
    for table, values in statistical_values(report).items():
        index = _COLUMN_INDEX[table]
        row: list[Any] = [None] * len(index)
        row[index["report_id"]], row[index["format_version"]] = rid, report.format_version
        for column, value in values.items():
            i = index.get(column)
            if i is None:
                continue  # a key the schema does not know: kept in cells, never in a wrong column
            if column in _DECIMAL_COLUMNS:
                row[i] = _fee_decimal(value, texts.get((table, column))) if _is_number(value) else None
            else:
                row[i] = _count(value)
            if isinstance(value, str) and (table, column) not in texts:
                # Non-numeric print the parser gave no Cell for: keep it rather than lose it.
                cells.append((rid, table, column, value, False, ""))
        rows[table].append(tuple(row))
    cells += [(rid, c.table, c.column, c.text, _is_number(c.value), c.source) for c in report.cells]
    rows["sections"] += [(rid, p.key, p.heading, p.text, k, p.source) for k, p in enumerate(report.sections, 1)]
    return rows


def report_rows(report: ParsedReport, *, ingested_at: datetime | None = None) -> dict[str, list[dict]]:
    """report_tuples as dicts by column name."""
    return {
        table: [dict(zip(_COLUMN_NAMES[table], row)) for row in rows]
        for table, rows in report_tuples(report, ingested_at=ingested_at).items()
    }


def rows_digest(rows: dict[str, list[tuple]]) -> str:
    """SHA-256 of a report's rows (report_tuples) without ingested_at: equal digests mean nothing would change."""
    # marshal (format 2: no back-references, so equal values always give equal bytes) is a fraction of
    # repr's cost; the fee's Decimal, which marshal does not know, goes in as its exact text.
    values = [
        (
            table,
            [tuple(str(v) if type(v) is Decimal else v for v in row) for row in rows[table]]
            if table in _DECIMAL_TABLES
            else rows[table],
        )
        for table in S.TABLE_COLUMNS
        if table != "reports"
    ]
    values += [
        tuple(v.isoformat() if type(v) is date else v for v in row[:_INGESTED_AT] + row[_INGESTED_AT + 1 :])
        for row in rows["reports"]
    ]
    try:
        data = marshal.dumps(values, 2)
    except ValueError:  # a value of a type marshal does not know (only a hand-built report has one)
        data = repr(values).encode("utf-8")
    return hashlib.sha256(data).hexdigest()
