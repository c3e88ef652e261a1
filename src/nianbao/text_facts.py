"""What a report's own text states, for the rules over the whole text (R17–R19, R23, R27).

- Statements (R17–R19): "收到政府信息公开申请 N 件", "行政复议 N 件/起", "行政诉讼 N 件/起", and their
  negations ("未收到…申请", "未发生行政复议…"), each with the sentence as printed, to be compared with
  the tables. Only a sentence of one of these clear shapes is read. A sentence that speaks of these
  things with a number but in no clear shape ("办理申请 218 件" — received, or received and carried
  over?), one that compares with another year ("同比增加 5 件"), or a second, different number for a
  fact already stated, is skipped and counted, never guessed.
- The statistics period (R23): "统计期限自 2023年1月1日起至 2023年12月31日止" and its variants.
- Section 五 (R27): empty, "无", or one short generic sentence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

APPLICATIONS, REVIEWS, LITIGATIONS = "applications", "reviews", "litigations"
FACTS = (APPLICATIONS, REVIEWS, LITIGATIONS)
# A generic 五 is at most this many characters once spaces and punctuation are gone ("无", "暂无问题").
GENERIC_FIVE_CHARS = 12

_SENTENCE = re.compile(r"[^。；;！!？?\n]+[。；;！!？?]?")
_SPACE = re.compile(r"\s+")
_NUM = r"(?P<n>\d{1,7})"
_UNIT = r"(?:件|起|宗|个|次)"
_GAP = r"[^，,。；;\d]{0,24}?"  # words between the verb and the noun, never a number or a clause break
_TOTAL = r"(?:共计|总计|合计|共|计)?"
_STATED = {
    APPLICATIONS: (
        re.compile(rf"(?<!未)(?:收到|新收|接收|接到){_GAP}申请{_TOTAL}{_NUM}件"),
        re.compile(rf"(?<!未)(?:收到|新收|接收|接到){_TOTAL}{_NUM}件{_GAP}申请"),
        re.compile(rf"(?<!未)(?:收到|新收|接收|接到)依申请(?:信息)?公开(?:申请)?{_TOTAL}{_NUM}件"),
    ),
    REVIEWS: (re.compile(rf"行政复议(?:案件|申请)?{_TOTAL}{_NUM}{_UNIT}"),),
    LITIGATIONS: (re.compile(rf"行政诉讼(?:案件)?{_TOTAL}{_NUM}{_UNIT}"),),
}
_NONE_STATED = {
    # "未收到…公开…申请", never "未收到该申请人提交的补正" (an applicant, not applications).
    APPLICATIONS: re.compile(
        r"(?:未|没有)(?:收到|接到|接收|受理)[^，,。；;\d]{0,20}?(?:公开|信息)[^，,。；;\d]{0,6}?申请(?![人书表])"
    ),
    REVIEWS: re.compile(r"(?:未|没有|无)(?:发生|收到|产生|涉及|出现)?[^，,。；;\d]{0,30}?行政复议"),
    LITIGATIONS: re.compile(r"(?:未|没有|无)(?:发生|收到|产生|涉及|出现)?[^，,。；;\d]{0,30}?行政诉讼"),
}
_TOPIC = {APPLICATIONS: "申请", REVIEWS: "行政复议", LITIGATIONS: "行政诉讼"}
_COUNTED = re.compile(rf"\d+{_UNIT}")
_APPEALS = re.compile(r"复议|诉讼")
_OTHER_PERIOD = re.compile(r"同比|较上年|较去年|上一?年度?|去年|累计|以来|比\d{4}年")
_PERIOD = re.compile(
    r"统计(?:期限|时限|期间|时间|区间)[^。；\d]{0,12}?(?P<start>\d{4})年1月1日(?:起)?"
    r"(?:至|到|-|—|~)(?:(?P<end>\d{4})年)?12月31日"
)
_YEAR = re.compile(r"(?P<y>(?:19|20)\d{2})年")


@dataclass(frozen=True)
class Statement:
    """One number the text states for a fact, with the sentence as printed (0 for a negation)."""

    fact: str  # applications | reviews | litigations
    value: int
    sentence: str


@dataclass
class TextFacts:
    """What one report's text states: numbers, the statistics period, the title's year, section 五."""

    statements: dict[str, Statement] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # sentences on these facts left unread (unclear)
    period_years: tuple[int, ...] = ()  # the years the stated statistics period names
    period_sentence: str = ""
    title_year: int | None = None
    five_generic: bool | None = None  # None: no section 五


def _plain(text: str) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", text or ""))


def sentences(text: str) -> list[str]:
    """The sentences of a text as printed (stripped), in order."""
    return [s.strip() for s in _SENTENCE.findall(text or "") if s.strip()]


def _read_sentence(sentence: str) -> tuple[dict[str, int], bool]:
    """The facts one sentence states (fact -> number), and whether it speaks of them unclearly."""
    plain = _plain(sentence)
    found: dict[str, set[int]] = {}
    for fact, patterns in _STATED.items():
        values = {
            int(m.group("n"))
            for p in patterns
            for m in p.finditer(plain)
            # "收到行政复议申请 2 件" counts reviews, not applications for information
            if fact != APPLICATIONS or not _APPEALS.search(m.group(0))
        }
        if _NONE_STATED[fact].search(plain) and not values:
            values = {0}
        if values:
            found[fact] = values
    # Unclear: a topic word followed by a count in no clear shape ("办理申请 218 件", "网络申请 3 件").
    unclear = not found and any(
        topic in plain and _COUNTED.search(plain, plain.index(topic)) for topic in _TOPIC.values()
    )
    if found and _OTHER_PERIOD.search(plain):
        return {}, True  # a comparison with another year: whose number is which is not clear
    if any(len(v) > 1 for v in found.values()):
        return {}, True
    return {f: next(iter(v)) for f, v in found.items()}, unclear


_TOPIC_WORDS = ("申请", "复议", "诉讼")  # a sentence without one of them states none of the facts


def statements(text: str) -> tuple[dict[str, Statement], list[str]]:
    """The facts a text states, each once, and the sentences skipped as unclear."""
    stated: dict[str, list[Statement]] = {}
    skipped: list[str] = []
    for sentence in sentences(text):
        if not any(w in sentence for w in _TOPIC_WORDS):  # most sentences: no regular expression run
            continue
        facts, unclear = _read_sentence(sentence)
        if unclear:
            skipped.append(sentence)
        for fact, value in facts.items():
            stated.setdefault(fact, []).append(Statement(fact, value, sentence))
    out = {}
    for fact, found in stated.items():
        if len({s.value for s in found}) == 1:
            out[fact] = found[0]
        else:  # two different numbers for one fact (this year's and a part of it?): not read
            skipped.extend(s.sentence for s in found)
    return out, skipped


def statistics_period(text: str) -> tuple[tuple[int, ...], str]:
    """The years the stated statistics period names (start, and end when printed), and its sentence."""
    for sentence in sentences(text):
        if "统计" not in sentence:
            continue
        m = _PERIOD.search(_plain(sentence))
        if m:
            years = (int(m.group("start")),) + ((int(m.group("end")),) if m.group("end") else ())
            return years, sentence
    return (), ""


def title_year(title: str) -> int | None:
    """The first year the title prints (“2024 年”, “2024年度”)."""
    m = _YEAR.search(_plain(title))
    return int(m.group("y")) if m else None


def generic_five(body: str | None) -> bool | None:
    """Section 五 says nothing: empty, "无", or one short sentence; None when there is no section 五."""
    if body is None:
        return None
    words = re.sub(r"[\W_]", "", unicodedata.normalize("NFKC", body))
    return len(sentences(body)) <= 1 and len(words) <= GENERIC_FIVE_CHARS


def read(sections: dict[str, str]) -> TextFacts:
    """A report's text facts from its sections (keys title, opening, s1…s6)."""
    prose = "\n".join(v for k, v in sections.items() if k != "title")
    stated, skipped = statements(prose)
    years, period_sentence = statistics_period(prose)
    return TextFacts(
        statements=stated,
        skipped=skipped,
        period_years=years,
        period_sentence=period_sentence,
        title_year=title_year(sections.get("title", "")),
        five_generic=generic_five(sections.get("s5")),
    )
