"""Parser processes of the service: each draft parsed in a process of its own, within the ingest limits.

A parse is the one step that reads untrusted bytes with native code (pdfminer, lxml): it runs in one
of a fixed set of processes, started once (spawned, as ingest's are: forking a server whose GX,
DuckDB and pyarrow run threads can deadlock the child) and warm, each dying with the service
(PR_SET_PDEATHSIG). Inside, the ingest limits hold: the parse's time (SIGALRM) and memory (RLIMIT_AS)
end it as `parser-timeout` / `parser-out-of-memory`. Outside, the service gives each parse that time
plus a grace: a process that hangs where the alarm cannot reach (native code, a stall) is killed, and
one that dies is replaced, without disturbing the other parses. The number of processes is the
limit on concurrent parses; beyond it up to `max_waiting` drafts wait, and more are refused (Busy).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..faults import stall_point
from ..ingest_file import parse_one, parser_process_start, report_tuples, with_identity
from ..model import ParsedReport
from ..parse import file_sha256
from ..parse.limits import capped
from .drafts import JSON, Draft

GRACE_SECONDS = 2.0  # beyond the parse's own time limit, before its process is killed
TIMED_OUT, DIED = "timed-out", "died"
PROCESS_DIED = "parser-crash: 解析进程读取此文件时意外退出(内存耗尽或原生代码崩溃),未能检查;解析进程已替换"
_SPAWN = multiprocessing.get_context("spawn")


class Busy(Exception):
    """Every parser process is busy and the waiting line is full."""


@dataclass(frozen=True)
class ParseJob:
    path: str
    name: str  # the uploaded name: the report's source_file
    kind: str
    meta: dict[str, Any]  # agency, region, year, level (ingest.clean_meta)
    timeout: float
    memory_mb: float


@dataclass
class ParsedDraft:
    """A draft parsed: the report (its printed cells are in the rows) and its rows of the Parquet tables."""

    report: ParsedReport
    rows: dict[str, list[tuple]]  # ingest_file.report_tuples
    parse_ms: float


def parse_draft(job: ParseJob) -> ParsedDraft:
    """Parse one saved draft as ingest does (in a parser process); never raises on bad input."""
    stall_point("parse")  # test hook: a parse that never ends, where the parse's own alarm cannot reach
    started = time.perf_counter()
    path = Path(job.path)
    if job.kind == JSON:
        report = with_identity(_json_report(path, job.name, job.memory_mb), path, job.meta)
    else:
        report = parse_one(path, job.meta, job.timeout, job.memory_mb)
    report.source_file = job.name
    rows = report_tuples(report)
    report.cells = []  # the rows hold every printed cell: not sent twice
    return ParsedDraft(report, rows, round((time.perf_counter() - started) * 1000, 1))


def _json_report(path: Path, name: str, memory_mb: float) -> ParsedReport:
    """The report a JSON draft describes (ParsedReport.from_json), read within the parse memory budget."""
    sha = file_sha256(path)
    try:
        with capped(memory_mb):
            doc = json.loads(path.read_bytes())
    except MemoryError:
        return ParsedReport(name, sha, "rejected", f"parser-out-of-memory: JSON 超过 {memory_mb:g} MB 解析内存上限")
    except (ValueError, RecursionError) as exc:
        return ParsedReport(name, sha, "rejected", f"json-invalid: 不是有效的 JSON({type(exc).__name__}: {exc})")
    return ParsedReport.from_json(doc, name, sha)


def _serve_parses(conn, parent: int) -> None:
    """A parser process: parse each job it is sent until the service closes the pipe."""
    parser_process_start(parent)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(None if job is None else parse_draft(job))  # None: are you there?


class ParserProcess:
    """One parser process and the pipe to it."""

    def __init__(self):
        self.conn, child = _SPAWN.Pipe()
        self.process = _SPAWN.Process(target=_serve_parses, args=(child, os.getpid()), daemon=True)
        self.process.start()
        child.close()

    def parse(self, job: ParseJob, seconds: float | None) -> ParsedDraft | str:
        """The parsed draft, else TIMED_OUT when the process outlived `seconds` or DIED (either way it
        is killed). Blocking: called in a thread."""
        outcome = DIED
        try:
            self.conn.send(job)
            if self.conn.poll(seconds):
                return self.conn.recv()
            outcome = TIMED_OUT
        except (EOFError, OSError):
            pass
        self.kill()
        return outcome

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.join(5)
            self.conn.close()


class ParserPool:
    """A fixed number of parser processes, each parsing one draft at a time."""

    def __init__(self, processes: int, max_waiting: int, timeout: float, memory_mb: float):
        self.size, self.max_waiting = processes, max_waiting
        self.timeout, self.memory_mb = timeout, memory_mb
        self.idle: asyncio.Queue[ParserProcess] = asyncio.Queue()
        self.waiting = self.parsing = self.replaced = 0
        self._replacing: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Start every process and wait until each has imported the parsers (the first draft is warm)."""
        started = await asyncio.gather(*(asyncio.to_thread(self._started) for _ in range(self.size)))
        for process in started:
            self.idle.put_nowait(process)

    def _started(self) -> ParserProcess:
        process = ParserProcess()
        process.conn.send(None)  # answered once the process has imported the parsers
        process.conn.recv()
        return process

    async def parse(self, draft: Draft, meta: dict[str, Any]) -> ParsedDraft:
        """Parse a draft in the next free process; Busy when every process is taken and the line is full."""
        if self.idle.empty() and self.waiting >= self.max_waiting:
            raise Busy()
        self.waiting += 1
        try:
            process = await self.idle.get()
        finally:
            self.waiting -= 1
        self.parsing += 1
        job = ParseJob(str(draft.path), draft.name, draft.kind, meta, self.timeout, self.memory_mb)
        seconds = self.timeout + GRACE_SECONDS if self.timeout else None
        try:
            parsed = await asyncio.to_thread(process.parse, job, seconds)
        except BaseException:  # the request was cancelled mid-parse: the process may still be busy
            process.kill()
            self._replace()
            raise
        finally:
            self.parsing -= 1
        if isinstance(parsed, ParsedDraft):
            self.idle.put_nowait(process)
            return parsed
        self._replace()
        return self._lost(job, parsed)

    def _lost(self, job: ParseJob, outcome: str) -> ParsedDraft:
        """The outcome of a parse whose process hung and was killed, or died, named as ingest names it."""
        if outcome == TIMED_OUT:
            reason = f"parser-timeout: 解析超过 {job.timeout:g} 秒仍未完成,已中止(解析进程已替换)"
        else:
            reason = PROCESS_DIED
        report = with_identity(ParsedReport(job.name, "", "rejected", reason), Path(job.path), job.meta)
        report.source_file = job.name
        return ParsedDraft(report, report_tuples(report), 0.0)

    def _replace(self) -> None:
        """Start a process in place of one killed or dead, in the background."""
        self.replaced += 1
        task = asyncio.get_running_loop().create_task(self._add_one())
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _add_one(self) -> None:
        self.idle.put_nowait(await asyncio.to_thread(self._started))

    def health(self) -> dict[str, int]:
        return {
            "parsers": self.size,
            "idle": self.idle.qsize(),
            "parsing": self.parsing,
            "waiting": self.waiting,
            "replaced": self.replaced,
        }

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().kill()
