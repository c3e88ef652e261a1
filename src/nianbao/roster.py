"""The roster of agencies that must publish (R29) and the publication deadline (R28).

A roster is a CSV (UTF-8) with the columns agency, region, level, year and, optionally, published
(YYYY-MM-DD, the day the agency published its report). It is found at `--roster FILE` on `nianbao run`,
else at roster.csv in the data folder; without one there are no R29 findings, and R28 is judged from
each report's own publication date and level.

These are run-level findings, not GX expectations: R29 is about a report that is absent from the data,
so no row check of the data can see it, and R28 compares a date the report tables do not hold. They are
rows of findings.parquet with the same fields as the others (rule id, severity, Chinese message, fix),
so they get history, pages, waivers and the exit code like any finding. A roster agency's report id is
the one its report would have (schema.report_id_for), so the finding follows the agency.

The publication date comes from the roster's `published` column, else the `published` column of the
data folder's reports table (the page's PubDate or a 发布时间 line, as ingest read it; reports files
written before that column existed lack it, and their reports have no date). Deadlines (条例第五十条):
departments by 1月31日 and governments by 3月31日 of the following year.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from . import datafolder, report
from . import findings as F
from . import rules as R
from . import schema as S

FILE_NAME = "roster.csv"
MISSING, LATE = "R29.published", "R28.deadline"
SUITE = "roster"


class RosterError(ValueError):
    """A roster that cannot be used (a configuration error: say which row and why)."""


@dataclass
class RosterResult:
    rows: list[tuple] = field(default_factory=list)  # findings in findings.COLUMNS order
    unreadable: list[dict] = field(default_factory=list)  # roster agencies whose report ingest rejected or read partly
    summary: dict = field(default_factory=dict)
    # The roster's 行政层级 of each of its report ids: an R29 report is in no reports table to look it up in.
    levels: dict[str, str] = field(default_factory=dict)


def find(data_dir: Path, given: str | Path | None) -> Path | None:
    if given:
        return Path(given)
    candidate = Path(data_dir) / FILE_NAME
    return candidate if candidate.is_file() else None


def deadline(level: str, year: int) -> date:
    """The last day to publish the report of `year`: departments 1月31日, governments 3月31日."""
    return date(year + 1, 1, 31) if level.endswith("_department") else date(year + 1, 3, 31)


def read(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"单位名单 {path} 无法读取:{exc}") from exc
    out = []
    for n, row in enumerate(rows, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        if not row.get("agency") or not row.get("year", "").isdigit() or row.get("level") not in S.LEVELS:
            raise RosterError(f"单位名单 {path} 第 {n} 行:需要 agency、region、level({'/'.join(S.LEVELS)})与 year")
        published = None
        if row.get("published"):
            try:
                published = date.fromisoformat(row["published"])
            except ValueError as exc:
                raise RosterError(f"单位名单 {path} 第 {n} 行:published 应为 YYYY-MM-DD") from exc
        out.append({**row, "year": int(row["year"]), "published": published})
    return out


_REPORT_COLUMNS = ("report_id", "agency", "region", "level", "year", "parse_status", "parse_reason", "published")


def _reports(snapshot) -> pd.DataFrame:
    """The reports table's columns read here (every night, at a million reports: not the whole table)."""
    files = snapshot.files(datafolder.REPORTS)
    frames = [
        pq.read_table(f, columns=[c for c in _REPORT_COLUMNS if c in pq.read_schema(f).names]).to_pandas()
        for f in files
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["report_id"])


def _row(run_id: str, rid: str, entry: dict, rule_id: str, message: str, cells: dict, fix: str) -> tuple:
    return (
        run_id,
        rid,
        entry["agency"],
        entry["region"],
        entry["year"],
        rule_id,
        R.ERROR,
        F.FAILED,
        message,
        json.dumps(cells, ensure_ascii=False),
        None,
        None,
        None,
        SUITE,
        fix,
        F.NEW,
        False,
        None,
        run_id,
        run_id,
    )


def check(run_id: str, path: Path | None, snapshot, selected) -> RosterResult:
    """R29 and R28 findings of the roster against the data folder, and the roster agencies whose report
    ingest rejected or read only partly (listed with the reason, not left out silently). Without a
    roster (path None), R28 of every report that prints its publication date."""
    entries = read(path) if path is not None else []
    data = _reports(snapshot)
    # Rows as dicts only for the roster's reports: every report's took 15 s at a million.
    ids = {S.report_id_for(e["agency"], e["region"], e["year"]) for e in entries}
    by_id = {r["report_id"]: r for r in data[data.report_id.isin(ids)].to_dict("records")} if ids else {}
    out = RosterResult()
    for e in entries:
        rid = S.report_id_for(e["agency"], e["region"], e["year"])
        rep = by_id.get(rid)
        out.levels[rid] = e["level"]
        if rep is None:
            if selected(MISSING, R.ERROR):
                out.rows.append(
                    _row(
                        run_id,
                        rid,
                        e,
                        MISSING,
                        f"未发布:名单中的{e['agency']}没有{e['year']}年度报告",
                        {},
                        "请督促该单位发布年度报告,或核对名单与报告中的单位名称、地区是否一致。",
                    )
                )
            continue
        status = rep.get("parse_status") or "parsed"
        if status != "parsed":
            out.unreadable.append(
                {
                    "report_id": rid,
                    "agency": e["agency"],
                    "region": e["region"],
                    "year": e["year"],
                    "level": e["level"],
                    "status": S.PARSE_STATUS_ZH.get(status, status),
                    "reason": rep.get("parse_reason") or "",
                }
            )
        published = e["published"] or _date(rep.get("published"))
        level = e["level"] or rep.get("level") or ""
        if published and published > deadline(level, e["year"]) and selected(LATE, R.ERROR):
            due = deadline(level, e["year"])
            out.rows.append(
                _row(
                    run_id,
                    rid,
                    e,
                    LATE,
                    f"未按时发布:{published.isoformat()} 发布,晚于 {due.year}年{due.month}月{due.day}日 的期限",
                    {"published": published.isoformat(), "deadline": due.isoformat()},
                    "请在通报中说明逾期发布,并督促下一年度按时发布。",
                )
            )
    out.rows += _late_off_roster(run_id, data, set(out.levels), selected)
    missing = sum(r[5] == MISSING for r in out.rows)
    if path is None:
        return out
    out.summary = {
        "file": str(path),
        "agencies": len(entries),
        "missing": missing,
        "late": len(out.rows) - missing,
        "unreadable": len(out.unreadable),
    }
    return out


