"""Agency, year and region from a report's title and opening paragraphs; None when not printed.

A web page also says what it is beside its text (PageFacts): the head's ArticleTitle, PubDate and
Author meta lines and its <title> ('报告标题_栏目_网站名'). The title (ArticleTitle, else the title line
of the text, else the <title>) names the agency and year; the publication date is the page's PubDate,
else a 发布时间/发布日期 line near the title, else unknown (never guessed from other dates).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

TITLE_LINES = 60  # title search window (HTML text starts with navigation)
MAX_TITLE = 80
TITLE_WRAP = 3  # a title may wrap onto this many lines
DATE_NEAR_TITLE = 6  # a publication-date line sits this many lines above or below the title at most
DATE_LINES = 10  # where no title was found: the date line is looked for in the first lines only
OPENING_CHARS = 1 << 14  # the text first split into lines; a fourfold longer part until the window is filled
MAX_AGENCY = 30  # the longest agency names ('国家税务总局…税务局', '…人力资源和社会保障局') are near 20
_SPACE = re.compile(r"\s+")
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_REPORT = r"政府信息公开(?:工作)?(?:的)?(?:年度)?(?:工作)?(?:报告|年报)"
_TITLES = (
    # 深州市人民政府办公室2021年政府信息公开工作年度报告 / ...关于2021年度政府信息公开工作的年度报告
    re.compile(rf"^(?P<agency>.*?)(?:关于)?{_YEAR}年度?的?{_REPORT}"),
    # 盐城市行政审批局政府信息公开工作2022年度情况的报告
    re.compile(rf"^(?P<agency>.+?)政府信息公开工作{_YEAR}年度?(?:情况)?的?报告"),
    # Year first: 2022年某某局政府信息公开工作年度报告 (tried last: '2022年度政府…' has no agency)
    re.compile(rf"^{_YEAR}年度?(?P<agency>(?!度)[^年]+?)(?:关于)?{_REPORT}"),
)
_TITLE_START = re.compile(rf"{_YEAR}年|政府信息公开")
_PERIOD = re.compile(rf"统计期限.{{0,8}}?{_YEAR}年1月1日")
_NOT_AGENCY = re.compile(r"[。,，;；:：!！?？《》()（）<>\d]")
# What an organ's name ends in: the organ (局, 委员会, 办公室 …) or, for a government that reports as
# itself, its division (平潭综合实验区, 某某县).
_ORGAN_END = re.compile(
    r"(?:局|委员会|委|办公室|办公厅|办事处|办|厅|部|署|会|院|馆|所|队|中心|站|处|室|政府|管委会|机关|"
    r"行|社|团|司|台|校|庭|街道|镇|乡|苏木|区|县|市|州|旗|盟|省|自治区)$"
)
# Navigation words: a line holding one is a site's menu or breadcrumb, never an agency's name.
_NAVIGATION = re.compile(r"首页|当前位置|您的位置|所在位置|专题专栏|走进|网站地图|无障碍|登录|注册|繁體|返回")
# Pronouns: '2023年本局政府信息公开工作报告如下' is prose, not a title.
_PRONOUN_START = ("本", "我", "该", "各")
# A title that carries what stands before it on its line: a breadcrumb ('首页>年报>某局2023年…') or a
# label ('标题：某局2023年…'); the agency is what follows the last separator.
_LEADING_PART = re.compile(r"^.*[>＞»›→|/\\_:：]")
# The <title> of a CMS page: '报告标题_栏目_网站名' or '报告标题-网站名'.
_TITLE_PARTS = re.compile(r"[_|]|\s-\s|-(?=[^-]*$)")
_DATE = r"(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})(?!\d)"
_DATE_AT_START = re.compile(rf"^\s*{_DATE}")
# 发布时间: 2023-01-09 19:36 / 发布日期：2023年1月9日 / 来源：某局 时间：2023-01-09
_DATE_LINE = re.compile(rf"(?P<label>(?:发布|公开|发文|印发)(?:时间|日期)|发布于|时间|日期)\s*[:：]?\s*{_DATE}")
_DATED_LABELS = ("发布", "公开", "发文", "印发")
# Other fields of a page's header line that a bare 时间：/日期： may follow ('来源：某局时间：…').
_HEADER_FIELDS = re.compile(r"来源|作者|浏览|阅读|字号|编辑|点击")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Words that make a bare 时间/日期 some other time: crawled, generated, updated, written, visited, printed.
_OTHER_TIMES = re.compile(r"(?:采集|抓取|生成|更新|修改|成文|访问|打印|截止|统计)$")
MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")
# Administrative divisions at the start of an agency name: 省/自治区, 市/州/地区/盟, 区/县/旗/市.
_DIVISION = re.compile(
    r"^(?P<p>[\u4e00-\u9fff]{2,7}?(?:省|自治区))?(?P<c>[\u4e00-\u9fff]{2,9}?(?:市|自治州|地区|盟))?"
    r"(?P<d>[\u4e00-\u9fff]{1,9}?(?:自治县|区|县|旗|市))?"
)


@dataclass(frozen=True)
class Metadata:
    agency: str | None
    year: int | None
    region: str | None


@dataclass(frozen=True)
class PageFacts:
    """What a web page says about itself beside its text ('' when it does not say)."""

    article_title: str = ""  # <meta name="ArticleTitle">
    pub_date: str = ""  # <meta name="PubDate">, e.g. '2022-01-14 17:29'
    author: str = ""  # <meta name="Author">: the publishing organ, often abbreviated ('平潭公安局')
    title: str = ""  # <title>


@lru_cache(maxsize=1 << 12)  # navigation and footer lines recur on every page of a site
def _clean(line: str) -> str:
    """A title line without spaces or markdown marks."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", line)).strip("#*|")


