"""`nianbao ingest`: report files and folders -> the Parquet tables, idempotently, one outcome per file.

Every input file ends as parsed, partial or rejected, with a row in `reports` either way. Rows are
merged by report_id into ingest's own table files (the synthetic generator's synth-*.parquet files
beside them are never touched), with a state that remembers what each report was built from and a
change log of every addition, replacement and conflict; all of them are committed together as one
snapshot of the data folder (nianbao.datafolder), or not at all.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import collector, datafolder
from . import schema as S
from .exitcodes import ExitCode
from .faults import crash_point
from .ingest_file import (
    FileOutcome,
    Ingested,
    ManifestError,
    file_sha256,
    ingest_job,
    ingest_one,
    parse_timeout,
    parser_process_start,
    real_path,
    rejected_report,
    shown_path,
    to_ingested,
    with_identity,
)
from .model import is_iso_day
from .parse.encoding import InputError, decode
from .parse.limits import parse_memory

# Inside folders only these are read (explicitly named files always are): report formats the parser
# reads or rejects with a clear reason. Anything else (.json transcriptions, images) is counted as skipped.
REPORT_SUFFIXES = (".txt", ".text", ".md", ".html", ".htm", ".shtml", ".xhtml", ".pdf", ".docx", ".doc", ".wps")
LEGACY_FILE_NAME = "ingest.parquet"  # where ingest kept a table before snapshots
STATE_DIR = datafolder.INGEST_DIR
STATUS_RANK = {"parsed": 2, "partial": 1, "rejected": 0}
ACTION_LABELS = {"added": "新增", "replaced": "替换", "unchanged": "未变", "conflict": "重复未导入"}
# Small batches: the rows still waiting when the last file is parsed are converted after parsing, on one
# core (measured at 3,000 HTML reports: 2,000 left 0.64 s of conversion to the end, 250 leaves 0.1 s).
BATCH_REPORTS = 250
PARALLEL_FROM = 200  # files; below this, starting parser processes costs more than it saves
CHUNK_FILES = 8  # files a parser process takes at a time
PROCESS_DIED = "parser-crash: 解析进程读取此文件时意外退出(内存耗尽或原生代码崩溃);已单独重试一次,仍然退出,未导入"

STATE_SCHEMA = pa.schema(
    [
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("source_file", pa.string()),
        pa.field("source_sha256", pa.string()),
        pa.field("parse_status", pa.string()),
        pa.field("rows_sha256", pa.string()),  # digest of the report's rows, ingested_at excluded
    ]
)
CHANGES_SCHEMA = pa.schema(
    [
        pa.field("changed_at", pa.timestamp("s", tz="UTC")),
        pa.field("action", pa.string()),  # added | replaced | unchanged | conflict
        pa.field("report_id", pa.string()),
        pa.field("source_file", pa.string()),
        pa.field("old_sha256", pa.string()),
        pa.field("new_sha256", pa.string()),
        pa.field("detail", pa.string()),  # Chinese, for auditors: what was replaced or kept instead
    ]
)


# --- Metadata: manifest per file > flags > what the parser found in the title.

META_KEYS = ("agency", "region", "year", "level")
# A manifest may also give the day each report was published (YYYY-MM-DD): it overrides the page's date.
MANIFEST_KEYS = (*META_KEYS, "published")
MANIFEST_COLUMNS = "应有列 file, agency, region, year, 可选 level、published(发布日期 YYYY-MM-DD)"
_LEVEL_BY_LABEL = {label: key for key, label in S.LEVELS.items()}


def normalize_level(value: str | None, where: str) -> str | None:
    """A level key of schema.LEVELS from its key or its Chinese label; ManifestError otherwise."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    if value in S.LEVELS:
        return value
    if value in _LEVEL_BY_LABEL:
        return _LEVEL_BY_LABEL[value]
    raise ManifestError(f"{where}: 未知的行政层级 {value!r},可用:{', '.join(S.LEVELS)} 或其中文名称")


def _year(value: Any, where: str) -> int | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if not (text.isdigit() and len(text) == 4):
        raise ManifestError(f"{where}: 年度应为四位数字,实为 {text!r}")
    return int(text)


def _published(value: Any, where: str) -> str | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if not is_iso_day(text):
        raise ManifestError(f"{where}: 发布日期 published 应为 YYYY-MM-DD,实为 {text!r}")
    return text


