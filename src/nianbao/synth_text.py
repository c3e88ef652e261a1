"""Synthetic report text (the `sections` table) for the synthetic corpus, with injected text errors.

Each report gets a title, an opening with the statistics period and the six sections under their
national headings. Their prose mixes:
- template sentences every report prints (a few variants each: many agencies print each one, so
  nianbao.similarity drops them as templates);
- agency sentences assembled from fragment lists (some 20 million combinations), so two agencies'
  texts share little; a fifth of them stay the same from year to year, as real reports reuse text;
- numbers the text states (收到政府信息公开申请 N 件, 行政复议 N 件, 行政诉讼 N 件) equal to the report's
  tables before any per-report table injection: sometimes stated, sometimes not, a negation for 0;
- unclear sentences nianbao.text_facts must skip (全年办理…申请 N 件 = new + carried over; 网络申请 M 件).

Every choice is a hash of (seed, text key, slot): the text key is the (agency, year) whose text a report
prints, its own unless it copies (R30), so a copy repeats its source's sentences with its own years and
numbers. Arrays throughout (pyarrow string kernels): no Python loop over reports.

Injected text errors (TEXT_KINDS), one per report at most, never on a report with a table injection or
a cross-year break (so each stays detectable): a stated number ≠ its table (R17–R19), a wrong title or
period year (R23), a dropped section (R24.sections), 五 = 无 (R27.five), a copy of the agency's previous
report (R30.previous_year) or of another agency's same-year report (R30.same_year, both reports).
Two whole-report kinds are chosen here too, at the same rate, and applied to the tables by nianbao.synth
as an ingest records them: a statutory table missing (R24.tables) and table 二 unreadable so the format
is unknown (R25.format, and R24.tables as table 二 has no row).

Truth (`truth`): the text rules are evaluated with nianbao.text_facts itself, against the final tables
as nianbao.report_text reads them, on every report a text error (but a copy) or a table injection into
表三/表四 touched; R30 from the copies made. Clean reports and copies agree by construction
(tests/test_synth_text.py reads every report back; benchmarks/text_rules.py runs the real nightly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import schema as S
from . import text_facts as TF

HEADINGS = {k: f"{n}、{h}" for k, n, h in zip(S.PART_KEYS, S.PART_NUMERALS, S.PART_HEADINGS)}
BODY = tuple(HEADINGS)
STABLE_SHARE = 0.2  # agency sentences an agency prints again the next year
# Injected text errors: kind -> rule family it breaks.
TEXT_KINDS = {
    "text-applications-wrong": "R17",
    "text-reviews-wrong": "R18",
    "text-litigations-wrong": "R19",
    "title-year-wrong": "R23",
    "period-year-wrong": "R23",
    "section-dropped": "R24",
    "five-says-nothing": "R27",
    "copied-previous-year": "R30",
    "copied-same-year": "R30",
    "table-missing": "R24",  # one statutory table not read: no row in it (nianbao.synth)
    "format-unmatched": "R25",  # table 二's headers match no format: no format version, no table 二
}
TABLE_MISSING, FORMAT_UNMATCHED = "table-missing", "format-unmatched"
ALSO_BREAKS = {FORMAT_UNMATCHED: ("R24",)}  # a report of unknown format has no table 二 either
# A table the report may lack, by position: table 二 only where the report prints (六)'s three sub-rows
# (a 2021 report), as its format is then known from table 三 (nianbao.parse.core).
DROPPABLE = ("applications", "review_litigation", "active_disclosure")
PREVIOUS_RULE, SAME_YEAR_RULE = "R30.previous_year", "R30.same_year"
FACT_RULES = {TF.APPLICATIONS: "R17.applications", TF.REVIEWS: "R18.reviews", TF.LITIGATIONS: "R19.litigations"}
FACT_TABLES = {TF.APPLICATIONS: "applications", TF.REVIEWS: "review_litigation", TF.LITIGATIONS: "review_litigation"}
FACT_KINDS = {
    TF.APPLICATIONS: "text-applications-wrong",
    TF.REVIEWS: "text-reviews-wrong",
    TF.LITIGATIONS: "text-litigations-wrong",
}
SOURCE = "synthetic"

# --- Sentence material --------------------------------------------------------------------------


# Agency sentences are made of words of at most four characters, so that every 5-character shingle
# nianbao.similarity compares spans two or three words: two agencies share one only when they drew the
# same words side by side (long stock phrases would make every pair of reports look alike).
def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


LEADS = _words(
    "本年度， 全年 工作中， 我们 本机关 一是 二是 同时， 此外， 另外， "
    "围绕中心， 按照部署， 结合实际， 对照要点， 着眼需求， 坚持导向，"
)
ADVERBS = _words(
    "持续 扎实 着力 认真 全面 不断 深入 稳步 切实 系统 大力 严格 主动 精心 及时 有序 积极 集中 从严 逐项 "
    "规范 重点 坚持 常态 全力 加快 用心 合力 同步 务实"
)
VERBS = _words(
    "推进 完善 加强 优化 落实 梳理 健全 开展 规范 推动 执行 组织 更新 探索 清理 细化 把好 深化 抓好 强化 "
    "提升 拓展 创新 夯实 压实 做实 严把 统筹 协调 督促 指导 聚焦 紧扣 对标 构建 打造 建立 改进 丰富 整合"
)
AREAS = _words(
    "财政预算 财政决算 行政执法 政策解读 政务微博 政务微信 政府网站 基层政务 重点领域 人事信息 权责清单 政务服务 "
    "民生实事 营商环境 信息发布 依申请 政府信息 公开目录 建议提案 公开专区 涉企政策 惠民补贴 公共资源 社会救助 "
    "安全生产 生态环境 教育卫生 乡村振兴 城乡建设 市场监管 征收补偿 政府采购 审计整改 代表建议 应急管理 住房保障 "
    "就业创业 养老服务 医疗保障 重大项目 价格收费 食品安全 药品监管 交通运输 水利工程 国资国企 统计数据 招投标 "
    "行政许可 行政处罚 公共文化"
)
OBJECTS = _words(
    "公开 发布 解读 清单 目录 专栏 平台 台账 流程 机制 制度 规则 标准 渠道 窗口 专区 栏目 数据 档案 审核 "
    "报送 更新 维护 回应 监测 考核 培训 督查 归档 检索 服务 互动 征集 反馈 管理 指引 链接 页面 模板 备案"
)
RESULTS = _words(
    "公开质效 工作水平 服务能力 群众满意 信息质量 公开成效 回应效率 办理效率 规范程度 透明程度 工作效能 服务效能 "
    "公众参与 社会认可 查询效率 发布时效 解读质量 公开实效 制度保障 协同效率"
)
CHANGES = _words(
    "明显提升 不断提高 持续增强 稳步提升 有效改善 显著增强 逐步提高 大幅提升 不断优化 持续改善 稳中有升 全面提升 "
    "有所提高 切实增强 得到加强 得到提升 得到改善 更加突出 日益提高 稳步增强"
)
PROBLEM_LEADS = _words("一是 二是 同时， 另外， 经自查， 对照要求， 从实际看， 总体看，")
QUALITIES = _words(
    "时效性 规范性 完整性 准确性 便民性 针对性 系统性 主动性 及时性 全面性 可读性 互动性 准确度 覆盖面 精细化 标准化"
)
SHORTFALLS = _words(
    "有待提高 仍有不足 尚需加强 不够到位 仍需改进 还需提升 较为薄弱 不够及时 不够充分 不够规范 有待加强 有所欠缺"
)
NEXT_LEADS = _words("下一步，将 今后，将 为此，将 新年度，将 下步，将")

# Template sentences: a few variants each, every one printed by many agencies.
INTRO = (
    "本年度，本机关坚持以习近平新时代中国特色社会主义思想为指导，认真贯彻落实《中华人民共和国政府信息公开条例》，"
    "扎实推进政府信息公开工作。",
    "本机关严格按照《中华人民共和国政府信息公开条例》和上级工作部署，全面推进政府信息公开各项工作。",
    "本年度，本机关认真落实政务公开工作要点，持续推进决策、执行、管理、服务、结果公开。",
)
SUBHEADS = ("（一）主动公开。", "（二）依申请公开。", "（三）政府信息管理。", "（四）平台建设。", "（五）监督保障。")
TABLE_NOTES = {
    "s2": ("本机关主动公开政府信息情况详见下表。", "主动公开政府信息情况统计如下。"),
    "s3": ("收到和处理政府信息公开申请情况详见下表。", "本年度依申请公开情况统计如下。"),
    "s4": ("政府信息公开行政复议、行政诉讼情况详见下表。", "相关情况统计如下。"),
}
FEES = ("本年度未收取信息处理费。", "本机关依据《政府信息公开信息处理费管理办法》，本年度未收取信息处理费。")
FIVE_HEADS = ("（一）存在的主要问题。", "（二）改进情况。")
OPENING = (
    ("根据《中华人民共和国政府信息公开条例》（以下简称《条例》）规定，", "编制本报告。"),
    ("依据《中华人民共和国政府信息公开工作年度报告格式》要求，", "编制本年度政府信息公开工作年度报告。"),
)
PERIOD = ("本报告所列数据的统计期限自", "本报告中所列数据的统计期限自")
WEBSITE = "本报告电子版可在门户网站政府信息公开专栏查阅。"
# Stated numbers: (before, after) the number.
APPLICATIONS_STATED = (
    ("本年度共收到政府信息公开申请", "件。"),
    ("全年新收政府信息公开申请", "件，均在法定期限内予以答复。"),
    ("全年共接收政府信息公开申请", "件。"),
)
APPLICATIONS_NONE = ("本年度未收到政府信息公开申请。", "全年未收到政府信息公开申请。")
HANDLED = ("全年办理政府信息公开申请", "件。")  # new + carried over: unclear, skipped
ONLINE = ("其中通过网络申请", "件。")  # a part: unclear, skipped
APPEALS_LEAD = ("本年度因政府信息公开工作", "本年度，本机关因政府信息公开")
REVIEWS_STATED = ("被申请行政复议", "件")
REVIEWS_NONE = "未发生政府信息公开行政复议案件"
LITIGATIONS_STATED = ("被提起行政诉讼", "件")
LITIGATIONS_NONE = "未被提起行政诉讼"
APPEALS_NONE = "本年度未发生因政府信息公开引起的行政复议、行政诉讼案件。"
FIVE_NOTHING = ("无。", "暂无。")


# --- Deterministic choices ----------------------------------------------------------------------


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, element-wise (uint64, wrapping)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class Keys:
    """Hashes of (seed, owner, year, slot): every choice of a report's text."""

    def __init__(self, seed: int, owner: np.ndarray, year: np.ndarray):
        with np.errstate(over="ignore"):
            base = _mix(np.full(len(owner), seed, np.uint64) + np.uint64(0x9E3779B97F4A7C15))
            self.owner = _mix(base ^ owner.astype(np.uint64))
            self.year = year.astype(np.uint64)

    def h(self, slot: int, yearly: bool | np.ndarray = True) -> np.ndarray:
        with np.errstate(over="ignore"):
            y = np.where(yearly, self.year, np.uint64(0)).astype(np.uint64)
            return _mix(_mix(self.owner ^ (y * np.uint64(0x100000001B3))) + np.uint64(slot))

    def pick(self, slot: int, options: int, yearly=True) -> np.ndarray:
        return (self.h(slot, yearly) % np.uint64(options)).astype(np.int64)

    def u(self, slot: int, yearly=True) -> np.ndarray:
        return (self.h(slot, yearly) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _take(options: tuple[str, ...], idx: np.ndarray) -> pa.Array:
    return pa.array(options, pa.string()).take(pa.array(idx))


def _when(mask: np.ndarray, text: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), text, "")


