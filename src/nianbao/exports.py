"""`nianbao export` (a run's findings as CSV or XLSX) and `nianbao notice` (a draft 通报 as .docx).

Both read a finished run (findings.parquet, diagnoses.parquet, run_results.json) and the data folder
the run checked (行政层级 is in the reports table, not in the findings). The rows are
nianbao.export_rows', the same the landing page downloads.

XLSX is written with xlsxwriter, every text with write_string: a value beginning with `=`, `+`, `-` or
`@` stays text and no spreadsheet evaluates it (write() would have made it a formula).
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from . import datafolder, localise, paths, report, roster
from . import export_rows as X
from . import findings as F
from . import rules as R
from . import schema as S
from .exitcodes import ExitCode
from .run import waive

# Problem types of a notice, in the order notices list them (未发布 and 未按时发布 come first in practice).
TYPE_ORDER = ("未发布", "未按时发布", "勾稽关系错误", "内容雷同", "数据缺失")
IDENTITY_FAMILIES = {"R1", "R2", "R3", "R4", "R7"}


def problem_type(rule_id: str, status: str) -> str:
    """The notice's problem type of one finding: R29 未发布, R28 未按时发布, the identities 勾稽关系错误,
    R9 and not-assessable findings 数据缺失, a rule about copied text 内容雷同, else the family's name."""
    family = rule_id.split(".", 1)[0]
    if family == "R29":
        return "未发布"
    if family == "R28":
        return "未按时发布"
    if family == "R9" or status == F.NOT_ASSESSABLE:
        return "数据缺失"
    if family in IDENTITY_FAMILIES:
        return "勾稽关系错误"
    rule = R.RULES_BY_ID.get(rule_id)
    if rule is not None and "雷同" in rule.description:
        return "内容雷同"
    return R.FAMILY_ZH.get(family) or (rule.description if rule else family)


def _type_key(name: str) -> tuple:
    return (TYPE_ORDER.index(name) if name in TYPE_ORDER else len(TYPE_ORDER), name)


def _fail(command: str, message: str, code: ExitCode = ExitCode.USAGE) -> ExitCode:
    print(f"nianbao {command}: {message}", file=sys.stderr)
    return code


def _summary(run: Path) -> dict:
    path = run / "run_results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def load(
    run: Path, data: Path | None, region=None, year=None, rule=None, resolved: bool = False
) -> tuple[pd.DataFrame, list, dict]:
    """The run's selected findings (sorted as exported), their export rows, and the run's summary;
    `resolved`: the findings this run no longer has (corrected since the previous comparable run)."""
    summary = _summary(run)
    findings = F.read(run / ("resolved.parquet" if resolved else "findings.parquet"))
    chosen = X.select(findings, region, year, rule)
    chosen = chosen.sort_values(["region", "agency", "report_id", "rule_id"], kind="stable", na_position="first")
    diag_file = run / "diagnoses.parquet"
    ids = set(chosen.report_id)
    diagnosed = {}
    if diag_file.is_file() and ids:
        diagnosed = {k: v for k, v in localise.from_table(pq.read_table(diag_file)).items() if k in ids}
    data = data or (Path(summary["data_dir"]) if summary.get("data_dir") else None)
    levels: dict[str, str | None] = {}
    if data is not None and Path(data).is_dir() and ids:
        reports = datafolder.read_reports(Path(data), ids, with_text=False)
        levels = {rid: (rep.get("meta") or {}).get("level") for rid, rep in reports.items()}
    levels.update({rid: lvl for rid, lvl in _roster_levels(summary).items() if not levels.get(rid)})
    return chosen, X.rows(chosen, diagnosed, levels), summary


def _roster_levels(summary: dict) -> dict[str, str]:
    """The roster's 行政层级 per report id (an unpublished report, R29, is in no reports table)."""
    path = (summary.get("roster") or {}).get("file")
    if not path or not Path(path).is_file():
        return {}
    try:
        entries = roster.read(Path(path))
    except roster.RosterError:
        return {}
    return {S.report_id_for(e["agency"], e["region"], e["year"]): e["level"] for e in entries}