def clean_meta(meta: dict[str, Any] | None, where: str = "命令行参数") -> dict[str, Any]:
    """The set (non-blank) metadata values, validated: year a 4-digit int, level a schema.LEVELS key,
    published (manifests only) a YYYY-MM-DD day."""
    out: dict[str, Any] = {}
    for key, value in (meta or {}).items():
        if key not in MANIFEST_KEYS:
            raise ManifestError(f"{where}: 未知的元数据 {key!r}")
        if key == "year":
            value = _year(value, where)
        elif key == "published":
            value = _published(value, where)
        elif key == "level":
            value = normalize_level(value, where)
        elif value is not None:
            value = str(value).strip() or None
        if value is not None:
            out[key] = value
    return out


def _read_manifest_text(path: Path) -> str:
    """Manifest text in whatever encoding the parser detects (Excel on Chinese Windows saves GB18030)."""
    try:
        return decode(path.read_bytes(), str(path))
    except InputError as e:
        raise ManifestError(f"{path}: 无法识别清单编码 ({e.detail})") from None


def read_manifest(path: str | Path) -> dict[str, dict[str, Any]]:
    """Per-file metadata from a CSV (columns file, agency, region, year, optional level and published), by
    resolved path."""
    path = Path(path)
    try:
        text = _read_manifest_text(path)
    except OSError as e:
        raise ManifestError(f"{path}: 无法读取清单文件 ({e.strerror or e})") from None
    rows = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(rows, [])]
    if "file" not in header:
        raise ManifestError(f"{path}:1: 清单缺少 file 列({MANIFEST_COLUMNS})")
    unknown = [h for h in header if h and h not in ("file", *MANIFEST_KEYS)]
    if unknown:
        raise ManifestError(f"{path}:1: 清单含未知列 {unknown}({MANIFEST_COLUMNS})")
    entries: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not any(c.strip() for c in row):
            continue
        where = f"{path}:{rows.line_num}"
        if len(row) != len(header):
            raise ManifestError(f"{where}: 应有 {len(header)} 列,实有 {len(row)} 列")
        values = dict(zip(header, row))
        name = values.pop("file").strip()
        if not name:
            raise ManifestError(f"{where}: file 列为空")
        target = str((path.parent / name).resolve())
        if target in entries:
            raise ManifestError(f"{where}: 文件 {name} 在清单中重复出现")
        entries[target] = clean_meta(values, where)
    return entries


# --- Finding the input files.


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # each file's real path (symlinks resolved), in files' order
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (path, reason) of inputs never opened
    skipped: Counter = field(default_factory=Counter)  # suffix -> count, inside folders