def _num(v: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(v, pa.int64()), pa.string())


SENTENCE = (LEADS, ADVERBS, VERBS, AREAS, OBJECTS, RESULTS, CHANGES)
PROBLEM = (PROBLEM_LEADS, AREAS, QUALITIES, SHORTFALLS)


class Writer:
    """Sentences for n reports from their text keys; slot numbers keep every choice independent."""

    def __init__(self, keys: Keys):
        self.k, self.slot = keys, 0

    def next(self) -> int:
        self.slot += 1
        return self.slot * 16

    def template(self, options: tuple[str, ...]) -> pa.Array:
        return _take(options, self.k.pick(self.next(), len(options)))

    def agency(self, leads=LEADS) -> pa.Array:
        """One agency sentence: lead, adverb, verb, area, object, then (four in five) a result; a fifth of
        them stay the same every year."""
        s = self.next()
        yearly = self.k.u(s, yearly=False) >= STABLE_SHARE
        pools = (leads, *SENTENCE[1:])
        words = [_take(pool, self.k.pick(s + 1 + j, len(pool), yearly)) for j, pool in enumerate(pools)]
        result = _join("，", *words[5:])
        return _join(*words[:5], _when(self.k.u(s + 8, yearly) < 0.8, result), "。")

    def problem(self) -> pa.Array:
        """One problem of section 五: lead, area, 的, quality, shortfall."""
        s = self.next()
        yearly = self.k.u(s, yearly=False) >= STABLE_SHARE
        words = [_take(pool, self.k.pick(s + 1 + j, len(pool), yearly)) for j, pool in enumerate(PROBLEM)]
        return _join(*words[:2], "的", *words[2:], "。")


