"""Waivers (豁免): findings that a reviewer acknowledged, each tied to the printed values it was given for.

The waivers live in `waivers.yml` at the project root, reviewed and versioned like code. Each entry
names one finding (report, rule, and the cells with the values printed when it was waived), a reason
in Chinese, who approved it, and the last day it holds. A waived finding stays in findings.parquet,
marked `waived` with the reason, but counts neither in the failure counts nor in the exit code.

A waiver holds only for the values it was given for: once the report prints other values in those
cells, the finding is back (the waiver has `lapsed`), because the reviewer approved those numbers,
not the rule's failure in general. After its `expires` date a waiver no longer waives and is itself
reported, so that nobody's acknowledgement silently outlives its review.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from . import paths
from . import rules as R
from . import schema as S

FILE_NAME = "waivers.yml"
REQUIRED = ("report_id", "rule_id", "cells", "reason", "approved_by", "expires")
OPTIONAL = ("agency", "region", "year", "added")  # what the finding was, for the reviewer; never matched
EXPIRED, LAPSED = "waiver-expired", "waiver-lapsed"
BEIJING = timezone(timedelta(hours=8))  # expiry dates are the reviewers' calendar days

HEADER = """\
# 豁免清单:经审核确认不属于错误的检查结果。每条豁免只对登记时印刷的单元格数值有效,
# 数值改变即失效;过了 expires(含当日有效)即不再豁免,并在检查结果中提示。
# 用 `nianbao waive` 添加,修改须经审核后提交。
"""


class WaiverError(ValueError):
    """The waivers file cannot be used: the message names the file, the entry and what is wrong."""


@dataclass(frozen=True)
class Waiver:
    entry: int  # 1-based position in the file: how a reviewer finds it
    report_id: str
    rule_id: str
    cells: dict[str, Any]  # column -> value as printed when waived
    reason: str
    approved_by: str
    expires: date
    agency: str = ""

    def expired(self, today: date) -> bool:
        """True after the expiry date (the date itself still holds)."""
        return today > self.expires

    def describe(self) -> str:
        who = f"{self.agency} " if self.agency else ""
        return f"第 {self.entry} 条({who}{self.report_id} {self.rule_id})"


def default_path() -> Path:
    """waivers.yml at the project root ($NIANBAO_ROOT or the checkout): versioned with the rules."""
    return paths.ROOT / FILE_NAME


def today() -> date:
    """Today in Beijing: the calendar the reviewers' expiry dates are written in."""
    return datetime.now(BEIJING).date()


def parse_date(text: Any) -> date:
    """A date as YAML or the command line gives it ('2027-03-31'); ValueError otherwise."""
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    if isinstance(text, str):
        return date.fromisoformat(text.strip())
    raise ValueError(f"{text!r} 不是日期")


# --- reading and checking the file -----------------------------------------------------------------


def load(path: Path | None = None) -> list[Waiver]:
    """The waivers of the file (none when it does not exist); WaiverError naming the entry when one is bad."""
    path = Path(path) if path else default_path()
    if not path.is_file():
        return []
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise WaiverError(f"豁免清单 {path} 无法读取:{exc}") from exc
    return parse(doc, path)


def parse(doc: Any, path: Path) -> list[Waiver]:
    """The checked waivers of a loaded document {waivers: [...]}."""
    if doc is None:
        return []
    if not isinstance(doc, dict) or set(doc) - {"waivers"}:
        raise WaiverError(f"豁免清单 {path}:顶层应只有 waivers: 一个列表")
    entries = doc.get("waivers") or []
    if not isinstance(entries, list):
        raise WaiverError(f"豁免清单 {path}:waivers 应为列表")
    out: list[Waiver] = []
    seen: dict[tuple, int] = {}
    for n, entry in enumerate(entries, 1):
        waiver = _entry(entry, n, path)
        key = (waiver.report_id, waiver.rule_id, _cells_key(waiver.cells))
        if key in seen:
            raise WaiverError(f"豁免清单 {path} 第 {n} 条:与第 {seen[key]} 条豁免同一问题的同样数值;续期请修改原条目")
        seen[key] = n
        out.append(waiver)
    return out