def _walk(folder: Path, found: Discovery, seen_dirs: set[tuple[int, int]]) -> None:
    """Every report-like file below folder; symlinked folders followed once, so loops end."""
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            st = current.stat()
            if (st.st_dev, st.st_ino) in seen_dirs:
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            entries = list(os.scandir(current))
        except OSError as e:
            found.unreadable.append((current, f"unreadable-folder: 无法列出目录内容 ({e.strerror or e})"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                stack.append(path)
            elif path.suffix.lower() in REPORT_SUFFIXES:
                found.files.append(path)
            else:
                found.skipped[path.suffix.lower() or "(无扩展名)"] += 1


def discover(paths: Iterable[str | Path]) -> Discovery:
    """The files to ingest: named files as given, folders recursively; sorted, each real file once."""
    found, seen_dirs = Discovery(), set()
    for raw in paths:
        path = Path(raw)
        try:
            is_dir = path.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            _walk(path, found, seen_dirs)
        elif path.exists() or path.is_symlink():
            found.files.append(path)
        else:
            found.unreadable.append((path, "not-found: 文件或目录不存在"))
    unique: dict[str, Path] = {}
    for path in found.files:
        # A dangling link is no real file: keyed by its own name, two links to one missing file are two inputs.
        unique.setdefault(str(real_path(path) if path.exists() else shown_path(path)), path)
    found.keys = sorted(unique)
    found.files = [unique[k] for k in found.keys]
    return found


def ingest_all(
    jobs: list[tuple[Path, dict[str, Any], datetime, float, float]], workers: int | None = None
) -> Iterator[Ingested]:
    """ingest_one over every (path, meta, ingested_at, timeout, memory_mb) job, in order; in parser
    processes for large runs.

    The workers build the rows too: parsing and row building in the main process made it the
    bottleneck of a parallel ingest (measured: 5.9 ms of main-process CPU per HTML report).
    A parser process that dies (out of memory, a native crash) never takes this process with it: the
    files it may have been reading are parsed again one at a time, in a process of their own, and the
    one it dies on again is rejected as `parser-crash`; the others load. Where no parser process
    starts at all, the files are parsed in this process."""
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if len(jobs) >= PARALLEL_FROM else 1
    done, alone = 0, 0  # alone: after a death, how many files to parse one at a time
    while workers > 1 and done < len(jobs):
        part = jobs[done : done + alone] if alone else jobs[done:]
        n = yield from _parse_in_processes(part, 1 if alone else workers, 1 if alone else CHUNK_FILES)
        if n is None:
            break
        done += n
        if n == len(part):
            alone = 0
        elif alone:
            yield _died_on(jobs[done])
            done, alone = done + 1, 0
        else:  # the dead process held at most a chunk; the others and the queue a chunk each
            alone = (workers + 2) * CHUNK_FILES
    for job in jobs[done:]:
        yield ingest_one(*job)


def _parse_in_processes(jobs: list, workers: int, chunksize: int) -> Generator[Ingested, None, int | None]:
    """Yield ingest_job over `jobs` from `workers` parser processes; return how many were yielded before a
    parser process died (len(jobs) if none did), or None if none could start."""
    done, ping = 0, None
    # spawn, not fork: forking after pyarrow has started its thread pools can deadlock the child.
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=parser_process_start, initargs=(os.getpid(),)
        ) as pool:
            # Answered as soon as a process runs (before any file, which takes longer): a death after
            # that is a file's doing. Not waited for, so that every process starts at once.
            ping = pool.submit(os.getpid)
            for item in pool.map(ingest_job, jobs, chunksize=chunksize):
                done += 1
                yield item
    except BrokenProcessPool:
        started = ping is not None and ping.done() and not ping.cancelled() and ping.exception() is None
        return done if started else None
    return done


def _died_on(job: tuple[Path, dict[str, Any], datetime, float, float]) -> Ingested:
    """The outcome of a file a parser process died on when it had that file alone: never parsed again."""
    path, meta, ingested_at, *_ = job
    try:
        sha = file_sha256(path)
    except OSError:
        sha = ""
    return to_ingested(with_identity(rejected_report(path, PROCESS_DIED, sha), path, meta), ingested_at)


# --- The run: outcomes, conflicts, summary.


# Characters that would break a summary line, or disguise one, where a file name (or text read from a file)
# holds them: controls (a newline would forge a line of its own), line and paragraph separators, and the
# bidirectional overrides that reorder what a line shows. Escaped as repr writes them; Chinese stays.
_NAMED_ESCAPES = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
_BIDI = (0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_UNPRINTED = (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *_BIDI)
_LINE_ESCAPES = {c: _NAMED_ESCAPES.get(c, f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNPRINTED}


def _one_line(text: str) -> str:
    """`text` as one printed line: its control characters escaped ('\\n', '\\x1b', '\\u2028')."""
    return text.translate(_LINE_ESCAPES)


@dataclass
class IngestSummary:
    out_dir: Path
    outcomes: list[FileOutcome] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    manifest_unused: list[str] = field(default_factory=list)
    seconds: float = 0.0
    snapshot: str = ""  # the data folder snapshot this ingest committed

    def by_status(self) -> Counter:
        return Counter(o.status for o in self.outcomes)

    def by_reason(self) -> Counter:
        return Counter(o.code for o in self.outcomes if o.status != "parsed")

    def by_action(self) -> Counter:
        return Counter(o.action for o in self.outcomes if o.action)

    def conflicts(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.action == "conflict"]

    def exit_code(self) -> ExitCode:
        """OK when anything was read into the tables; INPUT_UNREADABLE when no file at all was."""
        if any(o.status != "rejected" for o in self.outcomes):
            return ExitCode.OK
        return ExitCode.INPUT_UNREADABLE

    def __str__(self) -> str:
        return self.text()

    def text(self) -> str:
        """The ingest summary for people, in Chinese: counts by outcome and reason, every problem file named."""
        statuses, n = self.by_status(), len(self.outcomes)
        lines = [f"导入完成:共 {n} 个文件,用时 {self.seconds:.1f} 秒,数据目录 {self.out_dir}"]
        lines += [f"  {S.PARSE_STATUS_ZH[s]}({s}):{statuses.get(s, 0)}" for s in S.PARSE_STATUSES]
        reasons = self.by_reason()
        if reasons:
            lines.append("按原因(部分解析与拒收):")
            lines += [f"  {code}:{count}" for code, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
        actions = self.by_action()
        lines.append("数据变化:" + ",".join(f"{ACTION_LABELS[a]} {actions.get(a, 0)}" for a in ACTION_LABELS))
        conflicts = self.conflicts()
        if conflicts:
            lines.append(f"同一报告编号来自多个文件(同一机关同一年度或内容相同),各保留一份,其余未导入:{len(conflicts)}")
            lines += [f"  {o.report_id} {o.path}:{o.detail}" for o in conflicts]
        problems = [o for o in self.outcomes if o.status != "parsed"]
        if problems:
            lines.append("未完整解析的文件:")
            for o in problems:
                lines.append(f"  [{S.PARSE_STATUS_ZH[o.status]}] {o.path}:{o.reason or '(未说明原因)'}")
        read = [o for o in self.outcomes if o.status != "rejected"]
        lacking = {
            label: sum(1 for o in read if getattr(o, key) is None)
            for key, label in (("agency", "机关名称"), ("year", "年度"), ("region", "地区"))
        }
        if any(lacking.values()):
            lines.append(
                "缺少元数据的报告(可用 --agency/--region/--year 或 --manifest 补充):"
                + ",".join(f"{label} {k} 份" for label, k in lacking.items() if k)
            )
        if self.skipped:
            lines.append(
                "目录中跳过的非报告文件(按扩展名):"
                + ",".join(f"{suffix} {k} 个" for suffix, k in sorted(self.skipped.items()))
            )
        if self.manifest_unused:
            lines.append(f"清单中有 {len(self.manifest_unused)} 个文件不在本次输入中:")
            lines += [f"  {p}" for p in self.manifest_unused]
        # Each entry is one line: file names, reasons and details are escaped, so none can forge another.
        return "\n".join(map(_one_line, lines))


# --- Parquet: accumulate new rows in batches, merge with what is on disk, replace atomically.


class _Rows:
    """New rows of the run as tuples, converted to Arrow column by column every BATCH_REPORTS reports;
    each row carries its report's sequence number."""

    def __init__(self) -> None:
        self.batches: dict[str, list[pa.Table]] = {t: [] for t in S.TABLE_SCHEMAS}
        self.count = 0
        self._clear()

    def _clear(self) -> None:
        self.pending: dict[str, list[tuple]] = {t: [] for t in S.TABLE_SCHEMAS}
        self.seqs: dict[str, list[int]] = {t: [] for t in S.TABLE_SCHEMAS}

    def add(self, seq: int, rows: dict[str, list[tuple]]) -> None:
        for table, table_rows in rows.items():
            self.pending[table] += table_rows
            self.seqs[table] += [seq] * len(table_rows)
        self.count += 1
        if self.count % BATCH_REPORTS == 0:
            self.flush()

    def flush(self) -> None:
        for table, seqs in self.seqs.items():
            if seqs:
                schema = S.TABLE_SCHEMAS[table]
                columns = zip(*self.pending[table], strict=True)
                arrays = [pa.array(column, f.type) for column, f in zip(columns, schema, strict=True)]
                self.batches[table].append(
                    pa.Table.from_arrays(
                        [*arrays, pa.array(seqs, pa.int64())], schema=schema.append(pa.field("_seq", pa.int64()))
                    )
                )
        self._clear()

    def table(self, name: str, keep: set[int]) -> pa.Table:
        """The new rows of one table from the reports kept, without the sequence column."""
        self.flush()
        schema = S.TABLE_SCHEMAS[name]
        if not self.batches[name]:
            return schema.empty_table()
        t = pa.concat_tables(self.batches[name])
        if len(keep) < self.count:  # (keep holds sequence numbers below count: all kept is the usual case)
            t = t.filter(pc.is_in(t["_seq"], pa.array(sorted(keep), pa.int64())))
        return t.drop_columns(["_seq"]).cast(schema)


def _stored(snapshot: datafolder.Snapshot, name: str) -> Path:
    """Ingest's own file of a table (or "state", "changes") in the snapshot; before the first snapshot,
    where an earlier ingest kept it (a missing file reads as an empty table)."""
    found = snapshot.ingest_file(name)
    if found is not None:
        return found
    if name in datafolder.TABLES:
        return snapshot.data_dir / name / LEGACY_FILE_NAME
    return snapshot.data_dir / STATE_DIR / f"{name}.parquet"


def stored_table(data_dir: Path, name: str) -> pa.Table:
    """Ingest's rows of a table (or its "state", "changes") in the folder's current snapshot."""
    snapshot = datafolder.open_snapshot(data_dir)
    schema = {"state": STATE_SCHEMA, "changes": CHANGES_SCHEMA}.get(name) or S.TABLE_SCHEMAS[name]
    return datafolder.read_table(_stored(snapshot, name), schema)


def _state_on_disk(snapshot: datafolder.Snapshot, reports: pa.Table) -> pa.Table:
    """What each stored report was built from; rebuilt from `reports` (without digests) if the state file is gone."""
    path = _stored(snapshot, "state")
    if path.exists():
        return datafolder.read_table(path, STATE_SCHEMA)
    return pa.table(
        {
            "report_id": reports["report_id"],
            "source_file": reports["source_file"],
            "source_sha256": reports["source_sha256"],
            "parse_status": reports["parse_status"],
            "rows_sha256": pa.nulls(reports.num_rows, pa.string()),
        },
        schema=STATE_SCHEMA,
    )


def _resolve_conflicts(outcomes: list[FileOutcome]) -> set[int]:
    """One file per report_id: the best parse status wins, ties go to the first file; the others are listed."""
    best: dict[str, int] = {}
    seqs = range(len(outcomes))
    for seq in seqs:
        o = outcomes[seq]
        kept = best.get(o.report_id)
        if kept is None or STATUS_RANK[o.status] > STATUS_RANK[outcomes[kept].status]:
            best[o.report_id] = seq
    keep = set(best.values())
    for seq in seqs:
        if seq not in keep:
            winner = outcomes[best[outcomes[seq].report_id]]
            outcomes[seq].action = "conflict"
            outcomes[seq].detail = (
                f"与 {winner.path} 的报告编号相同(同一机关同一年度,或内容相同);"
                f"保留了该文件({S.PARSE_STATUS_ZH[winner.status]}),本文件未导入"
            )
    return keep


def _classify(outcomes: list[FileOutcome], keep: set[int], digests: dict[int, str], state: pa.Table) -> set[str]:
    """Set each kept outcome's action against the stored state; return the stored report_ids to drop."""
    by_id = {r["report_id"]: r for r in state.to_pylist()}
    by_file: dict[str, list[dict]] = {}
    for r in by_id.values():
        by_file.setdefault(r["source_file"], []).append(r)
    drop: set[str] = set()
    for seq in sorted(keep):
        o = outcomes[seq]
        same = by_id.get(o.report_id)
        if same and same["source_file"] != o.path and STATUS_RANK[o.status] < STATUS_RANK[same["parse_status"]]:
            # Another file already gave this report in a better state: a worse copy never overwrites it.
            o.action = "conflict"
            o.detail = (
                f"已导入的 {same['source_file']} 是同一报告且解析更完整"
                f"({S.PARSE_STATUS_ZH[same['parse_status']]}),本文件未导入"
            )
            continue
        # Same report (agency+year) from any file, and whatever this same file produced before.
        old = [r for r in [same, *by_file.get(o.path, [])] if r]
        old = list({r["report_id"]: r for r in old}.values())
        drop.update(r["report_id"] for r in old)
        o.old_sha256 = (same or (old[0] if old else {})).get("source_sha256")
        if not old:
            o.action = "added"
        elif (
            len(old) == 1
            and same
            and same["source_file"] == o.path
            and same["source_sha256"] == o.source_sha256
            and same["rows_sha256"] in (None, digests[seq])
        ):
            o.action = "unchanged"
        else:
            o.action = "replaced"
            notes = []
            for r in old:
                if r["source_file"] != o.path:
                    notes.append(f"原来源文件 {r['source_file']}")
                if r["report_id"] != o.report_id:
                    notes.append(f"原编号 {r['report_id']}")
                if r["source_sha256"] != o.source_sha256:
                    notes.append(f"原 SHA-256 {r['source_sha256']}")
            o.detail = ";".join(notes) or "文件未变,解析结果或元数据有变化"
    return drop


def _changes(outcomes: list[FileOutcome], when: datetime) -> pa.Table:
    """This run's lines of the change log."""
    rows = [
        {
            "changed_at": when,
            "action": o.action,
            "report_id": o.report_id,
            "source_file": o.path,
            "old_sha256": o.old_sha256,
            "new_sha256": o.source_sha256,
            "detail": o.detail,
        }
        for o in outcomes
        if o.action
    ]
    return pa.Table.from_pylist(rows, schema=CHANGES_SCHEMA)


def _preserve_ingested_at(new_reports: pa.Table, old_reports: pa.Table, unchanged: set[str]) -> pa.Table:
    """Unchanged reports keep the time they were first ingested, so a re-run rewrites identical rows."""
    if not unchanged or not old_reports.num_rows:
        return new_reports
    old_at = dict(zip(old_reports["report_id"].to_pylist(), old_reports["ingested_at"].to_pylist()))
    times = [
        old_at.get(rid, at) if rid in unchanged else at
        for rid, at in zip(new_reports["report_id"].to_pylist(), new_reports["ingested_at"].to_pylist())
    ]
    index = new_reports.schema.get_field_index("ingested_at")
    field_ = new_reports.schema.field(index)
    return new_reports.set_column(index, field_, pa.array(times, field_.type))


def ingest(
    paths: Iterable[str | Path],
    out_dir: str | Path,
    *,
    manifest: str | Path | None = None,
    meta: dict[str, Any] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int | None = None,
    timeout: float | None = None,
    memory_mb: float | None = None,
) -> IngestSummary:
    """Parse files and folders (recursively) into the data folder OUT, merging by report_id, in one commit.

    Metadata precedence, per file: the manifest's row (non-blank cells) > `meta` (the command-line
    flags) > what the parser read from the title and opening paragraphs. Manifest file paths are
    relative to the manifest's folder. Raises ManifestError for a bad manifest or flag, RuntimeError
    when the existing data cannot be read; a bad input file never raises, it is listed as rejected.
    `progress(done, total, path)` is called after each file. `workers` parser processes (default:
    one per core, up to 4, from PARALLEL_FROM files on; 1 parses in this process). A file whose parse
    takes more than `timeout` seconds (parse_timeout()) is rejected as `parser-timeout`, one that needs
    more than `memory_mb` MB (parse.limits.parse_memory()) as `parser-out-of-memory`.
    """
    started, out_dir = time.monotonic(), Path(out_dir)
    flags = clean_meta(meta)
    try:
        seconds, memory = parse_timeout(timeout), parse_memory(memory_mb)
    except ValueError as e:
        raise ManifestError(str(e)) from None
    per_file = read_manifest(manifest) if manifest else {}
    found = discover(paths)
    summary = IngestSummary(out_dir=out_dir, skipped=found.skipped)
    now = datetime.now(UTC).replace(microsecond=0)
    rows, digests = _Rows(), {}

    def record(item: Ingested) -> None:
        seq = len(summary.outcomes)
        summary.outcomes.append(item.outcome)
        digests[seq] = item.digest
        rows.add(seq, item.rows)

    for path, reason in found.unreadable:  # never opened: still one row in `reports`
        record(to_ingested(rejected_report(Path(str(real_path(path))), reason), now))
    jobs = [
        (path, {**flags, **per_file.get(key, {})}, now, seconds, memory) for path, key in zip(found.files, found.keys)
    ]
    # The new rows wait here as Python values until they become Arrow (BATCH_REPORTS): hundreds of
    # thousands of objects without reference cycles, which the collector would walk again and again.
    with collector.paused():
        for i, item in enumerate(ingest_all(jobs, workers)):
            record(item)
            if progress:
                progress(i + 1, len(jobs), str(jobs[i][0]))
        summary.manifest_unused = sorted(set(per_file) - set(found.keys))
        keep = _resolve_conflicts(summary.outcomes)
        # Still paused: the merge converts the last batch and walks the outcomes (measured: 0.33 s of
        # collections at 3,000 HTML reports).
        _merge(out_dir, summary, rows, keep, digests, now)
    summary.seconds = time.monotonic() - started
    return summary


def _merge(
    out_dir: Path, summary: IngestSummary, rows: _Rows, keep: set[int], digests: dict[int, str], now: datetime
) -> None:
    """Merge the kept new rows into the current snapshot's tables and commit them as one new snapshot."""
    outcomes = summary.outcomes
    with datafolder.locked(out_dir):
        current = datafolder.open_snapshot(out_dir)
        old = {t: datafolder.read_table(_stored(current, t), S.TABLE_SCHEMAS[t]) for t in S.TABLE_SCHEMAS}
        state = _state_on_disk(current, old["reports"])
        drop = _classify(outcomes, keep, digests, state)
        conflicts = {s for s in range(len(outcomes)) if outcomes[s].action == "conflict"}
        keep = {s for s in keep if outcomes[s].action != "conflict"}
        unchanged = {outcomes[s].report_id for s in keep if outcomes[s].action == "unchanged"}
        drop_ids = pa.array(sorted(drop), pa.string())
        out: dict[str, pa.Table] = {}
        out[datafolder.VERSIONS] = _versions(outcomes, rows, keep, conflicts, digests, old, state, now)
        for table in S.TABLE_SCHEMAS:
            if table == datafolder.VERSIONS:
                continue
            kept_old = old[table].filter(pc.invert(pc.is_in(old[table]["report_id"], drop_ids)))
            new = rows.table(table, keep)
            if table == "reports":
                new = _preserve_ingested_at(new, old["reports"], unchanged)
            out[table] = pa.concat_tables([kept_old, new])
        kept_state = state.filter(pc.invert(pc.is_in(state["report_id"], drop_ids)))
        new_state = pa.Table.from_pylist(
            [
                {
                    "report_id": outcomes[s].report_id,
                    "source_file": outcomes[s].path,
                    "source_sha256": outcomes[s].source_sha256,
                    "parse_status": outcomes[s].status,
                    "rows_sha256": digests[s],
                }
                for s in sorted(keep)
            ],
            schema=STATE_SCHEMA,
        )
        out["state"] = pa.concat_tables([kept_state, new_state])
        old_changes = datafolder.read_table(_stored(current, "changes"), CHANGES_SCHEMA)
        out["changes"] = pa.concat_tables([old_changes, _changes(outcomes, now)])
        committed = datafolder.commit(out_dir, out, current, step=lambda name: crash_point(f"ingest-{name}"))
        summary.snapshot = committed.id
        datafolder.clean_up(out_dir, committed)


# --- Versions (一报多版): another file of the same report whose numbers differ is kept, not dropped.


def _statutory(tables: dict[str, pa.Table]) -> dict[str, dict]:
    """{table: {column: value}} of one report's rows of the three statutory tables."""
    out = {}
    for t in S.STATUTORY_TABLES:
        rows = tables[t].drop_columns(
            [c for c in ("report_id", "format_version", "_seq") if c in tables[t].column_names]
        )
        out[t] = rows.slice(0, 1).to_pylist()[0] if rows.num_rows else {}
    return out


def _differing(a: dict[str, dict], b: dict[str, dict]) -> list[str]:
    """The statutory columns whose numbers differ between two versions (a table one lacks counts whole)."""
    return [f"{t}.{c}" for t in S.STATUTORY_TABLES for c in sorted(set(a[t]) | set(b[t])) if a[t].get(c) != b[t].get(c)]


def _versions(
    outcomes: list[FileOutcome],
    rows: _Rows,
    keep: set[int],
    conflicts: set[int],
    digests: dict[int, str],
    old: dict[str, pa.Table],
    state: pa.Table,
    now: datetime,
) -> pa.Table:
    """The versions table after this ingest: the stored versions, and each report this ingest met in two
    files with different numbers (the one the tables keep is checked; the other is recorded here)."""
    import json

    def new_values(seq: int) -> dict[str, dict]:
        return _statutory({t: rows.table(t, {seq}) for t in S.STATUTORY_TABLES})

    def old_values(rid: str) -> dict[str, dict]:
        return _statutory({t: old[t].filter(pc.equal(old[t]["report_id"], rid)) for t in S.STATUTORY_TABLES})

    stored = {r["report_id"]: r for r in state.to_pylist()}
    kept_by_id = {outcomes[s].report_id: s for s in keep if outcomes[s].action != "conflict"}
    found = []  # (report_id, other file, its sha, its status, current file, other values, current values)
    for seq in sorted(conflicts):
        o = outcomes[seq]
        if o.status == "rejected" or not o.report_id:
            continue
        winner = kept_by_id.get(o.report_id)
        if winner is not None:  # another file of this ingest is kept
            if digests.get(winner) == digests.get(seq):
                continue
            current = (outcomes[winner].path, new_values(winner))
        elif o.report_id in stored:  # the stored file is kept (it was read more completely)
            current = (stored[o.report_id]["source_file"], old_values(o.report_id))
        else:
            continue
        found.append((o.report_id, o.path, o.source_sha256, o.status, *current[:1], new_values(seq), current[1]))
    for rid, seq in kept_by_id.items():  # a stored report replaced by another file of the same report
        was = stored.get(rid)
        o = outcomes[seq]
        if was and was["source_file"] != o.path and was["parse_status"] != "rejected":
            found.append(
                (
                    rid,
                    was["source_file"],
                    was["source_sha256"],
                    was["parse_status"],
                    o.path,
                    old_values(rid),
                    new_values(seq),
                )
            )
    current_sha = {outcomes[s].report_id: outcomes[s].source_sha256 for s in kept_by_id.values()}
    current_sha.update({rid: r["source_sha256"] for rid, r in stored.items() if rid not in current_sha})
    current_file = {rid: r["source_file"] for rid, r in stored.items()}
    current_file.update({outcomes[s].report_id: outcomes[s].path for s in kept_by_id.values()})
    new_rows = []
    for rid, path, sha, status, now_file, values, checked in found:
        differ = _differing(values, checked)
        if differ:
            new_rows.append(
                {
                    "report_id": rid,
                    "source_file": path,
                    "source_sha256": sha,
                    "parse_status": status,
                    "current_source_file": now_file,
                    "differing": ",".join(differ),
                    "statutory_values": json.dumps(values, ensure_ascii=False, default=str, sort_keys=True),
                    "recorded_at": now,
                }
            )
    schema = S.TABLE_SCHEMAS[datafolder.VERSIONS]
    merged: dict[tuple[str, str], dict] = {}
    for r in [*old[datafolder.VERSIONS].to_pylist(), *new_rows]:
        key = (r["report_id"], r["source_sha256"])
        merged.setdefault(key, r)  # a version recorded before keeps its row (re-ingest changes nothing)
    # A version that became the checked one again (its file re-ingested and kept) is no other version.
    out = [
        {**r, "current_source_file": current_file.get(r["report_id"], r["current_source_file"])}
        for (rid, sha), r in merged.items()
        if current_sha.get(rid) != sha
    ]
    return pa.Table.from_pylist(out, schema=schema)


# --- The command.


def _tty_progress() -> Callable[[int, int, str], None] | None:
    """A one-line progress display on an interactive terminal; None (silent) in logs and CI."""
    if not sys.stderr.isatty():
        return None
    last = [0.0]

    def show(done: int, total: int, path: str) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < 0.2:
            return
        last[0] = now
        name = Path(path).name[-40:]
        sys.stderr.write(f"\r\x1b[K导入中 {done}/{total} ({done * 100 // max(total, 1)}%) {name}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def command(args) -> int:
    """`nianbao ingest PATH... [--out DIR] [--manifest CSV] [--agency --region --year --level]`."""
    from .paths import DATA_DIR

    meta = {k: getattr(args, k, None) for k in META_KEYS}
    try:
        summary = ingest(
            args.paths,
            Path(args.out) if args.out else DATA_DIR,
            manifest=args.manifest,
            meta=meta,
            progress=_tty_progress(),
            timeout=getattr(args, "parse_timeout", None),
            memory_mb=getattr(args, "parse_memory", None),
        )
    except ManifestError as e:
        print(f"配置错误:{e}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    except (RuntimeError, OSError) as e:
        print(f"导入失败:{e}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    print(summary.text())
    return summary.exit_code()