# --- One chunk's text ---------------------------------------------------------------------------


def _stated(w: Writer, clean: dict[str, np.ndarray], wrong: dict[str, np.ndarray]) -> dict[str, pa.Array]:
    """The sentences stating numbers (and the unclear ones), by the section they go in. A wrong number
    (wrong >= 0) is always stated, in digits."""
    k = w.k
    apps_wrong = wrong[TF.APPLICATIONS] >= 0
    apps = np.where(apps_wrong, wrong[TF.APPLICATIONS], clean[TF.APPLICATIONS])
    where = k.pick(w.next(), 20)  # 0-4: not stated, 5-9: in 一, 10-16: in 三, 17-19: in both
    where = np.where(apps_wrong & (where < 5), 12, where)
    negate = (apps == 0) & (k.u(w.next()) < 0.8) & ~apps_wrong  # 0 said in words
    form = k.pick(w.next(), len(APPLICATIONS_STATED))
    said = _join(
        _take(tuple(a for a, _ in APPLICATIONS_STATED), form),
        _num(apps),
        _take(tuple(b for _, b in APPLICATIONS_STATED), form),
    )
    said = pc.if_else(pa.array(negate), w.template(APPLICATIONS_NONE), said)
    in1, in3 = ((where >= 5) & (where <= 9)) | (where >= 17), where >= 10
    handled = clean["handled"]
    unclear = (handled > 0) & (k.u(w.next()) < 0.3)
    online = (clean[TF.APPLICATIONS] > 1) & (k.u(w.next()) < 0.2)
    part = np.floor(clean[TF.APPLICATIONS] * k.u(w.next()) * 0.8).astype(np.int64)
    s3 = _join(
        _when(in3, said),
        _when(unclear, _join(HANDLED[0], _num(handled), HANDLED[1])),
        _when(online, _join(ONLINE[0], _num(part), ONLINE[1])),
    )

    rev_wrong, lit_wrong = wrong[TF.REVIEWS] >= 0, wrong[TF.LITIGATIONS] >= 0
    rev = np.where(rev_wrong, wrong[TF.REVIEWS], clean[TF.REVIEWS])
    lit = np.where(lit_wrong, wrong[TF.LITIGATIONS], clean[TF.LITIGATIONS])
    mode = k.pick(w.next(), 10)  # 0-2: not stated, 3-7: both, 8: reviews only, 9: litigations only
    mode = np.where(rev_wrong & ((mode < 3) | (mode == 9)), 8, mode)
    mode = np.where(lit_wrong & ((mode < 3) | (mode == 8)), 9, mode)
    in_words = k.u(w.next()) < 0.8
    rev_neg = (rev == 0) & in_words & ~rev_wrong
    lit_neg = (lit == 0) & in_words & ~lit_wrong
    rev_said = pc.if_else(pa.array(rev_neg), REVIEWS_NONE, _join(REVIEWS_STATED[0], _num(rev), REVIEWS_STATED[1]))
    lit_said = pc.if_else(
        pa.array(lit_neg), LITIGATIONS_NONE, _join(LITIGATIONS_STATED[0], _num(lit), LITIGATIONS_STATED[1])
    )
    lead = w.template(APPEALS_LEAD)
    both = (mode >= 3) & (mode <= 7)
    appeals = pc.if_else(
        pa.array(both),
        pc.if_else(pa.array(rev_neg & lit_neg), APPEALS_NONE, _join(lead, rev_said, "，", lit_said, "。")),
        pc.if_else(pa.array(mode == 8), _join(lead, rev_said, "。"), _join(lead, lit_said, "。")),
    )
    return {"s1": _when(in1, said), "s3": s3, "s4": _when(mode >= 3, appeals)}