def _late_off_roster(run_id: str, data: pd.DataFrame, on_roster: set[str], selected) -> list[tuple]:
    """R28 of the reports not on the roster, from their own publication date and level. An unknown level
    (department or government?) is late only after the later deadline, 3月31日: never guessed."""
    if "published" not in data.columns or not selected(LATE, R.ERROR):
        return []
    rows = []
    for rep in _maybe_late(data, on_roster).to_dict("records"):
        published, year = _date(rep["published"]), rep.get("year")
        if published is None or year is None or pd.isna(year):
            continue
        level = rep.get("level") if isinstance(rep.get("level"), str) else ""
        due = deadline(level or "", int(year))
        if published > due:
            text = {k: rep.get(k) if isinstance(rep.get(k), str) else None for k in ("agency", "region")}
            entry = {**text, "year": int(year)}  # a column of blanks reads back as NaN
            rows.append(
                _row(
                    run_id,
                    rep["report_id"],
                    entry,
                    LATE,
                    f"未按时发布:{published.isoformat()} 发布,晚于 {due.year}年{due.month}月{due.day}日 的期限",
                    {"published": published.isoformat(), "deadline": due.isoformat()},
                    "请在通报中说明逾期发布,并督促下一年度按时发布。",
                )
            )
    return rows


def _maybe_late(data: pd.DataFrame, on_roster: set[str]) -> pd.DataFrame:
    """The reports off the roster published after the later deadline of their year (3月31日) or, for a
    department, after 1月31日: the only ones R28 can find late; each is then checked row by row."""
    dated = data[data.published.notna() & data.year.notna() & ~data.report_id.isin(on_roster)]
    if dated.empty:
        return dated
    published = pd.to_datetime(dated.published.astype(str).str[:10], errors="coerce")
    year = pd.to_numeric(dated.year, errors="coerce")
    levels = dated["level"] if "level" in dated.columns else pd.Series(None, index=dated.index, dtype=object)
    department = levels.astype(object).map(lambda v: isinstance(v, str) and v.endswith("_department"))
    # The earliest possible deadline of the year, 1月31日 of the next: a report before it is never late.
    earliest = pd.to_datetime((year + 1).astype("Int64").astype(str) + "-01-31", errors="coerce")
    latest = earliest + pd.Timedelta(days=59)  # 3月31日 (or 3月30日 in a leap year: still a lower bound)
    maybe = (published > earliest) & (department.astype(bool) | (published > latest))
    return dated[maybe.fillna(True).to_numpy() | published.isna().to_numpy()]


def _date(value) -> date | None:
    """A reports row's `published` as a day: a date32 value reads as datetime.date (a pandas Timestamp or
    an ISO string from other writers); None when absent (NaN where an older file lacks the column)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, datetime):  # before date: a datetime (and a Timestamp) is a date too
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def section_html(result: RosterResult) -> str:
    """The landing page's roster section: counts, the agencies that did not publish or were late, and
    the reports ingest could not read fully."""
    s = result.summary
    esc = report._esc
    rows = "".join(
        f'<tr data-rule="{esc(r[5])}"><td><a href="agencies/{r[1]}.html">{esc(r[2])}</a></td><td>{esc(r[3])}</td>'
        f"<td>{esc(S.LEVELS.get(result.levels.get(r[1], ''), ''))}</td>"
        f"<td>{esc(r[4])}</td><td>{'未发布' if r[5] == MISSING else '未按时发布'}</td><td>{esc(r[8])}</td></tr>"
        for r in result.rows
        if S.REPORT_ID_PATTERN.match(r[1])
    )
    unread = "".join(
        f"<tr><td>{esc(u['agency'])}</td><td>{esc(u['region'])}</td><td>{esc(S.LEVELS.get(u['level'], ''))}</td>"
        f"<td>{esc(u['year'])}</td><td>{esc(u['status'])}</td><td>{esc(u['reason'])}</td></tr>"
        for u in result.unreadable
    )
    head = "<thead><tr><th>单位</th><th>地区</th><th>行政层级</th><th>年度</th><th>问题</th><th>说明</th></tr></thead>"
    return (
        f'<section id="roster"><h2>名单与发布情况</h2><p>名单 {s["agencies"]} 个单位:'
        f'<span class="kpi">未发布<b id="kpi-unpublished">{s["missing"]}</b></span>'
        f'<span class="kpi">未按时发布<b id="kpi-late">{s["late"]}</b></span>'
        f'<span class="kpi">报告被拒收或部分解析<b id="kpi-unreadable">{s["unreadable"]}</b></span></p>'
        + (f'<div class="scroll"><table id="roster-findings">{head}<tbody>{rows}</tbody></table></div>' if rows else "")
        + (
            f'<h3>报告被拒收或只解析了一部分</h3><div class="scroll"><table id="roster-unreadable">{head}'
            f"<tbody>{unread}</tbody></table></div>"
            if unread
            else ""
        )
        + "</section>"
    )