def _plausible_agency(name: str) -> bool:
    """An agency name: bounded, no sentence punctuation, digits or the word 报告, ending as an organ's name
    does, no navigation word and no pronoun ('本局')."""
    return (
        2 <= len(name) <= MAX_AGENCY
        and not _NOT_AGENCY.search(name)
        and "报告" not in name
        and _ORGAN_END.search(name) is not None
        and not _NAVIGATION.search(name)
        and not name.startswith(_PRONOUN_START)
    )


def _agency_named(name: str) -> str | None:
    """The agency a title names before its year, without a breadcrumb or label before it; None if implausible."""
    name = _LEADING_PART.sub("", name)
    return name if _plausible_agency(name) else None


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


def _match_title(title: str) -> re.Match | None:
    return next((m for m in (p.match(title) for p in _TITLES) if m), None)


def _title_match(lines: list[str], n: int) -> re.Match | None:
    """A title starting on line n, alone or wrapped onto the next lines (a PDF's or a hard-wrapped text's
    title in large type breaks where the line is full: '…2023年政府信息公开工作年' / '度报告')."""
    if not _TITLE_START.search(lines[n]):  # every title shape holds one (most lines: no regex tried)
        return None
    title = ""
    # Only a line that holds the title's start can wrap: the agency line above a title (or a navigation
    # line above that) is not joined to it, so the title alone still names the agency line above.
    # A joined title must name a plausible agency: '发布时间:2023年5月6日' above a title is no wrapped start.
    for i, part in enumerate(lines[n : n + TITLE_WRAP]):
        title += part
        if len(title) > MAX_TITLE:
            return None
        m = _match_title(title)
        if m:
            return m if i == 0 or _agency_named(m.group("agency")) else None
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


def _title_lines(text: str) -> tuple[list[str], list[str]]:
    """The first TITLE_LINES non-empty lines, cleaned (no spaces) and as printed (for dates)."""
    cleaned: list[str] = []
    printed: list[str] = []
    for raw in _opening_lines(text):
        if raw.strip():
            cleaned.append(_clean(raw[: MAX_TITLE * 2]))
            printed.append(raw[: MAX_TITLE * 2])
            if len(cleaned) == TITLE_LINES:
                break
    return cleaned, printed