@dataclass
class Inputs:
    """What a chunk's text is written from: per report its id, agency name, agency (plan position), year,
    and its tables' clean numbers (fact -> int64; 'handled': new + carried over)."""

    ids: np.ndarray
    agency: pa.Array
    owner: np.ndarray
    year: np.ndarray
    clean: dict[str, np.ndarray]
    single: np.ndarray = None  # (六)其他处理 printed as one row (the 2019 format, or the 2021 deviation)
    # The next year's report carries a cross-year break: this one keeps all its tables, so the break
    # stays a failure (a table missing here would leave it not assessable).
    tables_kept: np.ndarray = None


@dataclass
class Choices:
    """How each report's text departs from its clean form (the injections)."""

    n: int
    kind: np.ndarray = None  # injected text kind per report, '' for none (object)
    cell: np.ndarray = None  # where: the part changed, or the report copied (or copying)
    text_row: np.ndarray = None  # the row whose (agency, year) chooses the sentences
    text_year: np.ndarray = None
    wrong: dict[str, np.ndarray] = None
    title_year: np.ndarray = None
    period: tuple[np.ndarray, np.ndarray] = None
    force_period: np.ndarray = None
    dropped: np.ndarray = None  # index into BODY, -1: none
    five_nothing: np.ndarray = None
    table_missing: np.ndarray = None  # the statutory table the report lacks, '' for none (object)
    format_unmatched: np.ndarray = None  # table 二 unreadable: no format version (bool)

    def tables_missing(self) -> np.ndarray:
        """How many statutory tables each report lacks (R24.tables)."""
        return (self.table_missing != "").astype(np.int64) + self.format_unmatched.astype(np.int64)


