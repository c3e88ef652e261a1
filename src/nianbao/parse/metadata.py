"""Agency, year and region from a report's title and opening paragraphs; None when not printed."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

TITLE_LINES = 60  # title search window (HTML text starts with navigation)
MAX_TITLE = 80
TITLE_WRAP = 3  # a title may wrap onto this many lines
OPENING_CHARS = 1 << 14  # the text first split into lines; a fourfold longer part until the window is filled
_SPACE = re.compile(r"\s+")
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_TITLES = (
    # 深州市人民政府办公室2021年政府信息公开工作年度报告 / ...关于2021年度政府信息公开工作的年度报告
    re.compile(rf"^(?P<agency>.*?)(?:关于)?{_YEAR}年度?的?政府信息公开(?:工作)?(?:的)?(?:年度)?(?:工作)?(?:报告|年报)"),
    # 盐城市行政审批局政府信息公开工作2022年度情况的报告
    re.compile(rf"^(?P<agency>.+?)政府信息公开工作{_YEAR}年度?(?:情况)?的?报告"),
)
_TITLE_START = re.compile(rf"{_YEAR}年|政府信息公开")
_PERIOD = re.compile(rf"统计期限.{{0,8}}?{_YEAR}年1月1日")
_NOT_AGENCY = re.compile(r"[。,，;；:：!！?？《》\d]")
# Administrative divisions at the start of an agency name: 省/自治区, 市/州/地区/盟, 区/县/旗/市.
_DIVISION = re.compile(
    r"^(?P<p>[\u4e00-\u9fff]{2,7}?(?:省|自治区))?(?P<c>[\u4e00-\u9fff]{2,9}?(?:市|自治州|地区|盟))?"
    r"(?P<d>[\u4e00-\u9fff]{1,9}?(?:自治县|区|县|旗|市))?"
)
MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")


@dataclass(frozen=True)
class Metadata:
    agency: str | None
    year: int | None
    region: str | None


@lru_cache(maxsize=1 << 12)  # navigation and footer lines recur on every page of a site
def _clean(line: str) -> str:
    """A title line without spaces or markdown marks."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", line)).strip("#*|")


def _plausible_agency(name: str) -> bool:
    """An agency name: short, no sentence punctuation, digits or the word 报告."""
    return 2 <= len(name) <= 40 and not _NOT_AGENCY.search(name) and "报告" not in name


def region_of(agency: str | None) -> str | None:
    """The divisions an agency name starts with, when unambiguous (a province, or city and county)."""
    if not agency:
        return None
    m = _DIVISION.match(agency)
    if not m or not m.group(0):
        return None
    p, c, d = m.group("p"), m.group("c"), m.group("d")
    if p or (c and d) or (c in MUNICIPALITIES):
        return m.group(0)
    return None


def _title_match(lines: list[str], n: int) -> re.Match | None:
    """A title starting on line n, alone or wrapped onto the next lines (a PDF's or a hard-wrapped text's
    title in large type breaks where the line is full: '…2023年政府信息公开工作年' / '度报告')."""
    title = ""
    # Only a line that holds the title's start can wrap: the agency line above a title (or a navigation
    # line above that) is not joined to it, so the title alone still names the agency line above.
    # A joined title must name a plausible agency: '发布时间:2023年5月6日' above a title is no wrapped start.
    for i, part in enumerate(lines[n : n + (TITLE_WRAP if _TITLE_START.search(lines[n]) else 1)]):
        title += part
        if len(title) > MAX_TITLE:
            return None
        m = next((m for m in (p.match(title) for p in _TITLES) if m), None)
        if m:
            return m if i == 0 or _plausible_agency(m.group("agency")) else None
    return None


def _opening_lines(text: str) -> list[str]:
    """The lines of the text's first part, enough for TITLE_LINES non-empty ones (or all of a short text):
    splitting a large file whole would make an object of every line, to read the first sixty."""
    size = OPENING_CHARS
    while True:
        lines = text[:size].splitlines()
        if size >= len(text):
            return lines
        lines.pop()  # may be cut short
        if sum(1 for x in lines if x.strip()) >= TITLE_LINES:
            return lines
        size *= 4


def read_metadata(text: str) -> Metadata:
    """Agency and year from the title (agency on the title line or the line above), region from the agency."""
    lines: list[str] = []
    for raw in _opening_lines(text):
        if raw.strip():
            lines.append(_clean(raw[: MAX_TITLE * 2]))
            if len(lines) == TITLE_LINES:
                break
    agency = year = None
    for n in range(len(lines)):
        m = _title_match(lines, n)
        if not m:
            continue
        year = int(m.group("year"))
        name = m.group("agency")
        if not name and n > 0:
            name = lines[n - 1]
        agency = name if name and _plausible_agency(name) else None
        break
    if year is None:
        m = _PERIOD.search(_SPACE.sub("", text[:20000]))
        year = int(m.group("year")) if m else None
    return Metadata(agency, year, region_of(agency))
