"""The printed vocabulary of the three statutory tables and the matching of printed text to it.

Labels come from schema.py (one source of truth) plus the variants seen in real reports. Matching is
exact after normalisation (NFKC, traditional -> simplified for the label characters, ruby pinyin and
spaces removed), then by prefix (labels cut by a line or page break), then fuzzy for typos.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import cache, lru_cache

from .. import schema as S


@dataclass(frozen=True)
class Label:
    kind: str  # heading | block | row | group | header
    table: str  # active | applications | review | '' (headings, shared headers)
    key: str  # row/group key, section number ('2'..'6'), block numeral, or header text
    version: str = ""  # '2019' | '2021' when only that format prints this label


# Traditional -> simplified, for the characters of the vocabulary only (a full converter is not needed:
# only labels are matched, values are numbers).
_T2S_PAIRS = (  # traditional, simplified
    "萬万業业為为舉举於于會会體体關关內内決决況况減减辦办務务動动區区單单發发後后國国復复複复處处審审"
    "對对屬属廢废開开強强當当總总執执護护報报據据權权條条構构無无現现機机類类係系糾纠納纳組组織织經经"
    "結结繼继續续維维繳缴罰罚範范獲获補补規规計计認认議议許许訟讼訪访訴诉詢询請请購购費费轉转過过這这"
    "進进採采問问題题額额項项穩稳確确沒没數数製制縣县鎮镇鄉乡廳厅員员門门證证間间"
)
_T2S = str.maketrans(_T2S_PAIRS[0::2], _T2S_PAIRS[1::2])
# Ruby pinyin injected by some mirror sites after characters: 主動(dòng)公開.
_RUBY = re.compile(r"\([a-zA-Z\u00c0-\u024f\u0300-\u036f]+\)")
_DROP = re.compile(r"[\s\u200b-\u200d\ufeff“”‘’\"'「」『』#*]+")  # '#', '*': markdown headings, bold
_ITEM_NUMBER = re.compile(r"^(\d{1,2})[、,]")
ITEM_PREFIX = re.compile(r"^(?:\(([一二三四五六七八九十])\)|([一二三四五六七八九十])[、.]|(\d{1,2})\.)")
_BLOCK = re.compile(r"^第二十条第?\(([一二三四五六七八九十])\)项$")
# Section headings print 二、 (a bracketed (二) starts a paragraph of section 一's prose instead).
_HEADING = re.compile(r"^([一二三四五六])[、.](.{2,40})$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
NUMERALS = "一二三四五六七八九十"

HEADING_WORDS = {  # section number -> words its heading contains (DOMAIN.md: six sections)
    "1": ("总体情况",),
    "2": ("主动公开",),
    "3": ("申请",),
    "4": ("复议", "诉讼"),
    "5": ("问题", "改进", "整改"),
    "6": ("其他需要报告", "其他事项"),
}


@lru_cache(maxsize=1 << 16)
def normalize(text: str) -> str:
    """Matching form of printed text: NFKC, simplified, no ruby, spaces or quotes; '1、' -> '1.'."""
    s = unicodedata.normalize("NFKC", text)
    s = _RUBY.sub("", s).translate(_T2S)
    s = _DROP.sub("", s)
    return _ITEM_NUMBER.sub(r"\1.", s)


def _leaf(label: str) -> str:
    """The printed cell of a schema label ('(三)不予公开·1.属于国家秘密' -> '1.属于国家秘密')."""
    return label.split("·")[-1]


def _build() -> dict[str, Label]:
    """Exact vocabulary: normalised printed form -> Label."""
    vocab: dict[str, Label] = {}

    def add(text: str, label: Label) -> None:
        vocab.setdefault(normalize(text), label)

    # Table 三 rows and their groups; the group key is the row key's stem (withheld_1 -> withheld).
    for row in S.APPLICATION_ROWS:
        add(_leaf(row.label), Label("row", "applications", row.key))
        if "·" in row.label:
            group = row.label.split("·")[0]
            stem = row.key.rsplit("_", 1)[0] if row.key[-1].isdigit() else "results"
            add(group, Label("group", "applications", stem))
            # The group carried in the row's own cell, as converters flatten merged label columns.
            for sep in ("", "-", "·", "—", "/"):
                add(group + sep + _leaf(row.label), Label("row", "applications", row.key))
    add("(五)不予以处理", Label("group", "applications", "not_processed"))
    for text in (
        "申请人情况",
        "信息内容",
        *(p for _, lab in S.APPLICANT_COLUMNS for p in lab.split("·")),
        "(本列数据的勾稽关系为:第一项加第二项之和,等于第三项加第四项之和)",
    ):
        add(text, Label("header", "applications" if text != "信息内容" else "active", text))
    # Table 二: rows and column headers of both formats.
    rows = {
        "规章": "rules",
        "行政规范性文件": "normative_docs",
        "规范性文件": "normative_docs",
        "行政许可": "licensing",
        "其他对外管理服务事项": "other_services",
        "行政处罚": "punishment",
        "行政强制": "enforcement",
        "行政事业性收费": "fees",
        "政府集中采购": "procurement",
    }
    only_2019 = {"other_services", "procurement"}
    for text, key in rows.items():
        add(text, Label("row", "active", key, "2019" if key in only_2019 else ""))
    for version, spec in (("2021", S.ACTIVE_2021), ("2019", S.ACTIVE_2019)):
        for *_, label in spec:
            header = _leaf(label)
            add(header, Label("header", "active", header, version))
    # Table 四 headers.
    for _, lab in (*S.REVIEW_GROUPS, *S.REVIEW_OUTCOMES):
        for part in lab.split("·"):
            add(part, Label("header", "review", part))
    # A group's two header levels in one cell, as converters print a group's own heading or row label
    # ('行政诉讼 · 未经复议直接起诉', '行政诉讼-复议后起诉'): the same label as the lower level alone.
    for _, lab in S.REVIEW_GROUPS:
        if "·" in lab:
            parent, leaf = lab.split("·")
            for form in (*(parent + sep + leaf for sep in ("", "-", "·", "—", "/", ":")), f"{parent}({leaf})"):
                add(form, Label("header", "review", leaf))
    return vocab


VOCAB = _build()
# Row/group labels whose body alone is too short to be told from a column header (3.其他, (七)总计).
_NEEDS_PREFIX = {
    k
    for k, v in VOCAB.items()
    if v.kind in ("row", "group") and len(ITEM_PREFIX.sub("", k)) <= 2 and ITEM_PREFIX.match(k)
}
_BODIES: dict[str, list[tuple[str, Label]]] = {}
for _k, _v in VOCAB.items():
    if _v.kind in ("row", "group") and _k not in _NEEDS_PREFIX:
        _BODIES.setdefault(ITEM_PREFIX.sub("", _k), []).append((_k, _v))
_FORMS: dict[Label, list[str]] = {}
for _k, _v in VOCAB.items():
    _FORMS.setdefault(_v, []).append(_k)
_GROUP_FORMS = [k for k, v in VOCAB.items() if v.kind == "group"]
FUZZY_THRESHOLD = 0.8
MIN_PREFIX = 4


def _numeral(s: str) -> str | None:
    """The item number of a label ('(三)' -> '三', '3.' -> '3'), or None."""
    m = ITEM_PREFIX.match(s)
    return (m.group(1) or m.group(2) or m.group(3)) if m else None


def _unique(cands: list[Label]) -> Label | None:
    """The one label all candidates agree on, else None."""
    return cands[0] if len(set(cands)) == 1 and cands else None


def _by_prefix(s: str) -> Label | None:
    """A label cut short ('现行有效件') or extended by a note ('现行有效件数(历史累计)')."""
    body = ITEM_PREFIX.sub("", s)
    cands = []
    for key, lab in VOCAB.items():
        if (len(s) >= MIN_PREFIX and key.startswith(s) and key != s) or (
            s.startswith(key) and s[len(key) :].startswith("(") and len(s) - len(key) <= 20 and len(key) >= 2
        ):
            cands.append(lab)
    if not cands and len(body) >= MIN_PREFIX and body != s:
        cands = [lab for b, labs in _BODIES.items() if b.startswith(body) for _, lab in labs]
    return _unique(cands)


# Fuzzy candidates with what the cheap bounds need: length, item number, character counts.
_FUZZY = [(k, v, len(k), _numeral(k), Counter(k)) for k, v in VOCAB.items() if len(k) >= 5]


def _by_similarity(s: str) -> Label | None:
    """Typos and altered words ('其他法律行政止公开'): best ratio above the threshold, clearly ahead."""
    num, size, chars = _numeral(s), len(s), None
    scored = []
    for key, lab, key_size, knum, key_chars in _FUZZY:
        if not 0.6 <= key_size / size <= 1.6:
            continue
        if num and knum and num != knum:
            continue
        # difflib's real_quick_ratio and quick_ratio (upper bounds of ratio), by their own formulas but
        # without building a SequenceMatcher for every candidate: most prose is ruled out here.
        if 2.0 * min(size, key_size) / (size + key_size) < FUZZY_THRESHOLD:
            continue
        chars = chars or Counter(s)
        if 2.0 * sum((chars & key_chars).values()) / (size + key_size) < FUZZY_THRESHOLD:
            continue
        scored.append((difflib.SequenceMatcher(None, s, key, autojunk=False).ratio(), lab))
    scored.sort(key=lambda t: -t[0])
    if not scored or scored[0][0] < FUZZY_THRESHOLD:
        return None
    if len(scored) > 1 and scored[1][1] != scored[0][1] and scored[0][0] - scored[1][0] < 0.05:
        return None
    return scored[0][1]


@lru_cache(maxsize=1 << 16)
def match(text: str) -> Label | None:
    """The Label a printed cell stands for, or None (values, prose, fragments)."""
    s = normalize(text)
    if not s or len(s) > 80:
        return None
    lab = VOCAB.get(s)
    if lab:
        return lab
    m = _BLOCK.match(s)
    if m:
        return Label("block", "active", m.group(1), "2019" if m.group(1) == "九" else "")
    m = _HEADING.match(s)
    if m:
        number = str(NUMERALS.index(m.group(1)) + 1)
        if any(w in m.group(2) for w in HEADING_WORDS[number]):
            return Label("heading", "", number)
    body = ITEM_PREFIX.sub("", s)
    if body != s and body in _BODIES:  # exact body under another numbering style
        return _unique([lab for _, lab in _BODIES[body]])
    if not _CJK.search(s):
        return None
    return _by_prefix(s) or (_by_similarity(s) if len(s) >= 5 else None)


def continues(label: Label, text: str) -> bool:
    """Whether normalised `text` is a label's printed form so far (a label wrapped over lines)."""
    return any(form.startswith(text) for form in _FORMS.get(label, ()))