def _inject(rng, x: Inputs, eligible: np.ndarray, rate: float) -> Choices:
    """One text error at most per eligible report, each kind at `rate`."""
    n = len(x.ids)
    kinds = list(TEXT_KINDS)
    draw = np.floor(rng.random(n) / rate).astype(np.int64) if rate > 0 else np.full(n, len(kinds))
    draw = np.where(eligible & (draw < len(kinds)), draw, -1)
    if x.tables_kept is not None:
        kept = x.tables_kept & np.isin(draw, [kinds.index(TABLE_MISSING), kinds.index(FORMAT_UNMATCHED)])
        draw = np.where(kept, -1, draw)
    is_ = {k: draw == i for i, k in enumerate(kinds)}
    c = Choices(n)
    c.kind = np.full(n, "", dtype=object)
    c.cell = np.full(n, "", dtype=object)
    c.text_row, c.text_year = np.arange(n), x.year.astype(np.int64).copy()

    # Same-year copies: each target copies a clean eligible report of its year, another agency's.
    targets = np.flatnonzero(is_["copied-same-year"])
    free = eligible & (draw < 0)
    pick = rng.random(n)
    sources = np.full(len(targets), -1)
    for i, t in enumerate(targets):  # a few per chunk: 0.5 % of its reports
        cand = np.flatnonzero(free & (x.year == x.year[t]) & (x.owner != x.owner[t]))
        if len(cand):
            sources[i] = cand[int(pick[t] * len(cand))]
            free[sources[i]] = False
    ok = sources >= 0
    targets, sources = targets[ok], sources[ok]
    c.kind[targets] = c.kind[sources] = "copied-same-year"
    c.cell[targets], c.cell[sources] = x.ids[sources], x.ids[targets]
    c.text_row[targets] = sources

    # Previous-year copies: the agency's report of the year before, itself clean, not copied either.
    key = x.owner.astype(np.int64) * 10_000 + x.year.astype(np.int64)
    order = np.argsort(key, kind="stable")
    at = np.searchsorted(key[order], key - 1)
    prev = np.where((at < n) & (key[order][np.minimum(at, n - 1)] == key - 1), order[np.minimum(at, n - 1)], -1)
    want = is_["copied-previous-year"] & (prev >= 0)
    source = np.maximum(prev, 0)  # the previous report: nothing injected into it, and no copy either
    want &= (draw[source] < 0) & (c.kind[source] == "")
    rows = np.flatnonzero(want)
    c.kind[rows] = "copied-previous-year"
    c.cell[rows] = x.ids[prev[rows]]
    c.text_row[rows] = prev[rows]

    c.wrong = {}
    for fact, kind in FACT_KINDS.items():
        v = x.clean[fact]
        d = rng.integers(1, 10, n)
        wrong = np.where((rng.random(n) < 0.5) & (v >= d), v - d, v + d)
        c.wrong[fact] = np.where(is_[kind], wrong, -1)
        c.kind[is_[kind]] = kind
    c.cell[is_[FACT_KINDS[TF.APPLICATIONS]]] = "s1|s3"
    c.cell[is_[FACT_KINDS[TF.REVIEWS]] | is_[FACT_KINDS[TF.LITIGATIONS]]] = "s4"

    year = x.year.astype(np.int64)
    off = np.where(rng.random(n) < 0.7, -1, 1)  # last year's title kept, or a slip forward
    c.title_year = np.where(is_["title-year-wrong"], year + off, year)
    c.kind[is_["title-year-wrong"]], c.cell[is_["title-year-wrong"]] = "title-year-wrong", "title"
    bad_period = is_["period-year-wrong"]
    whole = rng.random(n) < 0.6  # last year's period kept whole, or only its end year wrong
    c.period = (np.where(bad_period & whole, year - 1, year), np.where(bad_period, year - 1, year))
    c.force_period = bad_period
    c.kind[bad_period], c.cell[bad_period] = "period-year-wrong", "opening"
    c.dropped = np.where(is_["section-dropped"], rng.integers(0, len(BODY), n), -1)
    c.kind[is_["section-dropped"]] = "section-dropped"
    c.cell[is_["section-dropped"]] = np.asarray(BODY, dtype=object)[c.dropped[is_["section-dropped"]]]
    c.five_nothing = is_["five-says-nothing"]
    c.kind[c.five_nothing], c.cell[c.five_nothing] = "five-says-nothing", "s5"
    single = np.ones(n, dtype=bool) if x.single is None else x.single
    options = np.where(single, len(DROPPABLE) - 1, len(DROPPABLE))  # table 二 only with the sub-rows
    which = np.floor(rng.random(n) * options).astype(np.int64)
    c.table_missing = np.where(is_[TABLE_MISSING], np.asarray(DROPPABLE, dtype=object)[which], "").astype(object)
    c.kind[is_[TABLE_MISSING]] = TABLE_MISSING
    c.cell[is_[TABLE_MISSING]] = c.table_missing[is_[TABLE_MISSING]]
    # Unknown format: table 二 unreadable. Three sub-rows of (六) would say 2021, so the report prints (六)
    # as one row (nianbao.synth makes it so where it printed the sub-rows).
    c.format_unmatched = is_[FORMAT_UNMATCHED]
    c.kind[c.format_unmatched], c.cell[c.format_unmatched] = FORMAT_UNMATCHED, "active_disclosure"
    c.text_year = year[c.text_row]
    return c