def _text_title(lines: list[str]) -> tuple[int | None, int | None, str | None]:
    """(line index, year, agency) of the text's first title line: the agency printed before the year, else
    the line above when it is an agency's name as a whole (a navigation bar that ends in one is not)."""
    for n in range(len(lines)):
        m = _title_match(lines, n)
        if not m:
            continue
        named = m.group("agency")
        if named:
            agency = _agency_named(named)
        else:
            agency = lines[n - 1] if n > 0 and _plausible_agency(lines[n - 1]) else None
        return n, int(m.group("year")), agency
    return None, None, None


def _page_titles(page: PageFacts | None) -> tuple[str, str]:
    """The page's ArticleTitle and its <title>'s first part, cleaned."""
    if page is None:
        return "", ""
    return _clean(page.article_title), _clean(_TITLE_PARTS.split(page.title.strip(), maxsplit=1)[0])


def read_metadata(text: str, page: PageFacts | None = None) -> Metadata:
    """Agency and year from the title (the page's ArticleTitle, the text's title line, the page's <title>;
    the agency on the title line or the line above, else the page's Author), region from the agency."""
    lines, _ = _title_lines(text)
    _, text_year, text_agency = _text_title(lines)
    article, head_title = _page_titles(page)
    years: list[int | None] = []
    agencies: list[str | None] = []
    for title in (article, None, head_title):
        if title is None:  # the text's own title line, between the page's two
            years.append(text_year)
            agencies.append(text_agency)
            continue
        m = _match_title(title) if title else None
        years.append(int(m.group("year")) if m else None)
        agencies.append(_agency_named(m.group("agency")) if m and m.group("agency") else None)
    if page is not None:
        agencies.append(_agency_named(_clean(page.author)) if page.author.strip() else None)
    year = next((y for y in years if y is not None), None)
    agency = next((a for a in agencies if a), None)
    if year is None:
        m = _PERIOD.search(_SPACE.sub("", text[:20000]))
        year = int(m.group("year")) if m else None
    return Metadata(agency, year, region_of(agency))


def _iso_date(m: re.Match) -> str | None:
    """The ISO date a match of _DATE spells, None when no such day exists."""
    try:
        return date(int(m.group("y")), int(m.group("m")), int(m.group("d"))).isoformat()
    except ValueError:
        return None


def _dated_line(line: str) -> str | None:
    """The publication date a page header line states ('发布时间：2023-01-09 19:36', '来源：某局 时间：2023-01-09');
    a bare 时间/日期 counts only as a field of its own (at the line's start, after a mark or space, after
    '发布', or after another header field), never as the end of another word ('采集时间', '成文日期')."""
    if "时间" not in line and "日期" not in line and "发布于" not in line:  # most lines (NFKC keeps these)
        return None
    line = unicodedata.normalize("NFKC", line)
    for m in _DATE_LINE.finditer(line):
        if m.group("label") in ("时间", "日期") and not _own_field(line[: m.start()], line[m.end("label") :]):
            continue
        found = _iso_date(m)
        if found:
            return found
    return None


def _own_field(before: str, after: str) -> bool:
    """Whether a bare 时间/日期 label between `before` and `after` on its line is a header field of its own."""
    if after.lstrip()[:1] not in (":", "："):
        return False
    before = before.rstrip()
    if not before or not _CJK.match(before[-1]) or before.endswith(_DATED_LABELS):
        return True
    return _HEADER_FIELDS.search(before) is not None and not _OTHER_TIMES.search(before)


def publication_date(text: str, page: PageFacts | None = None) -> str | None:
    """The day the report was published (ISO): the page's PubDate, else a 发布时间/发布日期 line near the
    title (or among the first lines when no title was found); None when neither is printed."""
    if page is not None and page.pub_date:
        m = _DATE_AT_START.match(unicodedata.normalize("NFKC", page.pub_date))
        found = _iso_date(m) if m else None
        if found:
            return found
    lines, printed = _title_lines(text)
    titles = [n for n in range(len(lines)) if _title_match(lines, n)]
    windows = [printed[max(0, n - DATE_NEAR_TITLE) : n + DATE_NEAR_TITLE + 1] for n in titles] or [printed[:DATE_LINES]]
    return next((d for window in windows for d in map(_dated_line, window) if d), None)