def _entry(entry: Any, n: int, path: Path) -> Waiver:
    where = f"豁免清单 {path} 第 {n} 条"
    if not isinstance(entry, dict):
        raise WaiverError(f"{where}:应为一组 键: 值")
    missing = [k for k in REQUIRED if k not in entry]
    unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL), key=str)
    if missing or unknown:
        parts = ([f"缺少 {', '.join(missing)}"] if missing else []) + ([f"未知字段 {unknown}"] if unknown else [])
        raise WaiverError(f"{where}:{';'.join(parts)}")
    rid, rule_id = entry["report_id"], entry["rule_id"]
    if not isinstance(rid, str) or not S.REPORT_ID_PATTERN.match(rid):
        raise WaiverError(f"{where}:report_id {rid!r} 不是报告编号(R+16 位十六进制)")
    if rule_id not in R.RULES_BY_ID:
        raise WaiverError(f"{where}:rule_id {rule_id!r} 不是规则目录中的规则")
    cells = entry["cells"]
    if not isinstance(cells, dict) or not cells:
        raise WaiverError(f"{where}:cells 应列出所豁免的单元格及其印刷数值")
    for column, value in cells.items():
        if not isinstance(column, str) or not (value is None or isinstance(value, int | float | str)):
            raise WaiverError(f"{where}:cells 中 {column!r}: {value!r} 不是单元格名与数值")
    for key in ("reason", "approved_by"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise WaiverError(f"{where}:{key} 不能为空")
    try:
        expires = parse_date(entry["expires"])
    except ValueError as exc:
        raise WaiverError(f"{where}:expires {entry['expires']!r} 不是 YYYY-MM-DD 日期") from exc
    reason, approver, agency = entry["reason"].strip(), entry["approved_by"].strip(), str(entry.get("agency") or "")
    return Waiver(n, rid, rule_id, dict(cells), reason, approver, expires, agency)


def _same_value(a: Any, b: Any) -> bool:
    """Printed values equal: 1 and 1.0 are the same number; a blank only equals a blank."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool | str):
        return float(a) == float(b)
    return a == b


def same_cells(waived: dict, now: dict) -> bool:
    """The finding's cells print exactly what the waiver was given for."""
    return set(waived) == set(now) and all(_same_value(waived[c], now[c]) for c in waived)


def _cells_key(cells: dict) -> tuple:
    """The cells as a comparable key (1 and 1.0 alike), for finding duplicate entries."""
    return tuple(sorted((c, float(v) if isinstance(v, int | float) else v) for c, v in cells.items()))


# --- applying them to a run's findings -------------------------------------------------------------


def apply(findings: pd.DataFrame, waivers: Iterable[Waiver], on: date) -> tuple[pd.DataFrame, dict]:
    """Findings with `waived` and `waiver_reason` set by the waivers that hold on the date, and a summary
    for run_results.json: how many were waived, and a notice for each waiver that expired or lapsed
    on a finding of this run (it no longer waives: the finding counts again)."""
    findings = findings.copy(deep=False)  # copy-on-write: two columns set, the rest shared
    by_key: dict[tuple[str, str], list[Waiver]] = {}
    for w in waivers:
        by_key.setdefault((w.report_id, w.rule_id), []).append(w)
    waived = [False] * len(findings)
    reasons: list[str | None] = [None] * len(findings)
    notices: list[dict] = []
    if by_key and len(findings):
        keys = zip(findings.report_id.tolist(), findings.rule_id.tolist(), findings.cells.tolist())
        for i, (rid, rule_id, cells) in enumerate(keys):
            candidates = by_key.get((rid, rule_id))
            if not candidates:  # nearly every finding: a set lookup, no JSON parsed
                continue
            now = json.loads(cells or "{}")
            for w in candidates:
                if not same_cells(w.cells, now):
                    was, printed = _cells_text(w.cells), _cells_text(now)
                    what = f"所豁免的单元格数值已改变(豁免时 {was},现为 {printed}),豁免失效,该问题重新计入"
                    notices.append(_notice(LAPSED, w, what))
                elif w.expired(on):
                    what = (
                        f"已于 {w.expires.isoformat()} 过期,不再豁免,该问题重新计入;如仍需豁免,请重新审核并修改 expires"
                    )
                    notices.append(_notice(EXPIRED, w, what))
                else:
                    waived[i] = True
                    reasons[i] = f"{w.reason}(批准人:{w.approved_by};有效期至 {w.expires.isoformat()})"
                    break
    findings["waived"] = pd.Series(waived, index=findings.index, dtype=bool)
    findings["waiver_reason"] = pd.Series(reasons, index=findings.index, dtype=object)
    if any(waived):  # a finding both waived and noticed (another, lapsed entry for it): the waiver wins
        held = set(zip(findings.report_id[findings.waived], findings.rule_id[findings.waived]))
        notices = [n for n in notices if (n["report_id"], n["rule_id"]) not in held]
    return findings, {
        "file": FILE_NAME,
        "entries": len([w for ws in by_key.values() for w in ws]),
        "waived": int(sum(waived)),
        "notices": notices,
    }


def _notice(code: str, w: Waiver, what: str) -> dict:
    return {
        "code": code,
        "entry": w.entry,
        "report_id": w.report_id,
        "rule_id": w.rule_id,
        "expires": w.expires.isoformat(),
        "message": f"豁免清单 {FILE_NAME} {w.describe()}{what}",
    }


def _cells_text(cells: dict) -> str:
    return ",".join(f"{c}={'空' if v is None else v}" for c, v in cells.items())


def active(findings: pd.DataFrame) -> pd.DataFrame:
    """The findings that count: those not waived (every finding of a table without the column)."""
    if "waived" not in findings.columns or findings.empty:
        return findings
    return findings[~findings.waived.fillna(False).astype(bool)]


def active_count(findings: pd.DataFrame) -> int:
    """len(active(findings)), without copying the frame (a bad night's is a million rows with their texts)."""
    if "waived" not in findings.columns or findings.empty:
        return len(findings)
    return len(findings) - int(findings.waived.fillna(False).astype(bool).sum())


# --- adding one ------------------------------------------------------------------------------------


def add(entry: dict, path: Path | None = None) -> Waiver:
    """Append one entry to the file (created with its header when absent) and return it as checked.

    Appended as text, so the reviewers' comments and order stay as they are; the whole file is checked
    again before it replaces the old one (written beside it, then os.replace)."""
    path = Path(path) if path else default_path()
    before = load(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else HEADER + "waivers:\n"
    block = yaml.safe_dump([entry], allow_unicode=True, sort_keys=False, default_flow_style=False, width=1000)
    appended = text + ("" if text.endswith("\n") else "\n") + "".join("  " + line + "\n" for line in block.splitlines())
    try:
        after = parse(yaml.safe_load(appended), path)
    except (WaiverError, yaml.YAMLError):
        after = []
    if len(after) != len(before) + 1:  # the list is not the file's last block (e.g. `waivers: []`): rewrite
        doc = yaml.safe_load(text) or {}
        doc["waivers"] = [*(doc.get("waivers") or []), entry]
        appended = HEADER + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1000)
        after = parse(yaml.safe_load(appended), path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(appended, encoding="utf-8")
    os.replace(tmp, path)
    return after[-1]