def _parts(seed: int, x: Inputs, c: Choices) -> tuple[dict[str, pa.Array], dict[str, np.ndarray]]:
    """Each part's text for every report, and where it is present."""
    n = len(x.ids)
    w = Writer(Keys(seed, x.owner[c.text_row], c.text_year))
    title = _join(x.agency, _num(c.title_year), "年政府信息公开工作年度报告")
    form = w.k.pick(w.next(), len(OPENING))
    period_form = w.template(PERIOD)
    has_period = (w.k.u(w.next()) < 0.92) | c.force_period
    period = _join(period_form, _num(c.period[0]), "年1月1日起至", _num(c.period[1]), "年12月31日止。")
    website = w.k.u(w.next()) < 0.5
    opening = _join(
        _take(tuple(a for a, _ in OPENING), form),
        x.agency,
        _take(tuple(b for _, b in OPENING), form),
        _when(has_period, period),
        _when(website, pa.array(np.full(n, WEBSITE, dtype=object), pa.string())),
    )
    stated = _stated(w, x.clean, c.wrong)
    s1 = _join(w.template(INTRO), w.agency(), "\n" + SUBHEADS[0], w.agency(), w.agency(), "\n" + SUBHEADS[1])
    s1 = _join(s1, stated["s1"], w.agency(), "\n" + SUBHEADS[2], w.agency(), "\n" + SUBHEADS[3], w.agency())
    s1 = _join(s1, "\n" + SUBHEADS[4], w.agency())
    s5 = _join(FIVE_HEADS[0], w.problem(), w.problem(), "\n" + FIVE_HEADS[1], w.agency(leads=NEXT_LEADS))
    s5 = _join(s5, _when(w.k.u(w.next()) < 0.5, w.agency()))
    s5 = pc.if_else(pa.array(c.five_nothing), w.template(FIVE_NOTHING), s5)
    parts = {
        "title": title,
        "opening": opening,
        "s1": s1,
        "s2": _join(w.agency(), w.agency(), w.template(TABLE_NOTES["s2"])),
        "s3": _join(w.agency(), stated["s3"], w.template(TABLE_NOTES["s3"])),
        "s4": _join(stated["s4"], w.template(TABLE_NOTES["s4"])),
        "s5": s5,
        "s6": _join(w.template(FEES), w.agency()),
    }
    present = {k: np.ones(n, dtype=bool) for k in S.SECTION_KEYS}
    for i, k in enumerate(BODY):
        present[k] = c.dropped != i
    return parts, present


