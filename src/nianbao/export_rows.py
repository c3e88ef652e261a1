"""The findings as auditors export them for a notice: one row per finding, Chinese column headers.

Shared by `nianbao export` (CSV, XLSX), `nianbao notice` (.docx) and the landing page's in-browser
download, so the three show the same text for the same finding. Waived findings are left out: they are
not problems to correct (the landing page lists them apart).

Columns: 单位, 地区, 行政层级, 年度, 规则, 问题说明 (the finding's Chinese message), 单元格 (the cells
involved, by their printed labels), 印出的数 (those cells as printed, in the same order), 应为 (for an
identity, the other side's printed total that the first side should equal), 建议改为 (the error
localisation's most likely corrections among those cells: "label:printed → proposed").
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from . import localise
from . import schema as S
from . import waivers as W
from .cells import fmt, label

HEADERS = ("单位", "地区", "行政层级", "年度", "规则", "问题说明", "单元格", "印出的数", "应为", "建议改为")
FIELDS = ("report_id", "agency", "region", "year", "rule_id", "message", "cells", "left_value", "right_value")
SEP = ";"  # between cells within one column: a spreadsheet cell holds a list as text
# A spreadsheet runs a cell beginning with one of these as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def finding_fields(row: tuple, likely: dict[str, int | None] | None) -> tuple[str, str, str, str, str]:
    """A finding's own columns (问题说明 … 建议改为) from (message, cells JSON, left, right)."""
    message, cells_json, _left, right = row
    cells = json.loads(cells_json or "{}")
    names = list(cells)
    printed = SEP.join(fmt(cells[c]) for c in names)
    proposed = SEP.join(
        f"{label(c)}:{fmt(cells.get(c))} → {'待定' if likely[c] is None else likely[c]}"
        for c in names
        if likely and c in likely
    )
    expected = "" if right is None or pd.isna(right) else fmt(right)
    return message or "", SEP.join(label(c) for c in names), printed, expected, proposed


def select(findings: pd.DataFrame, region: str | None = None, year: int | None = None, rule: str | None = None):
    """The findings to export: not waived; region a prefix (省, 省市, …), rule a family or a rule id."""
    out = W.active(findings)
    if region:
        out = out[out.region.fillna("").str.startswith(region)]
    if year is not None:
        out = out[out.year == int(year)]
    if rule:
        out = out[(out.rule_id == rule) | out.rule_id.str.startswith(rule + ".")]
    return out


def rows(findings: pd.DataFrame, diagnosed: dict[str, localise.Diagnosis], levels: dict[str, str | None]) -> list:
    """Every finding as the ten exported columns (year an int or None, the rest text)."""
    likely = {rid: d.likely() for rid, d in diagnosed.items()}
    out = []
    frame = findings.sort_values(["region", "agency", "report_id", "rule_id"], kind="stable", na_position="first")
    for rid, agency, region, year, rule, *rest in zip(*(frame[c].tolist() for c in FIELDS)):
        year = None if year is None or pd.isna(year) else int(year)
        level = S.LEVELS.get(levels.get(rid) or "", "")
        out.append((agency or "", region or "", level, year, rule, *finding_fields(tuple(rest), likely.get(rid))))
    return out


def inert(value) -> str:
    """A CSV cell no spreadsheet runs: text beginning like a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def write_csv(path: Path, table: list) -> None:
    """UTF-8 with a BOM, so Excel reads the Chinese; every text cell inert."""
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        for row in table:
            writer.writerow([v if isinstance(v, int) else inert(v) for v in row])
