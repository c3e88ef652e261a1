"""Synthetic national corpus straight into the Parquet tables, with the ground truth of injected errors.

Every clean report satisfies every rule of rules.py exactly. A share of reports (`error_rate`) gets
one injected error in one, two or three of its statutory tables (`errors_per_report`); at most one
per table, so injections never interact and the truth is derived per table by evaluating the rules
that table's injection can touch on the modified rows. Generation is vectorised per chunk (numpy,
pyarrow), one part file per table and chunk, so memory is bounded by the chunk size.

Across years (`--series`, or `--reports` beyond one national year) the same agencies report every year
and each year follows from the last: 上年结转 = last year's 结转下年度 (R11) and, in the 2021 format,
现行有效 = last year's + 制发 − 废止 (R12). A chunk holds every year of its agencies. A series adds
cross-year breaks (crossyear_truth.BREAK_KINDS) that keep each report's own identities, and skipped
years. The R11/R12 truth is evaluated on the final tables (nianbao.crossyear_truth): failures go into
_truth/truth.parquet with the others; _truth/crossyear.parquet lists them with the not-assessable pairs.

With `text` (--text; the default for --series, not for --reports, so the national benchmark stays as it
was) each report also gets its text in the sections table (nianbao.synth_text), stating the tables'
numbers as they were before the per-report table injections, with text errors of its own (R17–R19, R23,
R24.sections, R27.five, R30) at `text_error_rate` per kind; their truth, and that of the table injections
that change a number the text states, goes into _truth/truth.parquet too. At the same rate a report lacks
a statutory table (R24.tables) or its table 二 is unreadable so its format is unknown (R25.format):
written as an ingest writes such a report (_unread_tables), and in the cross-year truth as blanks.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import crossyear_truth as CY
from . import duck
from . import rules as RL
from . import schema as S
from . import synth_text as TX
from .exitcodes import ExitCode

STATUTORY = S.STATUTORY_TABLES
TRUTH_SCHEMA = pa.schema(
    [
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("rule_id", pa.string(), nullable=False),
        pa.field("injected", pa.string(), nullable=False),
        pa.field("cell", pa.string(), nullable=False),
    ]
)
FIRST_FORMAT_YEAR = 2019  # 国办公开办函〔2019〕60号 applies from report year 2019
FIRST_2021_FORMAT_YEAR = 2021
MAX_REPORTS_PER_YEAR = 170_000  # the national count is 115k-160k a year; beyond, the corpus spans years
MICRO = 1_000_000  # fees are held as integer millionths of 万元 (the decimal's scale)
YUAN_PER_10K = 10_000
SINGLE_ROW_DEVIATION = "other-single-row"
TEXT_ERROR_RATE = 0.005

# --- Who reports: the national roster --------------------------------------------------------

LEVEL_KEYS = tuple(S.LEVELS)
LV = {k: i for i, k in enumerate(LEVEL_KEYS)}

PROVINCES = (
    "北京市",
    "天津市",
    "河北省",
    "山西省",
    "内蒙古自治区",
    "辽宁省",
    "吉林省",
    "黑龙江省",
    "上海市",
    "江苏省",
    "浙江省",
    "安徽省",
    "福建省",
    "江西省",
    "山东省",
    "河南省",
    "湖北省",
    "湖南省",
    "广东省",
    "广西壮族自治区",
    "海南省",
    "重庆市",
    "四川省",
    "贵州省",
    "云南省",
    "西藏自治区",
    "陕西省",
    "甘肃省",
    "青海省",
    "宁夏回族自治区",
    "新疆维吾尔自治区",
)
MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")
CENTRAL_REGION = "中央国家机关"
CENTRAL_DEPARTMENTS = (
    "国家发展和改革委员会",
    "教育部",
    "科学技术部",
    "工业和信息化部",
    "国家民族事务委员会",
    "公安部",
    "民政部",
    "司法部",
    "财政部",
    "人力资源和社会保障部",
    "自然资源部",
    "生态环境部",
    "住房和城乡建设部",
    "交通运输部",
    "水利部",
    "农业农村部",
    "商务部",
    "文化和旅游部",
    "国家卫生健康委员会",
    "退役军人事务部",
    "应急管理部",
    "中国人民银行",
    "审计署",
    "国务院国有资产监督管理委员会",
    "海关总署",
    "国家税务总局",
    "国家市场监督管理总局",
    "国家金融监督管理总局",
    "中国证券监督管理委员会",
    "国家广播电视总局",
    "国家体育总局",
    "国家统计局",
    "国家国际发展合作署",
    "国家医疗保障局",
    "国家机关事务管理局",
    "国家信访局",
    "国家粮食和物资储备局",
    "国家能源局",
    "国家国防科技工业局",
    "国家烟草专卖局",
    "国家移民管理局",
    "国家林业和草原局",
    "国家铁路局",
    "中国民用航空局",
    "国家邮政局",
    "国家文物局",
    "国家中医药管理局",
    "国家疾病预防控制局",
    "国家矿山安全监察局",
    "国家外汇管理局",
    "国家药品监督管理局",
    "国家知识产权局",
    "国家新闻出版署",
    "国家数据局",
)
# (province form, city/county form), most common first: a unit with k departments has the first k.
DEPARTMENTS = (
    ("人民政府办公厅", "人民政府办公室"),
    ("发展和改革委员会", "发展和改革局"),
    ("教育厅", "教育局"),
    ("公安厅", "公安局"),
    ("民政厅", "民政局"),
    ("司法厅", "司法局"),
    ("财政厅", "财政局"),
    ("人力资源和社会保障厅", "人力资源和社会保障局"),
    ("自然资源厅", "自然资源局"),
    ("生态环境厅", "生态环境局"),
    ("住房和城乡建设厅", "住房和城乡建设局"),
    ("交通运输厅", "交通运输局"),
    ("水利厅", "水利局"),
    ("农业农村厅", "农业农村局"),
    ("商务厅", "商务局"),
    ("文化和旅游厅", "文化广电和旅游局"),
    ("卫生健康委员会", "卫生健康局"),
    ("退役军人事务厅", "退役军人事务局"),
    ("应急管理厅", "应急管理局"),
    ("审计厅", "审计局"),
    ("市场监督管理局", "市场监督管理局"),
    ("统计局", "统计局"),
    ("医疗保障局", "医疗保障局"),
    ("林业局", "林业局"),
    ("信访局", "信访局"),
    ("科学技术厅", "科学技术局"),
    ("工业和信息化厅", "工业和信息化局"),
    ("民族宗教事务委员会", "民族宗教事务局"),
    ("体育局", "体育局"),
    ("粮食和物资储备局", "粮食和物资储备局"),
    ("国有资产监督管理委员会", "国有资产监督管理局"),
    ("机关事务管理局", "机关事务服务中心"),
    ("人民防空办公室", "人民防空办公室"),
    ("乡村振兴局", "乡村振兴局"),
    ("地方金融监督管理局", "金融工作局"),
    ("数据局", "数据资源管理局"),
    ("政务服务管理办公室", "行政审批局"),
    ("城市管理局", "城市管理局"),
)
PLACE_CHARS = (
    "安宁平阳山江河湖海城丰泰兴昌德华清远新南北东西金石林溪源川台云水峰桥庄集沟坪岭塘阜顺和乐永长宜嘉荣富广武文白青黄临"
)
PLACE_NAMES = tuple(a + b for a in PLACE_CHARS for b in PLACE_CHARS if a != b)
NAME_STRIDE = 7  # coprime with len(PLACE_NAMES): siblings get distinct names


@dataclass
class Roster:
    """Reporting agencies: name, region and level code (index into LEVEL_KEYS)."""

    agency: pa.Array
    region: pa.Array
    level: np.ndarray

    def take(self, idx: np.ndarray) -> Roster:
        """The agencies at positions idx."""
        return Roster(self.agency.take(pa.array(idx)), self.region.take(pa.array(idx)), self.level[idx])


def _join(*parts) -> pa.Array:
    """Element-wise string concatenation of arrays and scalars."""
    return pc.binary_join_element_wise(*parts, "")


def _positions(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For children counted per parent: each child's parent and its rank among its siblings."""
    parent = np.repeat(np.arange(len(counts)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return parent, np.arange(len(parent)) - starts


def _child_names(rng, counts: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Parent index and a place name for every child, distinct among siblings."""
    parent, rank = _positions(counts)
    base = rng.integers(0, len(PLACE_NAMES), len(counts))
    return parent, pa.array(PLACE_NAMES).take(pa.array((base[parent] + rank * NAME_STRIDE) % len(PLACE_NAMES)))


def _departments(
    rng, owner_short: pa.Array, region: pa.Array, low: int, form: int, municipal: np.ndarray | None = None
) -> tuple[pa.Array, pa.Array]:
    """Departments of each government: the first k of DEPARTMENTS, k drawn in [low, len]."""
    parent, rank = _positions(rng.integers(low, len(DEPARTMENTS) + 1, len(owner_short)))
    forms = np.full(len(parent), form)
    if municipal is not None:  # municipalities name their departments like cities do
        forms = np.where(municipal[parent], 1, forms)
    names = pa.array([d for pair in DEPARTMENTS for d in pair]).take(pa.array(rank * 2 + forms))
    idx = pa.array(parent)
    return _join(owner_short.take(idx), names), region.take(idx)


def build_roster(rng, scale: int = 1) -> Roster:
    """A national roster of about 140k x scale agencies with the real level mix."""
    prov = pa.array(PROVINCES)
    municipal = np.isin(np.array(PROVINCES), MUNICIPALITIES)
    blocks = [
        (pa.array(CENTRAL_DEPARTMENTS), pa.array([CENTRAL_REGION] * len(CENTRAL_DEPARTMENTS)), "central_department"),
        (_join(prov, "人民政府"), prov, "province"),
    ]
    agency, region = _departments(rng, prov, prov, 30, 0, municipal)
    blocks.append((agency, region, "province_department"))

    # Municipalities have no 设区的市: their districts hang from one nameless city.
    city_prov, city_names = _child_names(rng, np.where(municipal, 1, rng.integers(8, 16, len(PROVINCES))))
    virtual = municipal[city_prov]
    city_short = pc.if_else(pa.array(virtual), "", _join(city_names, "市"))
    city_region = _join(prov.take(pa.array(city_prov)), city_short)
    real = pa.array(np.flatnonzero(~virtual))
    blocks.append((_join(city_short.take(real), "人民政府"), city_region.take(real), "city"))
    agency, region = _departments(rng, city_short.take(real), city_region.take(real), 26, 1)
    blocks.append((agency, region, "city_department"))

    per_city = np.where(virtual, rng.integers(10, 17, len(virtual)), rng.integers(4, 13, len(virtual))) * scale
    county_city, county_names = _child_names(rng, per_city)
    suffix = np.where(virtual[county_city], "区", rng.choice(["区", "县", "市"], len(county_city), p=[0.35, 0.5, 0.15]))
    county_short = _join(county_names, pa.array(suffix))
    county_region = _join(city_region.take(pa.array(county_city)), county_short)
    blocks.append((_join(county_short, "人民政府"), county_region, "county"))
    agency, region = _departments(rng, county_short, county_region, 20, 1)
    blocks.append((agency, region, "county_department"))

    town_county, town_names = _child_names(rng, rng.integers(6, 22, len(county_city)))
    kind = rng.choice(["镇人民政府", "乡人民政府", "街道办事处"], len(town_county), p=[0.55, 0.2, 0.25])
    idx = pa.array(town_county)
    blocks.append((_join(county_short.take(idx), town_names, pa.array(kind)), county_region.take(idx), "township"))

    return Roster(
        pa.concat_arrays([b[0] for b in blocks]),
        pa.concat_arrays([b[1] for b in blocks]),
        np.concatenate([np.full(len(b[0]), LV[b[2]], dtype=np.int8) for b in blocks]),
    )


# --- What they report: plausible distributions by level ---------------------------------------


def _by_level(**values: float) -> np.ndarray:
    return np.array([values[k] for k in LEVEL_KEYS], dtype=float)


# Most small units receive nothing; large governments have heavy tails (lognormal).
P = {
    "app_p": _by_level(
        central_department=0.98,
        province=1,
        province_department=0.85,
        city=1,
        city_department=0.6,
        county=0.97,
        county_department=0.4,
        township=0.2,
    ),
    "app_median": _by_level(
        central_department=150,
        province=600,
        province_department=25,
        city=150,
        city_department=6,
        county=25,
        county_department=3,
        township=1.5,
    ),
    "app_sigma": _by_level(
        central_department=1.4,
        province=0.8,
        province_department=1.2,
        city=0.9,
        city_department=1.1,
        county=1,
        county_department=0.9,
        township=0.7,
    ),
    "review": _by_level(
        central_department=40,
        province=25,
        province_department=3,
        city=12,
        city_department=1,
        county=4,
        county_department=0.25,
        township=0.05,
    ),
    "rules": _by_level(
        central_department=3,
        province=5,
        province_department=0,
        city=2,
        city_department=0,
        county=0,
        county_department=0,
        township=0,
    ),
    "normative": _by_level(
        central_department=6,
        province=25,
        province_department=8,
        city=15,
        city_department=4,
        county=8,
        county_department=1.5,
        township=0.6,
    ),
    "lic_p": _by_level(
        central_department=0.7,
        province=0.3,
        province_department=0.7,
        city=0.4,
        city_department=0.55,
        county=0.5,
        county_department=0.45,
        township=0.3,
    ),
    "lic_median": _by_level(
        central_department=3000,
        province=200,
        province_department=2000,
        city=100,
        city_department=600,
        county=150,
        county_department=150,
        township=20,
    ),
    "pun_p": _by_level(
        central_department=0.4,
        province=0.1,
        province_department=0.6,
        city=0.2,
        city_department=0.5,
        county=0.3,
        county_department=0.4,
        township=0.35,
    ),
    "pun_median": _by_level(
        central_department=50,
        province=20,
        province_department=300,
        city=30,
        city_department=200,
        county=50,
        county_department=60,
        township=10,
    ),
    "fee_p": _by_level(
        central_department=0.3,
        province=0.2,
        province_department=0.4,
        city=0.3,
        city_department=0.35,
        county=0.4,
        county_department=0.25,
        township=0.1,
    ),
    "fee_median": _by_level(
        central_department=2000,
        province=500,
        province_department=800,
        city=300,
        city_department=100,
        county=150,
        county_department=30,
        township=5,
    ),
    "items": _by_level(
        central_department=60,
        province=30,
        province_department=80,
        city=40,
        city_department=30,
        county=40,
        county_department=15,
        township=5,
    ),
    # Late adopters printing the 2019 tables in 2021+ reports are commoner in small units.
    "late_2019": _by_level(
        central_department=0.01,
        province=0,
        province_department=0.02,
        city=0.01,
        city_department=0.03,
        county=0.03,
        county_department=0.05,
        township=0.08,
    ),
}
SINGLE_ROW_SHARE = 0.08  # 2021-format reports printing (六)其他处理 as one row
APPLICANT_SHARES = np.array([0.86, 0.09, 0.004, 0.006, 0.02, 0.02])
RESULT_SHARES = np.array(
    [
        0.38,
        0.07,
        0.004,
        0.006,
        0.004,
        0.012,
        0.01,
        0.012,
        0.004,
        0.01,
        0.21,
        0.05,
        0.02,
        0.05,
        0.03,
        0.004,
        0.006,
        0.01,
        0.012,
        0.006,
        0.08,
    ]
)
RESULT_SHARES = RESULT_SHARES / RESULT_SHARES.sum()
REVIEW_SHARES = np.array([0.55, 0.12, 0.23, 0.10])
REVIEW_GROUP_FACTORS = (1.0, 0.7, 0.25)
FEE_CLEAN_CAP = 90_000  # 万元, safely under RL.FEE_MAGNITUDE_LIMIT_10K_YUAN


@dataclass
class Block:
    """One statutory table of one chunk: column-major int64 values and a null mask."""

    columns: tuple[str, ...]
    data: np.ndarray  # (len(columns), rows); fees in millionths of 万元
    null: np.ndarray

    def __post_init__(self):
        self.index = {c: i for i, c in enumerate(self.columns)}

    def values(self, column: str, rows: np.ndarray) -> np.ndarray:
        """Float values of a column at rows, NaN where null (exact: all values are far below 2**53)."""
        j = self.index[column]
        return np.where(self.null[j, rows], np.nan, self.data[j, rows].astype(float))


def _heavy(rng, p: np.ndarray, median: np.ndarray, sigma: float = 1.7, cap: int = 5_000_000) -> np.ndarray:
    """Zero with probability 1-p, else a lognormal count: a heavy tail."""
    v = np.where(rng.random(len(p)) < p, np.ceil(rng.lognormal(np.log(np.maximum(median, 1e-9)), sigma)), 0)
    return np.minimum(v, cap).astype(np.int64)


def _amount(rng, p: np.ndarray, median: np.ndarray) -> np.ndarray:
    """An amount in 万元 to the 元 (4 decimals), as millionths, kept under FEE_CLEAN_CAP."""
    v = np.where(rng.random(len(p)) < p, rng.lognormal(np.log(median), 1.8), 0.0)
    return _micro(np.where(v > FEE_CLEAN_CAP, rng.uniform(FEE_CLEAN_CAP / 10, FEE_CLEAN_CAP, len(p)), v))


def _applications(rng, lv: np.ndarray, single: np.ndarray, carried: np.ndarray | None = None) -> Block:
    """Table 三: R1, R2, R3 and R7 hold by construction (F <= N + B, T = N + B - F = sum of results).
    `carried` (reports x applicant parts) is last year's 结转下年度 of each agency, so R11 holds too."""
    m = len(lv)
    has = rng.random(m) < P["app_p"][lv]
    n = np.where(has, np.ceil(rng.lognormal(np.log(P["app_median"][lv]), P["app_sigma"][lv])), 0)
    new = rng.multinomial(np.minimum(n, 500_000).astype(np.int64), APPLICANT_SHARES)
    if carried is None:  # the first year of a corpus: last year's report is not in it
        carried = rng.binomial(new, 0.04)
    forward = rng.binomial(new + carried, 0.05)
    results = rng.multinomial(new + carried - forward, RESULT_SHARES)  # (m, 6, 21)
    rows = len(S.APPLICATION_ROW_KEYS_SUBROWS)
    cells = np.empty((rows + 1, len(S.APPLICANT_COLUMNS), m), dtype=np.int64)  # rows x applicants x reports
    cells[0, :-1], cells[1, :-1] = new.T, carried.T
    cells[2 : rows - 2, :-1] = results.transpose(2, 1, 0)
    cells[rows - 2, :-1] = cells[2 : rows - 2, :-1].sum(axis=0)
    cells[rows - 1, :-1] = forward.T
    cells[rows, :-1] = cells[rows - 5 : rows - 2, :-1].sum(axis=0)  # (六) as one row: its three sub-rows
    cells[:, -1] = cells[:, :-1].sum(axis=1)
    data = cells.reshape(-1, m)
    cols = S.APPLICATION_COLUMNS
    null = np.zeros(data.shape, dtype=bool)
    index = {c: i for i, c in enumerate(cols)}
    sub = [index[S.app_col(r, a)] for r in S.OTHER_SUB_ROWS for a, _ in S.APPLICANT_COLUMNS]
    one = [index[S.app_col(S.OTHER_SINGLE_ROW.key, a)] for a, _ in S.APPLICANT_COLUMNS]
    null[np.ix_(sub, np.flatnonzero(single))] = True
    null[np.ix_(one, np.flatnonzero(~single))] = True
    return Block(cols, data, null)


def _review(rng, lv: np.ndarray) -> Block:
    """Table 四: each group's total is the sum of its four outcomes (R4)."""
    m, groups = len(lv), []
    for factor in REVIEW_GROUP_FACTORS:
        cases = rng.poisson(P["review"][lv] * factor * rng.lognormal(0, 1, m))
        outcomes = rng.multinomial(cases, REVIEW_SHARES)
        groups.append(np.column_stack([outcomes, cases]))
    data = np.ascontiguousarray(np.concatenate(groups, axis=1).T)
    return Block(S.REVIEW_COLUMNS, data, np.zeros(data.shape, dtype=bool))


IN_FORCE = {"rules": 20, "normative": 6}  # 现行有效 at the start, in years' worth of 制发
REPEALED = {"rules": 1 / 3, "normative": 0.4}  # 废止 a year, per 制发


def _active(rng, lv: np.ndarray, v2019: np.ndarray, in_force: dict[str, np.ndarray] | None = None) -> Block:
    """Table 二 in both layouts; the columns of the other format version are null. 现行有效 follows
    last year's (`in_force`, kept whichever format was printed): in_force + 制发 − 废止, so R12 holds."""
    rules, norm, items = P["rules"][lv], P["normative"][lv], P["items"][lv]
    col: dict[str, np.ndarray] = {}
    for kind, lam in (("rules", rules), ("normative", norm)):
        prev = rng.poisson(lam * IN_FORCE[kind]) if in_force is None else in_force[kind]
        col[f"{kind}_issued"] = rng.poisson(lam)
        col[f"{kind}_repealed"] = np.minimum(rng.poisson(lam * REPEALED[kind]), prev + col[f"{kind}_issued"])
        col[f"{kind}_in_force"] = prev + col[f"{kind}_issued"] - col[f"{kind}_repealed"]
    col["licensing_decisions"] = _heavy(rng, P["lic_p"][lv], P["lic_median"][lv])
    col["punishment_decisions"] = _heavy(rng, P["pun_p"][lv], P["pun_median"][lv])
    col["enforcement_decisions"] = _heavy(rng, P["pun_p"][lv] / 2, P["pun_median"][lv] / 5)
    col["fees_10k_yuan"] = _amount(rng, P["fee_p"][lv], P["fee_median"][lv])
    for kind, lam in (("rules", rules), ("normative", norm)):
        made = rng.poisson(lam)
        col[f"v2019_{kind}_made"] = made
        col[f"v2019_{kind}_published"] = rng.binomial(made, 0.9)
        col[f"v2019_{kind}_published_total"] = col[f"v2019_{kind}_published"] + rng.poisson(lam * 15)
    for item, factor in (
        ("licensing", 1),
        ("other_services", 0.5),
        ("punishment", 3),
        ("enforcement", 0.6),
        ("fees", 0.15),
    ):
        prev = rng.poisson(items * factor)
        col[f"v2019_{item}_prev_items"] = prev
        col[f"v2019_{item}_change"] = rng.poisson(prev) - prev  # signed; prev + change >= 0 (R8)
    col["v2019_licensing_decisions"] = _heavy(rng, P["lic_p"][lv], P["lic_median"][lv])
    col["v2019_other_services_decisions"] = _heavy(rng, P["lic_p"][lv] / 2, P["lic_median"][lv] / 4)
    col["v2019_punishment_decisions"] = _heavy(rng, P["pun_p"][lv], P["pun_median"][lv])
    col["v2019_enforcement_decisions"] = _heavy(rng, P["pun_p"][lv] / 2, P["pun_median"][lv] / 5)
    col["v2019_procurement_items"] = rng.poisson(items / 2)
    col["v2019_procurement_amount"] = _amount(rng, P["fee_p"][lv] * 2, P["fee_median"][lv] * 3)
    cols = S.ACTIVE_COLUMNS
    data = np.stack([np.asarray(col[c], dtype=np.int64) for c in cols])
    is19 = np.array([c.startswith("v2019_") for c in cols])
    null = np.where(is19[:, None], ~v2019[None, :], v2019[None, :])
    return Block(cols, data, null)


# --- Injected errors ---------------------------------------------------------------------------

KINDS = {
    "applications": ("identity-broken", "negative-count", "blank-cell", "carried-forward-exceeds"),
    "review_litigation": ("identity-broken", "negative-count", "blank-cell"),
    "active_disclosure": (
        "negative-count",
        "blank-cell",
        "fee-in-yuan",
        "negative-fee",
        "rules-at-township",
        "items-below-zero",
    ),
}
COUNTS_2021 = RL.RULES_BY_ID["R5.active_disclosure"].columns
COUNTS_2019 = RL.RULES_BY_ID["R5.active_disclosure_2019"].columns
CELLS_2021 = tuple(c for _, _, c, _ in S.ACTIVE_2021)
CELLS_2019 = tuple(c for _, _, c, _ in S.ACTIVE_2019)
RULE_CELLS = {
    S.FORMAT_2021: RL.RULES_BY_ID["R10.rules"].columns,
    S.FORMAT_2019: RL.RULES_BY_ID["R10.rules_2019"].columns,
}
ITEMS_2019 = ("licensing", "other_services", "punishment", "enforcement", "fees")
APP_PRESENT = {
    False: tuple(S.app_col(r, a) for r in S.APPLICATION_ROW_KEYS_SUBROWS for a, _ in S.APPLICANT_COLUMNS),
    True: tuple(S.app_col(r, a) for r in S.APPLICATION_ROW_KEYS_SINGLE for a, _ in S.APPLICANT_COLUMNS),
}


def _choose(rng, options: tuple[str, ...], n: int) -> np.ndarray:
    """n column names drawn uniformly from options."""
    return np.asarray(options, dtype=object)[rng.integers(0, len(options), n)]


def _by_version(rng, v2019: np.ndarray, options21: tuple[str, ...], options19: tuple[str, ...]) -> np.ndarray:
    """A column per row from the options of its format version."""
    return np.where(v2019, _choose(rng, options19, len(v2019)), _choose(rng, options21, len(v2019)))


def _eligible(table: str, v2019: np.ndarray, township: np.ndarray) -> np.ndarray:
    """Which injection kinds fit each row (rows x kinds)."""
    ok = np.ones((len(v2019), len(KINDS[table])), dtype=bool)
    if table == "active_disclosure":
        k = KINDS[table].index
        ok[:, k("fee-in-yuan")] = ok[:, k("negative-fee")] = ~v2019
        ok[:, k("rules-at-township")] = township
        ok[:, k("items-below-zero")] = v2019
    return ok


def _target_cells(rng, table: str, kind: str, v2019: np.ndarray, single: np.ndarray) -> np.ndarray:
    """The cell each injection of this kind modifies (always one that is printed, never a null)."""
    n = len(v2019)
    if table == "applications":
        if kind == "carried-forward-exceeds":
            return _choose(rng, tuple(S.app_col("carried_forward", a) for a, _ in S.APPLICANT_COLUMNS), n)
        return np.where(single, _choose(rng, APP_PRESENT[True], n), _choose(rng, APP_PRESENT[False], n))
    if table == "review_litigation":
        return _choose(rng, S.REVIEW_COLUMNS, n)
    if kind == "negative-count":
        return _by_version(rng, v2019, COUNTS_2021, COUNTS_2019)
    if kind == "blank-cell":
        return _by_version(rng, v2019, CELLS_2021, CELLS_2019)
    if kind == "rules-at-township":
        return _by_version(rng, v2019, RULE_CELLS[S.FORMAT_2021], RULE_CELLS[S.FORMAT_2019])
    if kind == "items-below-zero":
        return _choose(rng, tuple(f"v2019_{i}_change" for i in ITEMS_2019), n)
    return np.full(n, "fees_10k_yuan", dtype=object)


def _micro(amount_10k_yuan: np.ndarray) -> np.ndarray:
    """Amounts in 万元, rounded to the 元, as exact integer millionths."""
    return np.rint(np.round(amount_10k_yuan, 4) * MICRO).astype(np.int64)


def _modify(rng, block: Block, kind: str, rows: np.ndarray, cells: np.ndarray) -> None:
    """Apply one injection of `kind` to (cell, row) pairs, in place."""
    j = np.array([block.index[c] for c in cells], dtype=np.int64)
    k = rng.integers(1, 10, len(rows))
    v = block.data[j, rows]
    if kind == "blank-cell":
        block.null[j, rows] = True
        return
    if kind == "identity-broken":
        v = v + k
    elif kind == "negative-count":
        v = -k
    elif kind == "rules-at-township":
        v = k
    elif kind == "carried-forward-exceeds":  # F beyond N + B: more than the column's total T
        total = block.data[[block.index[c.replace("carried_forward", "total", 1)] for c in cells], rows]
        v = v + total + k
    elif kind == "fee-in-yuan":  # typed in 元, from a fee large enough for the slip to show
        shows = RL.FEE_MAGNITUDE_LIMIT_10K_YUAN * MICRO // YUAN_PER_10K
        v = np.where(v > shows, v, _micro(rng.uniform(shows / MICRO + 0.01, 5000, len(rows)))) * YUAN_PER_10K
    elif kind == "negative-fee":
        v = -_micro(rng.uniform(0.01, 500, len(rows)))
    elif kind == "items-below-zero":  # 本年增/减 removing more items than existed
        prev = block.data[[block.index[c.replace("_change", "_prev_items")] for c in cells], rows]
        v = -(prev + k)
    block.data[j, rows] = v


# --- Ground truth: the rules an injection breaks -----------------------------------------------


def violated(rule: RL.Rule, block: Block, rows: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Where `rule` fails on block[rows] (format version aside): nulls never fail, they are R9's."""

    def val(c: str) -> np.ndarray:
        return block.values(c, rows)

    zero = np.zeros(len(rows))
    if rule.kind == "identity":
        lhs = sum((val(c) for c in rule.left), zero)
        rhs = sum((val(c) for c in rule.right if c not in rule.alt_group), zero)
        if rule.alt_group:
            group = [val(c) for c in rule.alt_group]
            rhs = rhs + np.where(np.all(np.isnan(group), axis=0), val(rule.alt_column), sum(group))
        holds = {"==": lhs == rhs, "<=": lhs <= rhs, ">=": lhs >= rhs}[rule.op]
        return ~holds & ~np.isnan(lhs) & ~np.isnan(rhs)
    if rule.kind == "non_negative":  # int64 columns: integral by type
        return np.any([val(c) < 0 for c in rule.columns], axis=0)
    if rule.kind == "present":
        bad = [np.isnan(val(c)) for c in rule.columns]
        for alt in rule.params.get("alternatives", []):
            group_present = ~np.any(np.isnan([val(c) for c in alt["group"]]), axis=0)
            bad.append(~group_present & np.isnan(val(alt["single"])))
        return np.any(bad, axis=0)
    if rule.kind == "fee_range":
        v = val(rule.columns[0])
        low, high = rule.params.get("min_value"), rule.params.get("max_value")
        return ((v < low * MICRO) if low is not None else False) | ((v > high * MICRO) if high is not None else False)
    if rule.kind == "zero_for_levels":
        at = np.isin(level, [LV[x] for x in rule.params["levels"]])
        return at & np.any([np.nan_to_num(val(c)) != 0 for c in rule.columns], axis=0)
    raise ValueError(f"rule {rule.id}: unknown kind {rule.kind!r}")


def _truth(
    table: str,
    block: Block,
    rows: np.ndarray,
    kinds: np.ndarray,
    cells: np.ndarray,
    versions: np.ndarray,
    level: np.ndarray,
    ids: np.ndarray,
) -> pa.Table:
    """Every (report, rule) the injections into `table` at `rows` break; each injection breaks one at least."""
    parts, hit = [], np.zeros(len(rows), dtype=bool)
    for rule in (r for r in RL.RULES if r.table == table and r.id.split(".")[0] not in CY.FAMILIES):
        bad = np.isin(versions[rows], rule.versions) & violated(rule, block, rows, level[rows])
        hit |= bad
        if bad.any():
            parts.append(
                pa.table(
                    {
                        "report_id": ids[rows[bad]],
                        "rule_id": np.full(bad.sum(), rule.id, dtype=object),
                        "injected": kinds[bad],
                        "cell": cells[bad],
                    }
                )
            )
    if not hit.all():
        i = int(np.flatnonzero(~hit)[0])
        raise RuntimeError(f"synth: injection {kinds[i]} into {table}.{cells[i]} of {ids[rows[i]]} breaks no rule")
    return pa.concat_tables([p.cast(TRUTH_SCHEMA) for p in parts]) if parts else TRUTH_SCHEMA.empty_table()


# --- One chunk ---------------------------------------------------------------------------------


def _report_ids(agency: pa.Array, region: pa.Array, year: np.ndarray) -> np.ndarray:
    """schema.report_id_for for every row, computed by DuckDB's sha256 (same key, same digest)."""
    t = pa.table({"a": agency, "r": pc.fill_null(region, ""), "y": pa.array(year)})  # noqa: F841 (read by SQL)
    con = duck.connect()
    out = con.sql("SELECT 'R' || upper(substr(sha256(r || '|' || a || '|' || CAST(y AS VARCHAR)), 1, 16)) FROM t")
    return out.to_arrow_table().column(0).to_numpy(zero_copy_only=False).astype(object)


def _decimal(micro: np.ndarray, null: np.ndarray) -> pa.Array:
    """decimal128(20,6) from integer millionths, built from buffers (two's complement, little-endian)."""
    words = np.empty((len(micro), 2), dtype=np.int64)
    words[:, 0], words[:, 1] = micro, micro >> 63
    validity = pa.array(~null).buffers()[1] if null.any() else None
    return pa.Array.from_buffers(S.FEE_TYPE, len(micro), [validity, pa.py_buffer(words)], null_count=int(null.sum()))


def _to_arrow(block: Block, ids: np.ndarray, versions: np.ndarray, schema: pa.Schema) -> pa.Table:
    """The block as a table of the contract's schema."""
    arrays = [pa.array(ids, pa.string()), pa.array(versions, pa.string())]
    for f in list(schema)[2:]:
        j = block.index[f.name]
        arrays.append(
            _decimal(block.data[j], block.null[j])
            if f.type == S.FEE_TYPE
            else pa.array(block.data[j], mask=block.null[j])
        )
    return pa.Table.from_arrays(arrays, schema=schema)


def _reports(ids, roster: Roster, year, versions, single) -> pa.Table:
    """The reports table of a chunk: every synthetic report parsed whole."""
    n = len(ids)
    v21 = versions == S.FORMAT_2021
    at = (year + 1).astype(str).astype(object) + "-04-01T00:00:00"  # deterministic: after the 3月31日 deadline
    columns = {
        "report_id": pa.array(ids, pa.string()),
        "agency": roster.agency,
        "region": roster.region,
        "level": pa.array(np.asarray(LEVEL_KEYS, dtype=object)[roster.level], pa.string()),
        "year": pa.array(year, pa.int32()),
        "format_version": pa.array(versions, pa.string()),
        "format_deviations": pa.array(np.where(v21 & single, SINGLE_ROW_DEVIATION, ""), pa.string()),
        "source_file": pa.array(np.full(n, "synthetic", dtype=object), pa.string()),
        "source_sha256": pa.nulls(n, pa.string()),  # no source file exists
        "parse_status": pa.array(np.full(n, "parsed", dtype=object), pa.string()),
        "parse_reason": pa.array(np.full(n, "", dtype=object), pa.string()),
        "missing": pa.array(np.full(n, "", dtype=object), pa.string()),
        "ingested_at": pa.array(at.astype("datetime64[s]")).cast(pa.timestamp("ms", tz="UTC")),
    }
    return pa.table(
        # A column the contract gained that synthetic reports do not know (e.g. `published`) is null.
        {f.name: columns[f.name] if f.name in columns else pa.nulls(n, f.type) for f in S.REPORTS_SCHEMA},
        schema=S.REPORTS_SCHEMA,
    )


@dataclass
class Plan:
    """What to generate: the agencies (one report a year each, the same every year) and the years."""

    roster: Roster
    sample: np.ndarray  # roster positions of the agencies
    years: np.ndarray
    n: int  # reports at most: the last year lacks the agencies beyond n (a --reports corpus has exactly n)
    missing_rate: float = 0.0  # share of agency-years without a report (an agency skipping a year)

    def scheduled(self, agencies: np.ndarray) -> np.ndarray:
        """(years x agencies): which of these agencies' reports the corpus holds, before any skipped year."""
        t = np.arange(len(self.years))[:, None]
        return t * len(self.sample) + agencies[None, :] < self.n


def _sample(seed: int, per_year: int) -> tuple[Roster, np.ndarray]:
    """A national roster large enough for per_year agencies, and a random sample of them."""
    scale = 1
    while True:
        rng = np.random.default_rng([seed, 0, scale])
        roster = build_roster(rng, scale)
        if len(roster.level) >= per_year:
            return roster, rng.permutation(len(roster.level))[:per_year]
        scale += 1


def plan(n: int, seed: int, year: int) -> Plan:
    """Years covered (one unless n exceeds a national year) and a random sample of a national roster."""
    n_years = max(1, min(math.ceil(n / MAX_REPORTS_PER_YEAR), year - FIRST_FORMAT_YEAR + 1))
    roster, sample = _sample(seed, math.ceil(n / n_years))
    return Plan(roster, sample, np.arange(year - n_years + 1, year + 1), n)


def series_plan(agencies: int, seed: int, first: int, last: int, missing_rate: float = 0.0) -> Plan:
    """Every year first..last for the same sample of agencies, some skipping a year."""
    roster, sample = _sample(seed, agencies)
    years = np.arange(first, last + 1)
    return Plan(roster, sample, years, agencies * len(years), missing_rate)


@dataclass
class Rates:
    """How many errors to inject: per-report errors, and cross-year breaks (R11, R12) per linked report."""

    error_rate: float = 0.02
    errors_per_report: int = 1
    crossyear_rate: float = 0.0
    text: bool = False  # write the reports' text (the sections table) with its injected errors
    text_error_rate: float = TEXT_ERROR_RATE  # per text error kind (synth_text.TEXT_KINDS)


def _parts(block: Block, row: str) -> np.ndarray:
    """(reports x applicant parts) of one row of table 三."""
    return block.data[[block.index[S.app_col(row, a)] for a in S.APPLICANT_PARTS]].T


def _break_carried_over(rng, block: Block, rows: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """R11 breaks: 上年结转 of one column moved by d and 新收 by −d, so R1, R2, R3, R7 still hold (N + B,
    T and F unchanged) and only the link to last year's 结转下年度 fails. Rows need N + B > 0 in a column.
    Returns the changed (rows, column) pairs."""
    new, carried = _parts(block, "new")[rows], _parts(block, "carried_over")[rows]
    col = np.where((new + carried > 0), rng.random(new.shape), -1.0).argmax(axis=1)
    n, b = new[np.arange(len(rows)), col], carried[np.arange(len(rows)), col]
    up = n > 0  # move a count from 新收 to 上年结转, else back
    d = 1 + (rng.random(len(rows)) * np.minimum(np.where(up, n, b), 9)).astype(np.int64)
    d = np.where(up, d, -d)
    changed = []
    for a, applicant in enumerate(S.APPLICANT_PARTS):
        sel = col == a
        for parts in ((applicant,), ("total",)):
            for row, sign in (("carried_over", 1), ("new", -1)):
                c = S.app_col(row, parts[0])
                block.data[block.index[c], rows[sel]] += sign * d[sel]
                changed.append((rows[sel], c))
    return changed


def _break_in_force(rng, block: Block, rows: np.ndarray, lv: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """R12 breaks: 现行有效 of 规章 (where the level may make them, so R10 holds) or of 规范性文件 moved by d,
    never below zero. The agency counts on from the new figure, so only this year's link fails."""
    rules = (rng.random(len(rows)) < 0.5) & ~np.isin(lv[rows], [LV[x] for x in S.LEVELS_WITHOUT_RULE_MAKING])
    changed = []
    for kind, sel in (("rules", rules), ("normative", ~rules)):
        r, j = rows[sel], block.index[f"{kind}_in_force"]
        d = rng.integers(1, 10, len(r))
        down = (rng.random(len(r)) < 0.5) & (block.data[j, r] >= d)
        block.data[j, r] += np.where(down, -d, d)
        changed.append((r, f"{kind}_in_force"))
    return changed


@dataclass
class Years:
    """One chunk's reports, every year of its agencies, year by year: the kept rows concatenated."""

    blocks: dict[str, list[tuple[Block, np.ndarray]]] = field(default_factory=lambda: {t: [] for t in STATUTORY})
    agency: list[np.ndarray] = field(default_factory=list)  # positions in the plan's sample
    year: list[np.ndarray] = field(default_factory=list)
    v2019: list[np.ndarray] = field(default_factory=list)
    single: list[np.ndarray] = field(default_factory=list)
    broken: list[np.ndarray] = field(default_factory=list)  # a cross-year break was injected
    changes: list[tuple[np.ndarray, str, str]] = field(default_factory=list)  # (rows, column, kind)
    rows: int = 0

    def keep(self, keep: np.ndarray, blocks: dict[str, Block], agency, year, v2019, single, broken) -> None:
        """Keep the rows `keep` of one year (changes already recorded use the year's row numbers)."""
        for t, b in blocks.items():
            self.blocks[t].append((b, keep))
        for name, v in (("agency", agency), ("v2019", v2019), ("single", single), ("broken", broken)):
            getattr(self, name).append(v[keep])
        self.year.append(np.full(int(keep.sum()), year))
        self.rows += int(keep.sum())

    def joined(self, table: str) -> Block:
        """The kept rows of every year as one block, in C order: each column's values contiguous, as
        Arrow takes them without a copy (10x faster than a strided column). Once: the years' blocks go."""
        parts, self.blocks[table] = self.blocks[table], []
        first = parts[0][0]
        data = np.empty((len(first.columns), self.rows), dtype=first.data.dtype)
        null = np.empty((len(first.columns), self.rows), dtype=bool)
        at = 0
        for b, keep in parts:
            n = int(keep.sum())
            whole = n == len(keep)  # the usual case: no copy of the year's block before this one
            data[:, at : at + n] = b.data if whole else b.data[:, keep]
            null[:, at : at + n] = b.null if whole else b.null[:, keep]
            at += n
        return Block(first.columns, data, null)


def _years(p: Plan, rng, agencies: np.ndarray, crossyear_rate: float) -> Years:
    """Clean reports of every year for these agencies, carried from year to year (R11, R12 hold), with
    the cross-year breaks injected; agency-years without a report are generated (the counts go on) but not kept."""
    lv = p.roster.level[p.sample[agencies]]
    m = len(agencies)
    present = p.scheduled(agencies) & (rng.random((len(p.years), m)) >= p.missing_rate)
    late = rng.random(m) < P["late_2019"][lv]  # prints the 2019 tables in every 2021+ report
    out, forward, in_force, prev_v2019 = Years(), None, None, None
    for t, year in enumerate(p.years):
        v2019 = late | (year < FIRST_2021_FORMAT_YEAR)
        single = v2019 | (rng.random(m) < SINGLE_ROW_SHARE)
        blocks = {
            "active_disclosure": _active(rng, lv, v2019, in_force),
            "applications": _applications(rng, lv, single, forward),
            "review_litigation": _review(rng, lv),
        }
        broken = np.zeros(m, dtype=bool)
        if t:
            linked = present[t] & present[t - 1] & (crossyear_rate > 0)
            apps = blocks["applications"]
            movable = (_parts(apps, "new") + _parts(apps, "carried_over")).sum(axis=1) > 0
            r11 = np.flatnonzero(linked & movable & (rng.random(m) < crossyear_rate))
            r12 = np.flatnonzero(linked & ~v2019 & ~prev_v2019 & (rng.random(m) < crossyear_rate))
            for rows, kind, changed in (
                (r11, "carried-over-broken", _break_carried_over(rng, apps, r11)),
                (r12, "in-force-broken", _break_in_force(rng, blocks["active_disclosure"], r12, lv)),
            ):
                broken[rows] = True
                out.changes += [(out.rows + np.cumsum(present[t])[r] - 1, c, kind) for r, c in changed]
        forward = _parts(blocks["applications"], "carried_forward")
        act = blocks["active_disclosure"]
        in_force = {k: act.data[act.index[f"{k}_in_force"]].copy() for k in IN_FORCE}
        prev_v2019 = v2019
        out.keep(present[t], blocks, agencies, year, v2019, single, broken)
    return out


def _stated_totals(blocks: dict[str, Block], rows: np.ndarray, nan: bool = False) -> dict[str, np.ndarray]:
    """The tables' numbers a report's text may state (text_facts facts), and 'handled' (新收 + 上年结转);
    nan: blanks as NaN (the final tables), else the clean integers."""
    apps, rl = blocks["applications"], blocks["review_litigation"]

    def v(b: Block, c: str) -> np.ndarray:
        return b.values(c, rows) if nan else b.data[b.index[c], rows].copy()

    out = {
        TX.TF.APPLICATIONS: v(apps, "new_total"),
        TX.TF.REVIEWS: v(rl, "review_total"),
        TX.TF.LITIGATIONS: v(rl, "litigation_direct_total") + v(rl, "litigation_after_review_total"),
    }
    if not nan:
        out["handled"] = out[TX.TF.APPLICATIONS] + v(apps, "carried_over_total")
    return out


SECOND_VERSION = "second-version"
VERSIONS_RULE = "R31.versions"


def _second_versions(
    rng: np.random.Generator, ids: np.ndarray, applications: Block, eligible: np.ndarray, rate: float
) -> tuple[pa.Table, pa.Table]:
    """Another file of a few clean reports (a mirror on a second site, printed with 本年新收 总计 one
    higher): the versions table's rows, and their truth (R31)."""
    rows = np.flatnonzero(eligible & (rng.random(len(ids)) < rate))
    values = [
        json.dumps({"applications": {"new_total": None if np.isnan(v) else int(v) + 1}}, sort_keys=True)
        for v in applications.values("new_total", rows)
    ]
    n = len(rows)
    versions = pa.table(
        {
            "report_id": pa.array(ids[rows], pa.string()),
            "source_file": pa.array([f"synthetic/mirror/{r}.html" for r in ids[rows]], pa.string()),
            "source_sha256": pa.array([f"{r}-mirror" for r in ids[rows]], pa.string()),
            "parse_status": pa.array(np.full(n, "parsed", dtype=object), pa.string()),
            "current_source_file": pa.array(np.full(n, "synthetic", dtype=object), pa.string()),
            "differing": pa.array(np.full(n, "applications.new_total", dtype=object), pa.string()),
            "statutory_values": pa.array(values, pa.string()),
            "recorded_at": pa.nulls(n, pa.timestamp("ms", tz="UTC")),
        },
        schema=S.TABLE_SCHEMAS["versions"],
    )
    truth = pa.table(
        {
            "report_id": pa.array(ids[rows], pa.string()),
            "rule_id": pa.array(np.full(n, VERSIONS_RULE, dtype=object), pa.string()),
            "injected": pa.array(np.full(n, SECOND_VERSION, dtype=object), pa.string()),
            "cell": pa.array(np.full(n, "applications.new_total", dtype=object), pa.string()),
        }
    ).cast(TRUTH_SCHEMA)
    return versions, truth


def _chunk(
    p: Plan, seed: int, k: int, agencies: np.ndarray, rates: Rates
) -> tuple[dict[str, pa.Table], pa.Table, pa.Table, dict[str, int]]:
    """Tables, truth, cross-year truth and injection counts of these agencies' reports."""
    rng = np.random.default_rng([seed, 1, k])
    y = _years(p, rng, agencies, rates.crossyear_rate)
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0)
    ag, year, v2019, single = cat(y.agency), cat(y.year), cat(y.v2019).astype(bool), cat(y.single).astype(bool)
    reporting = p.roster.take(p.sample[ag.astype(np.int64)])
    n, lv = len(year), reporting.level
    versions = np.where(v2019, S.FORMAT_2019, S.FORMAT_2021).astype(object)
    blocks = {t: y.joined(t) for t in STATUTORY}
    ids = _report_ids(reporting.agency, reporting.region, year)
    clean = _stated_totals(blocks, np.arange(n)) if rates.text else None
    table_hits: dict[str, dict[int, tuple]] = {}
    counts: dict[str, int] = {}
    changes = []
    for rows, column, kind in y.changes:
        changes.append((ids[rows], column, kind))
        if column in ("carried_over_total", "rules_in_force", "normative_in_force"):  # one per break
            counts[kind] = counts.get(kind, 0) + len(rows)

    injected = np.flatnonzero((rng.random(n) < rates.error_rate) & ~cat(y.broken).astype(bool))
    tables_hit = np.argsort(rng.random((len(injected), len(STATUTORY))), axis=1)[:, : rates.errors_per_report]
    truth = []
    for t, table in enumerate(STATUTORY):
        rows = injected[(tables_hit == t).any(axis=1)]
        ok = _eligible(table, v2019[rows], lv[rows] == LV["township"])
        pick = np.where(ok, rng.random(ok.shape), -1.0).argmax(axis=1)
        kinds = np.asarray(KINDS[table], dtype=object)[pick]
        cells = np.empty(len(rows), dtype=object)
        for i, kind in enumerate(KINDS[table]):
            sel = pick == i
            if sel.any():
                cells[sel] = _target_cells(rng, table, kind, v2019[rows[sel]], single[rows[sel]])
                _modify(rng, blocks[table], kind, rows[sel], cells[sel])
                counts[kind] = counts.get(kind, 0) + int(sel.sum())
        truth.append(_truth(table, blocks[table], rows, kinds, cells, versions, lv, ids))
        changes += [(ids[rows], cells, kinds)]
        table_hits[table] = dict(zip(rows.tolist(), zip(kinds.tolist(), cells.tolist())))

    out = {"reports": _reports(ids, reporting, year, versions, single)}
    for table in STATUTORY:
        out[table] = _to_arrow(blocks[table], ids, versions, S.TABLE_SCHEMAS[table])
    if rates.text:
        key = ag.astype(np.int64) * 10_000 + year.astype(np.int64)
        before_break = np.isin(key, key[cat(y.broken).astype(bool)] - 1)
        x = TX.Inputs(ids, reporting.agency, ag.astype(np.int64), year.astype(np.int64), clean, single, before_break)
        eligible = np.ones(n, dtype=bool)
        eligible[injected] = False
        eligible &= ~cat(y.broken).astype(bool)
        text = TX.generate(seed, k, x, eligible, rates.text_error_rate)
        out["sections"] = text.sections
        changes += _unread_tables(out, text.choices, ids, blocks["applications"], single)
        final = {f: v.astype(float) for f, v in _stated_totals(blocks, np.arange(n), nan=True).items()}
        for fact, table in TX.FACT_TABLES.items():  # a table not read states no total
            final[fact][text.choices.table_missing == table] = np.nan
        truth.append(TX.truth(text, x, final, table_hits).cast(TRUTH_SCHEMA))
        for kind in TX.TEXT_KINDS:
            counts[kind] = counts.get(kind, 0) + int((text.choices.kind == kind).sum())
        whole = ~np.isin(text.choices.kind, (TX.TABLE_MISSING, TX.FORMAT_UNMATCHED))  # its tables all read
        out["versions"], second = _second_versions(
            rng, ids, blocks["applications"], eligible & whole, rates.text_error_rate
        )
        truth.append(second)
        counts[SECOND_VERSION] = second.num_rows
    crossyear = CY.evaluate(out, CY.changes_table(changes)) if len(p.years) > 1 else CY.SCHEMA.empty_table()
    truth.append(CY.failures(crossyear).cast(TRUTH_SCHEMA))
    counts[CY.MISSING_YEAR] = CY.count(crossyear, CY.MISSING_YEAR)
    counts["_reports"] = len(injected)
    return out, pa.concat_tables(truth), crossyear, counts


# As nianbao.parse.core (_missing, _outcome) and nianbao.ingest_file write a report whose tables were not
# all read: partial, the missing tables by their JSON names, no row in them (tests/test_synth_text.py
# parses real reports so edited and compares).
PARSE_NAMES = {"active_disclosure": "active", "applications": "applications", "review_litigation": "review_litigation"}
UNKNOWN_FORMAT_REASON = "unknown-format: 表二缺少可识别的表头,无法判定是 2021 格式还是 2019 (试行) 格式"


def _one_row(apps: pa.Table, block: Block, rows: np.ndarray) -> pa.Table:
    """Table 三 with (六)其他处理 printed as one row at `rows`, its three sub-rows blank: the block holds
    both forms (the null mask says which one a report prints)."""
    at, blank = pa.array(rows), pa.scalar(None, pa.int64())
    for a, _ in S.APPLICANT_COLUMNS:
        one = S.app_col(S.OTHER_SINGLE_ROW.key, a)
        apps = _set(apps, one, pc.if_else(at, pa.array(block.data[block.index[one]]), apps[one]))
        for r in S.OTHER_SUB_ROWS:
            name = S.app_col(r, a)
            apps = _set(apps, name, pc.if_else(at, blank, apps[name]))
    return apps


def _set(table: pa.Table, name: str, column) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, column)


def _unread_tables(
    out: dict[str, pa.Table], c: TX.Choices, ids: np.ndarray, applications: Block, single: np.ndarray
) -> list[tuple]:
    """Apply the text kinds that change the tables, as an ingest records such a report: a statutory table
    missing (no row in it; partial, `tables-incomplete`), or table 二 unreadable so no format version is
    known (no table 二 row, (六) printed as one row, format_version null on the report and its tables;
    partial, `unknown-format`). Returns the cross-year operands left blank, as (report ids, column, kind)."""
    unmatched = c.format_unmatched
    if (unmatched & ~single).any():
        out["applications"] = _one_row(out["applications"], applications, unmatched & ~single)
    lacks = {t: (c.table_missing == t) | (unmatched & (t == "active_disclosure")) for t in STATUTORY}
    partial = unmatched | (c.table_missing != "")
    if not partial.any():
        return []
    operands = {o[2] for o in CY.operands()}
    changes = []
    for table in STATUTORY:
        keep = ~lacks[table]
        t = out[table].filter(pa.array(keep))
        if unmatched.any():
            version = pc.if_else(pa.array(unmatched[keep]), pa.scalar(None, pa.string()), t["format_version"])
            t = _set(t, "format_version", version)
        out[table] = t
        for column in (col for col in S.TABLE_SCHEMAS[table].names if col in operands):
            kind = np.where(unmatched, TX.FORMAT_UNMATCHED, TX.TABLE_MISSING)[lacks[table]]
            changes.append((ids[lacks[table]], column, kind))
    reports = out["reports"]
    missing = np.where(unmatched, PARSE_NAMES["active_disclosure"], "").astype(object)
    for table, name in PARSE_NAMES.items():
        missing[c.table_missing == table] = name
    reason = np.where(unmatched, UNKNOWN_FORMAT_REASON, "tables-incomplete: 缺少 " + missing.astype(str)).astype(object)
    null = pa.scalar(None, pa.string())
    updates = {
        "format_version": pc.if_else(pa.array(unmatched), null, reports["format_version"]),
        # the (六)-as-one-row deviation is read from table 三 of a 2021 report: none without either
        "format_deviations": pc.if_else(pa.array(unmatched | lacks["applications"]), "", reports["format_deviations"]),
        "parse_status": pc.if_else(pa.array(partial), "partial", reports["parse_status"]),
        "parse_reason": pc.if_else(pa.array(partial), pa.array(reason, pa.string()), reports["parse_reason"]),
        "missing": pc.if_else(pa.array(partial), pa.array(missing, pa.string()), reports["missing"]),
    }
    for name, column in updates.items():
        reports = _set(reports, name, column)
    out["reports"] = reports
    return changes


# --- The corpus --------------------------------------------------------------------------------


@dataclass
class SynthSummary:
    out_dir: Path
    reports: int
    years: list[int]
    injected_reports: int
    truth_rows: int
    injections: dict[str, int] = field(default_factory=dict)
    files: int = 0
    seconds: float = 0.0
    crossyear_rows: dict[str, int] = field(default_factory=dict)  # R11/R12 truth rows by status


def _clear(out: Path) -> None:
    """Remove an earlier synthetic corpus (synth-*.parquet and the truth); other writers' files stay."""
    for table in S.TABLE_SCHEMAS:
        for f in (out / table).glob("synth-*.parquet"):
            f.unlink()
    (out / "_truth" / "truth.parquet").unlink(missing_ok=True)
    (out / CY.TRUTH_FILE).unlink(missing_ok=True)


def _check_rates(error_rate: float, errors_per_report: int, chunk: int, out: Path, **other: float) -> None:
    """Raise ValueError naming the bad argument."""
    for name, rate in {"--error-rate": error_rate, **other}.items():
        if not 0 <= rate <= 1:
            raise ValueError(f"{name} must be between 0 and 1, got {rate}")
    if not 1 <= errors_per_report <= len(STATUTORY):
        raise ValueError(f"errors per report must be 1 to {len(STATUTORY)} (one per table), got {errors_per_report}")
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")


def _check_text_rate(rate: float) -> None:
    """Each text error kind is drawn at `rate`, one per report at most: together at most 1."""
    if not 0 <= rate * len(TX.TEXT_KINDS) <= 1:
        raise ValueError(f"--text-error-rate must be between 0 and {1 / len(TX.TEXT_KINDS):.3f}, got {rate}")


def _check_arguments(n: int, out: Path, error_rate: float, errors_per_report: int, chunk: int) -> None:
    """Raise ValueError naming the bad argument."""
    if n < 1:
        raise ValueError(f"--reports must be at least 1, got {n}")
    _check_rates(error_rate, errors_per_report, chunk, out)


def _write(p: Plan, out: Path, seed: int, rates: Rates, chunk: int, started: float) -> SynthSummary:
    """Generate the plan chunk by chunk: each chunk holds every year of its agencies (so the cross-year
    truth is evaluated within it) and about `chunk` reports."""
    for table in (*S.TABLE_SCHEMAS, "_truth"):
        (out / table).mkdir(parents=True, exist_ok=True)
    _clear(out)
    per_chunk = max(1, chunk // len(p.years))
    truth, crossyear, counts, files, reports = [], [], {}, 0, 0
    for k, start in enumerate(range(0, len(p.sample), per_chunk)):
        agencies = np.arange(start, min(start + per_chunk, len(p.sample)))
        tables, t, cy, c = _chunk(p, seed, k, agencies, rates)
        written = set(tables)
        for table, data in tables.items():
            # the text compresses to half with zstd (measured: 24 against 47 MB at 100,000 reports)
            codec = "zstd" if table == "sections" else "snappy"
            pq.write_table(data, out / table / f"synth-{seed}-{k:05d}.parquet", compression=codec)
            files += 1
        reports += tables["reports"].num_rows
        truth.append(t)
        crossyear.append(cy)
        for kind, v in c.items():
            counts[kind] = counts.get(kind, 0) + v
    # Readers glob <table>/*.parquet: an empty file of each side table the corpus has no rows for keeps that
    # glob valid (synthetic reports print no cell text, have no other versions, and without --text no text).
    empty = [t for t in S.TABLE_SCHEMAS if t not in written]
    for table in empty:
        pq.write_table(S.TABLE_SCHEMAS[table].empty_table(), out / table / f"synth-{seed}-00000.parquet")
    truth_table = pa.concat_tables(truth)
    pq.write_table(truth_table, out / "_truth" / "truth.parquet")
    crossyear_table = pa.concat_tables(crossyear)
    if len(p.years) > 1:  # a single year has no year pairs, hence no cross-year truth
        pq.write_table(crossyear_table, out / CY.TRUTH_FILE)
        files += 1
    injected = counts.pop("_reports", 0)
    return SynthSummary(
        out,
        reports,
        [int(y) for y in p.years],
        injected,
        truth_table.num_rows,
        {k: v for k, v in counts.items() if v},
        files + len(empty),
        time.perf_counter() - started,
        CY.by_status(crossyear_table),
    )


def generate(
    n: int,
    out_dir,
    *,
    error_rate: float = 0.02,
    seed: int = 0,
    year: int = 2024,
    chunk: int = 100_000,
    errors_per_report: int = 1,
    text: bool = False,
    text_error_rate: float = TEXT_ERROR_RATE,
) -> SynthSummary:
    """Write n synthetic reports into out_dir/<table>/synth-<seed>-<k>.parquet and the truth. Beyond one
    national year the corpus spans years, the same agencies each year, carried from year to year."""
    started = time.perf_counter()
    out = Path(out_dir)
    _check_arguments(n, out, error_rate, errors_per_report, chunk)
    _check_text_rate(text_error_rate)
    rates = Rates(error_rate, errors_per_report, text=text, text_error_rate=text_error_rate)
    return _write(plan(n, seed, year), out, seed, rates, chunk, started)


def generate_series(
    agencies: int,
    out_dir,
    *,
    first: int = FIRST_FORMAT_YEAR,
    last: int = 2025,
    error_rate: float = 0.02,
    crossyear_rate: float = 0.02,
    missing_rate: float = 0.01,
    seed: int = 0,
    chunk: int = 100_000,
    errors_per_report: int = 1,
    text: bool = True,
    text_error_rate: float = TEXT_ERROR_RATE,
) -> SynthSummary:
    """Every agency's report of every year first..last (but the skipped ones), consistent across years,
    with per-report errors, cross-year breaks (R11, R12) and the truth of both."""
    started = time.perf_counter()
    out = Path(out_dir)
    if agencies < 1:
        raise ValueError(f"--agencies must be at least 1, got {agencies}")
    if not FIRST_FORMAT_YEAR <= first <= last:
        raise ValueError(f"--series must be FIRST-LAST with {FIRST_FORMAT_YEAR} <= FIRST <= LAST, got {first}-{last}")
    _check_rates(
        error_rate,
        errors_per_report,
        chunk,
        out,
        **{"--crossyear-rate": crossyear_rate, "--missing-rate": missing_rate},
    )
    _check_text_rate(text_error_rate)
    p = series_plan(agencies, seed, first, last, missing_rate)
    rates = Rates(error_rate, errors_per_report, crossyear_rate, text, text_error_rate)
    return _write(p, out, seed, rates, chunk, started)


def parse_series(text: str) -> tuple[int, int]:
    """'2019-2025' -> (2019, 2025); one year '2024' -> (2024, 2024)."""
    first, _, last = text.partition("-")
    try:
        return int(first), int(last or first)
    except ValueError:
        raise ValueError(f"--series must be FIRST-LAST years, e.g. 2019-2025, got {text!r}") from None


def _text_options(args, default: bool) -> dict:
    """--text / --no-text (default: on for --series, off for --reports) and --text-error-rate."""
    text = getattr(args, "text", None)
    rate = getattr(args, "text_error_rate", None)
    return {"text": default if text is None else text, "text_error_rate": TEXT_ERROR_RATE if rate is None else rate}


def command(args) -> ExitCode:
    """`nianbao synth --reports N | --series 2019-2025 --agencies N, --out DIR [--error-rate R] [--seed S] ...`."""
    try:
        if getattr(args, "series", None):
            if not args.agencies:
                raise ValueError("--series needs --agencies N")
            first, last = parse_series(args.series)
            s = generate_series(
                args.agencies,
                args.out,
                first=first,
                last=last,
                error_rate=args.error_rate,
                crossyear_rate=args.crossyear_rate,
                missing_rate=args.missing_rate,
                seed=args.seed,
                errors_per_report=args.errors_per_report,
                **_text_options(args, True),
            )
        elif args.reports is None:
            raise ValueError("give --reports N, or --series FIRST-LAST with --agencies N")
        else:
            s = generate(
                args.reports,
                args.out,
                error_rate=args.error_rate,
                seed=args.seed,
                year=args.year,
                errors_per_report=args.errors_per_report,
                **_text_options(args, False),
            )
    except (ValueError, OSError) as exc:
        print(f"nianbao synth: {exc}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(s.injections.items()))
    cross = ", ".join(f"{k} {v}" for k, v in sorted(s.crossyear_rows.items()))
    print(
        f"已生成 {s.reports} 份合成报告(年度 {s.years[0]}–{s.years[-1]})于 {s.out_dir},"
        f"其中 {s.injected_reports} 份注入错误({kinds}),真值 {s.truth_rows} 行"
        + (f"(跨年度规则 R11/R12:{cross})" if cross else "")
        + f",用时 {s.seconds:.1f} 秒"
    )
    return ExitCode.OK


# --- Known errors for the localisation's evaluation ----------------------------------------------

# Errors injected into one clean report at a time, with the cells and true values they hide:
# one wrong detail cell, one wrong total, two adjacent digits swapped, a total copied from another
# cell of its row or column, two independent wrong cells.
LOCATED_ERRORS = ("detail", "total", "swap", "copy", "two")
LOCATED_TABLES = ("applications", "review_litigation")


def _located_cells(values: dict[str, dict]) -> list[tuple[str, str]]:
    """(table, cell) of every printed count the arithmetic rules read."""
    from .localise import blocks

    version = next((values[t].get("format_version") for t in LOCATED_TABLES if t in values), S.FORMAT_2021)
    out = []
    for block in blocks(version):
        row = values.get(block.table) or {}
        for rule in block.rules:
            out += [(block.table, c) for c in rule.operands if row.get(c) is not None]
    return list(dict.fromkeys(out))


def _wrong_value(rng, value: int) -> int:
    """A different non-negative count, one to nine away."""
    step = int(rng.integers(1, 10))
    return value + step if value < step or rng.random() < 0.5 else value - step


def inject_located(rng, values: dict[str, dict], kind: str) -> list[tuple[str, str, int]] | None:
    """Put one known error of `kind` into `values` (table -> {column: value}), in place; the (table, cell,
    true value) it changed, or None when the report has no cell this kind fits."""
    from .localise import totals

    cells = _located_cells(values)
    tot = [tc for tc in cells if tc[1] in totals()]
    det = [tc for tc in cells if tc[1] not in totals()]
    if kind in ("detail", "total"):
        pool = det if kind == "detail" else tot
        if not pool:
            return None
        table, cell = pool[int(rng.integers(len(pool)))]
        true = values[table][cell]
        values[table][cell] = _wrong_value(rng, true)
        return [(table, cell, true)]
    if kind == "two":
        if len(cells) < 2:
            return None
        picked = [cells[i] for i in rng.choice(len(cells), 2, replace=False)]
        out = [(t, c, values[t][c]) for t, c in picked]
        for t, c, true in out:
            values[t][c] = _wrong_value(rng, true)
        return out
    if kind == "swap":
        swappable = []
        for t, c in cells:
            digits = str(values[t][c])
            swappable += [(t, c, i) for i in range(len(digits) - 1) if digits[i] != digits[i + 1]]
        if not swappable:
            return None
        t, c, i = swappable[int(rng.integers(len(swappable)))]
        digits, true = str(values[t][c]), values[t][c]
        values[t][c] = int(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])
        return [(t, c, true)]
    if kind == "copy":
        options = []
        for t, c in tot:
            peers = {x for r in RL.RULES if r.table == t and c in r.operands for x in r.operands}
            options += [(t, c, p) for p in sorted(peers) if values[t].get(p) not in (None, values[t][c])]
        if not options:
            return None
        t, c, p = options[int(rng.integers(len(options)))]
        true = values[t][c]
        values[t][c] = values[t][p]
        return [(t, c, true)]
    raise ValueError(f"unknown located error {kind!r}: one of {', '.join(LOCATED_ERRORS)}")