def sections_table(ids: np.ndarray, parts: dict[str, pa.Array], present: dict[str, np.ndarray]) -> pa.Table:
    """The sections table: a row per part present, report by report in the report's order."""
    n, keys = len(ids), S.SECTION_KEYS
    mask = np.stack([present[k] for k in keys], axis=1)  # (reports, parts)
    ordinal = np.cumsum(mask, axis=1).astype(np.int32)[mask]
    flat = (np.arange(len(keys))[None, :] * n + np.arange(n)[:, None])[mask]  # report-major order
    part = flat // n
    return pa.Table.from_arrays(
        [
            pa.array(ids, pa.string()).take(pa.array(flat % n)),
            pa.array(keys, pa.string()).take(pa.array(part)),
            pa.array([HEADINGS.get(k, "") for k in keys], pa.string()).take(pa.array(part)),
            pa.concat_arrays([parts[k] for k in keys]).take(pa.array(flat)),
            pa.array(ordinal, pa.int32()),
            pa.array(np.full(len(flat), SOURCE, dtype=object), pa.string()),
        ],
        schema=S.SECTIONS_SCHEMA,
    )


@dataclass
class ChunkText:
    """A chunk's sections table and what was injected into its text."""

    sections: pa.Table
    parts: dict[str, pa.Array]
    present: dict[str, np.ndarray]
    choices: Choices


def generate(seed: int, k: int, x: Inputs, eligible: np.ndarray, rate: float) -> ChunkText:
    """The text of a chunk's reports, with text errors injected at `rate` per kind into eligible ones."""
    c = _inject(np.random.default_rng([seed, 2, k]), x, eligible, rate)
    parts, present = _parts(seed, x, c)
    return ChunkText(sections_table(x.ids, parts, present), parts, present, c)


# --- Truth ----------------------------------------------------------------------------------------