def is_group_fragment(text: str) -> bool:
    """A piece of a wrapped group label ('他处理' of '(六)其他处理'), printed between a row's lines."""
    return len(text) >= 2 and any(text in form for form in _GROUP_FORMS)


# Table 四's groups by the label that names each alone ('行政诉讼' alone is the parent of two: no group).
REVIEW_GROUP_KEYS = {lab.split("·")[-1]: key for key, lab in S.REVIEW_GROUPS}


def review_group(label: Label | None) -> str | None:
    """The table-四 group key a label names ('未经复议直接起诉' -> 'litigation_direct'), else None."""
    if label is None or label.table != "review" or label.kind != "header":
        return None
    return REVIEW_GROUP_KEYS.get(label.key)


@cache
def widths(version: str) -> dict[str, int]:
    """Number of printed values per table-二 row key in one format version."""
    spec = S.ACTIVE_2021 if version == S.FORMAT_2021 else S.ACTIVE_2019
    out: dict[str, int] = {}
    for key, *_ in spec:
        key = "fees" if key.startswith("fees") else key
        out[key] = out.get(key, 0) + 1
    return out


# Run-together cells: a statutory label immediately followed by digits that run into the next word
# ("规章000行政规范性文件6233440"); prose numbers are followed by a measure word (件, 条 ...).
_RUN_LABELS = sorted(
    {
        ITEM_PREFIX.sub("", k)
        for k, v in VOCAB.items()
        if v.kind in ("row", "header") and len(ITEM_PREFIX.sub("", k)) >= 2
    },
    key=len,
    reverse=True,
)
RUN_TOGETHER = re.compile(
    "(?:" + "|".join(map(re.escape, _RUN_LABELS)) + r")\d[\d.]*(?![\d件条个项次人万元%份家年月日天号期篇])"
)