def write_xlsx(path: Path, table: list, sheet: str = "检查结果") -> None:
    """The rows as one sheet: year a number, every other value a string (never a formula)."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False})
    try:
        ws = book.add_worksheet(sheet)
        bold = book.add_format({"bold": True})
        for c, h in enumerate(X.HEADERS):
            ws.write_string(0, c, h, bold)
        for r, row in enumerate(table, start=1):
            for c, v in enumerate(row):
                if isinstance(v, int):
                    ws.write_number(r, c, v)
                elif v:
                    ws.write_string(r, c, v)
        for c, width in enumerate((28, 24, 14, 6, 14, 60, 40, 16, 8, 30)):
            ws.set_column(c, c, width)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, len(table), len(X.HEADERS) - 1)
    finally:
        book.close()


def command_export(args) -> ExitCode:
    """`nianbao export --run latest [--region …] [--year …] [--rule …] [--data DIR] --out FILE.xlsx|FILE.csv`."""
    out = Path(args.out)
    if out.suffix.lower() not in (".xlsx", ".csv"):
        return _fail("export", f"--out {out} 须以 .xlsx 或 .csv 结尾")
    run = waive._run_dir(args.run)
    if run is None:
        return _fail("export", f"找不到运行 {args.run!r} 的检查结果(uncommitted/runs/…/findings.parquet);请先运行检查")
    resolved = bool(getattr(args, "resolved", False))
    if resolved and not (run / "resolved.parquet").is_file():
        return _fail("export", f"运行 {run.name} 没有已整改清单(resolved.parquet)", ExitCode.INPUT_UNREADABLE)
    data = Path(args.data) if args.data else None
    _, table, _ = load(run, data, args.region, args.year, args.rule, resolved=resolved)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".xlsx":
        write_xlsx(out, table, "已整改" if resolved else "检查结果")
    else:
        X.write_csv(out, table)
    what = "条已整改的问题(上次运行有、本次已消失)" if resolved else "条检查结果"
    print(f"已导出 {len(table)} {what}(运行 {run.name})到 {out}")
    return ExitCode.OK


# --- the notice -------------------------------------------------------------------------------------


def latest_nightly(data: Path) -> Path | None:
    """The newest completed nightly run over this data folder (run ids begin with their UTC time)."""
    want = Path(data).resolve()
    found = []
    for results in paths.RUNS_DIR.glob("*/run_results.json"):
        try:
            s = json.loads(results.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if s.get("checkpoint") != "nightly" or not s.get("completed") or not s.get("data_dir"):
            continue
        if Path(s["data_dir"]).resolve() == want and (results.parent / "findings.parquet").is_file():
            found.append((s.get("started_at") or "", results.parent.name, results.parent))
    return max(found)[2] if found else None


def _table(doc, headers: tuple[str, ...], body: list[tuple]) -> None:
    t = doc.add_table(rows=1, cols=len(headers))
    t.style = "Table Grid"
    for cell, h in zip(t.rows[0].cells, headers):
        cell.text = h
    for values in body:
        for cell, v in zip(t.add_row().cells, values):
            cell.text = "" if v is None else str(v)


def write_notice(out: Path, region: str, year: int | None, frame: pd.DataFrame, table: list, summary: dict) -> dict:
    """The draft 通报: counts by problem type, the agencies and their problems, one 整改清单 per agency.
    Returns what it counted (the tests read the document back and compare)."""
    from docx import Document

    types = [problem_type(r, s) for r, s in zip(frame.rule_id, frame.status)]
    by_agency: dict[str, list[int]] = defaultdict(list)
    for i, rid in enumerate(frame.report_id):
        by_agency[rid].append(i)
    per_type, agencies_per_type = Counter(types), defaultdict(set)
    for t, rid in zip(types, frame.report_id):
        agencies_per_type[t].add(rid)
    year_text = f"{year}年度" if year else ""
    doc = Document()
    doc.add_heading(f"关于{region}{year_text}政府信息公开工作年度报告检查情况的通报(草稿)", level=0)
    doc.add_paragraph(
        f"依据检查运行 {summary.get('run_id', '')}({report.beijing_time(summary.get('started_at'))})的结果,"
        f"{region}{year_text}共有 {len(by_agency)} 个单位的年度报告存在 {len(frame)} 项问题。"
        "本稿由检查程序生成,印发前须人工核对。"
    )
    doc.add_heading("一、问题类型统计", level=1)
    counted = sorted(per_type, key=_type_key)
    _table(doc, ("问题类型", "问题数", "涉及单位数"), [(t, per_type[t], len(agencies_per_type[t])) for t in counted])
    doc.add_heading("二、存在问题的单位", level=1)
    agency_rows = []
    for n, (rid, idx) in enumerate(by_agency.items(), start=1):
        first = table[idx[0]]
        kinds = "、".join(sorted({types[i] for i in idx}, key=_type_key))
        agency_rows.append((n, first[0] or rid, first[1], first[2], kinds, len(idx)))
    _table(doc, ("序号", "单位", "地区", "行政层级", "问题类型", "问题数"), agency_rows)
    doc.add_heading("附件:整改清单", level=1)
    for n, (rid, idx) in enumerate(by_agency.items(), start=1):
        first = table[idx[0]]
        doc.add_heading(f"附件{n} {first[0] or rid} 整改清单", level=2)
        body = []
        for i in idx:
            row = table[i]
            body.append((row[4], row[5], row[6], row[7], row[9] or "—"))
        _table(doc, ("规则", "问题说明", "需核改的单元格", "印出的数", "建议改为(印出的数 → 应改为)"), body)
    doc.save(str(out))
    return {"types": dict(per_type), "agencies": len(by_agency), "findings": len(frame)}


def command_notice(args) -> ExitCode:
    """`nianbao notice --data DIR --region … [--year …] --out FILE.docx`, from the latest nightly run."""
    out = Path(args.out)
    if out.suffix.lower() != ".docx":
        return _fail("notice", f"--out {out} 须以 .docx 结尾")
    if not args.region:
        return _fail("notice", "须给出 --region(通报针对一个地区)")
    data = Path(args.data) if args.data else paths.DATA_DIR
    run = latest_nightly(data)
    if run is None:
        return _fail("notice", f"找不到数据目录 {data} 的已完成夜间检查(nightly);请先运行 nianbao run nightly")
    frame, table, summary = load(run, data, args.region, args.year)
    out.parent.mkdir(parents=True, exist_ok=True)
    counted = write_notice(out, args.region, args.year, frame, table, summary)
    print(f"已生成通报草稿 {out}:{counted['agencies']} 个单位,{counted['findings']} 项问题(运行 {run.name})")
    return ExitCode.OK