def _row_sections(t: ChunkText, rows: np.ndarray) -> list[dict[str, str]]:
    """{part: text} of each row, its absent parts left out."""
    texts = {k: t.parts[k].take(pa.array(rows)).to_pylist() for k in S.SECTION_KEYS}
    return [{k: texts[k][j] for k in S.SECTION_KEYS if t.present[k][r]} for j, r in enumerate(rows)]


def failures(
    facts: TF.TextFacts,
    sections: dict[str, str],
    year: int,
    tables: dict[str, int | None],
    tables_missing: int = 0,
    format_unmatched: bool = False,
) -> list[str]:
    """The text rules (R17–R19, R23, R24, R25, R27.five) failing for one report, as nianbao.report_text
    and the rules' kinds read them: a number on either side missing is no finding."""
    out = []
    for fact, rule in FACT_RULES.items():
        st = facts.statements.get(fact)
        if st is not None and tables[fact] is not None and st.value != tables[fact]:
            out.append(rule)
    years = facts.period_years
    for rule, value in (
        ("R23.title", facts.title_year),
        ("R23.period_start", years[0] if years else None),
        ("R23.period_end", years[-1] if len(years) > 1 else None),
    ):
        if value is not None and value != year:
            out.append(rule)
    if any(k not in sections for k in BODY):
        out.append("R24.sections")
    if tables_missing:
        out.append("R24.tables")
    if format_unmatched:
        out.append("R25.format")
    if facts.five_generic:
        out.append("R27.five")
    return out


def truth(t: ChunkText, x: Inputs, tables: dict[str, np.ndarray], table_hits: dict[str, dict[int, tuple]]) -> pa.Table:
    """(report_id, rule_id, injected, cell) of every text rule failing: text_facts read on every report a
    text or table injection touched, against the final tables (fact -> float, NaN for a blank);
    table_hits: table -> row -> (kind, cell) of its per-report injection. R30 from the copies made."""
    c = t.choices
    hit = np.zeros(len(x.ids), dtype=bool)
    for table in set(FACT_TABLES.values()):  # only these tables hold totals the text states
        hit[list(table_hits.get(table, {}))] = True
    copied = np.isin(c.kind, ("copied-previous-year", "copied-same-year"))  # clean text, R30 by construction
    rows = np.flatnonzero(((c.kind != "") & ~copied) | hit)
    missing = c.tables_missing()
    out = []
    for r, sections in zip(rows.tolist(), _row_sections(t, rows)):
        kind = c.kind[r]
        facts = TF.read(sections)
        held = {f: None if np.isnan(tables[f][r]) else int(tables[f][r]) for f in FACT_RULES}
        found = failures(facts, sections, int(x.year[r]), held, int(missing[r]), bool(c.format_unmatched[r]))
        for rule in found:
            fact = next((f for f, fr in FACT_RULES.items() if fr == rule), None)
            if fact and kind != FACT_KINDS[fact]:
                if r not in table_hits.get(FACT_TABLES[fact], {}):
                    raise RuntimeError(f"synth text: {x.ids[r]} fails {rule}, which no injection explains")
                out.append((x.ids[r], rule, *table_hits[FACT_TABLES[fact]][r]))
                continue
            if not kind or rule.split(".")[0] not in (TEXT_KINDS[kind], *ALSO_BREAKS.get(kind, ())):
                raise RuntimeError(f"synth text: {x.ids[r]} fails {rule}, not what {kind or 'nothing'} breaks")
            out.append((x.ids[r], rule, kind, c.cell[r]))
        if kind and TEXT_KINDS[kind] != "R30" and not any(f.split(".")[0] == TEXT_KINDS[kind] for f in found):
            raise RuntimeError(f"synth text: {kind} injected into {x.ids[r]} breaks no rule")
    for kind, rule in (("copied-previous-year", PREVIOUS_RULE), ("copied-same-year", SAME_YEAR_RULE)):
        out += [(x.ids[r], rule, kind, c.cell[r]) for r in np.flatnonzero(c.kind == kind).tolist()]
    cols = list(zip(*out)) if out else [[], [], [], []]
    return pa.table(
        {n: pa.array(list(v), pa.string()) for n, v in zip(("report_id", "rule_id", "injected", "cell"), cols)}
    )
