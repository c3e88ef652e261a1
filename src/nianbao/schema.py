"""The form schema: every statutory cell of the report, its column name and its printed label.

This module is the single source of truth for the Parquet data contract (docs/data-contract.md is
generated from it) and for the JSON shape of `nianbao parse --json` (the shape transcribed reports
are kept in).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

FORMAT_2021 = "2021"  # 国办公开办函〔2021〕30号, report years 2021 onward
FORMAT_2019 = "2019"  # 国办公开办函〔2019〕60号 (试行)
FORMAT_VERSIONS = (FORMAT_2021, FORMAT_2019)

# Administrative levels. Only province and 设区的市 governments and State Council departments may
# make 规章 (立法法 第九十三条), which is what R10 checks.
LEVELS = {
    "central_department": "国务院部门",
    "province": "省级人民政府",
    "province_department": "省级政府部门",
    "city": "设区的市人民政府",
    "city_department": "市级政府部门",
    "county": "县级人民政府",
    "county_department": "县级政府部门",
    "township": "乡镇人民政府/街道办事处",
}
LEVELS_WITHOUT_RULE_MAKING = ("county", "county_department", "township")

PARSE_STATUSES = ("parsed", "partial", "rejected")
PARSE_STATUS_ZH = {"parsed": "完整解析", "partial": "部分解析", "rejected": "拒收"}

# The parts of a report's text (the `sections` table): its title, its opening paragraph (引言 before
# 一、) and the six statutory sections 一、总体情况 … 六、其他需要报告的事项 (s1 … s6).
SECTION_KEYS = ("title", "opening", "s1", "s2", "s3", "s4", "s5", "s6")
PART_KEYS = SECTION_KEYS[2:]  # the six statutory parts, s1 … s6
PART_NUMERALS = "一二三四五六"  # how the report numbers them
# The national form's headings (国办公开办函〔2021〕30号; the 2019 trial format prints the same six).
PART_HEADINGS = (
    "总体情况",
    "主动公开政府信息情况",
    "收到和处理政府信息公开申请情况",
    "政府信息公开行政复议、行政诉讼情况",
    "存在的主要问题及改进情况",
    "其他需要报告的事项",
)

# The three statutory tables (表二, 表三, 表四), in the order the report prints them.
STATUTORY_TABLES = ("active_disclosure", "applications", "review_litigation")

REPORT_ID_PATTERN = re.compile(r"^R[0-9A-F]{16}$")


def report_id_for(agency: str | None, region: str | None, year: int | None, fallback: str = "") -> str:
    """Stable id of one agency's report for one year; falls back to `fallback` (a file hash) when unnamed."""
    if agency and year:
        key = f"{region or ''}|{agency}|{year}"
    else:
        key = f"file|{fallback}"
    return "R" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16].upper()


# --- Table 三: 25 rows x 7 columns, plus the single (六)其他处理 row of 2019 and of deviating 2021 reports.


@dataclass(frozen=True)
class ApplicationRow:
    key: str  # JSON key and column prefix
    label: str  # label as printed in the national format


APPLICANT_COLUMNS = (  # (column suffix, printed label)
    ("person", "自然人"),
    ("business", "法人或其他组织·商业企业"),
    ("research", "法人或其他组织·科研机构"),
    ("charity", "法人或其他组织·社会公益组织"),
    ("legal", "法人或其他组织·法律服务机构"),
    ("other_org", "法人或其他组织·其他"),
    ("total", "总计"),
)
APPLICANT_PARTS = tuple(c for c, _ in APPLICANT_COLUMNS[:-1])

APPLICATION_ROWS = (
    ApplicationRow("new", "一、本年新收政府信息公开申请数量"),
    ApplicationRow("carried_over", "二、上年结转政府信息公开申请数量"),
    ApplicationRow("granted", "三、本年度办理结果·(一)予以公开"),
    ApplicationRow("partly_granted", "三、本年度办理结果·(二)部分公开(区分处理的,只计这一情形,不计其他情形)"),
    ApplicationRow("withheld_1", "(三)不予公开·1.属于国家秘密"),
    ApplicationRow("withheld_2", "(三)不予公开·2.其他法律行政法规禁止公开"),
    ApplicationRow("withheld_3", "(三)不予公开·3.危及“三安全一稳定”"),
    ApplicationRow("withheld_4", "(三)不予公开·4.保护第三方合法权益"),
    ApplicationRow("withheld_5", "(三)不予公开·5.属于三类内部事务信息"),
    ApplicationRow("withheld_6", "(三)不予公开·6.属于四类过程性信息"),
    ApplicationRow("withheld_7", "(三)不予公开·7.属于行政执法案卷"),
    ApplicationRow("withheld_8", "(三)不予公开·8.属于行政查询事项"),
    ApplicationRow("unable_1", "(四)无法提供·1.本机关不掌握相关政府信息"),
    ApplicationRow("unable_2", "(四)无法提供·2.没有现成信息需要另行制作"),
    ApplicationRow("unable_3", "(四)无法提供·3.补正后申请内容仍不明确"),
    ApplicationRow("not_processed_1", "(五)不予处理·1.信访举报投诉类申请"),
    ApplicationRow("not_processed_2", "(五)不予处理·2.重复申请"),
    ApplicationRow("not_processed_3", "(五)不予处理·3.要求提供公开出版物"),
    ApplicationRow("not_processed_4", "(五)不予处理·4.无正当理由大量反复申请"),
    ApplicationRow("not_processed_5", "(五)不予处理·5.要求行政机关确认或重新出具已获取信息"),
    ApplicationRow("other_1", "(六)其他处理·1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
    ApplicationRow("other_2", "(六)其他处理·2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"),
    ApplicationRow("other_3", "(六)其他处理·3.其他"),
    ApplicationRow("total", "(七)总计"),
    ApplicationRow("carried_forward", "四、结转下年度继续办理"),
)
# (六)其他处理 printed as one row: the 2019 format, and a deviation in some 2021 reports.
OTHER_SINGLE_ROW = ApplicationRow("other", "(六)其他处理(单行,2019 格式)")
OTHER_SUB_ROWS = ("other_1", "other_2", "other_3")

# JSON key order of `tables.applications` for each layout of (六).
APPLICATION_ROW_KEYS_SUBROWS = tuple(r.key for r in APPLICATION_ROWS)
APPLICATION_ROW_KEYS_SINGLE = tuple(
    ["other" if k == "other_1" else k for k in APPLICATION_ROW_KEYS_SUBROWS if k not in ("other_2", "other_3")]
)
RESULT_ROWS_SUBROWS = APPLICATION_ROW_KEYS_SUBROWS[2:-2]  # (一)…(六) with sub-rows, summed into (七)总计
RESULT_ROWS_SINGLE = APPLICATION_ROW_KEYS_SINGLE[2:-2]


def app_col(row: str, applicant: str) -> str:
    """Column name of one cell of table 三, e.g. app_col('new', 'person') == 'new_person'."""
    return f"{row}_{applicant}"


APPLICATION_COLUMNS = tuple(
    app_col(r, c) for r in (*APPLICATION_ROW_KEYS_SUBROWS, OTHER_SINGLE_ROW.key) for c, _ in APPLICANT_COLUMNS
)

# --- Table 四: 3 groups x 5 columns.

REVIEW_GROUPS = (
    ("review", "行政复议"),
    ("litigation_direct", "行政诉讼·未经复议直接起诉"),
    ("litigation_after_review", "行政诉讼·复议后起诉"),
)
REVIEW_OUTCOMES = (
    ("upheld", "结果维持"),
    ("corrected", "结果纠正"),
    ("other", "其他结果"),
    ("pending", "尚未审结"),
    ("total", "总计"),
)
REVIEW_COLUMNS = tuple(f"{g}_{o}" for g, _ in REVIEW_GROUPS for o, _ in REVIEW_OUTCOMES)

# --- Table 二. The 2019 columns have other meanings and are stored in their own columns.

ACTIVE_2021 = (  # (JSON key, index or None, column, label)
    ("rules", 0, "rules_issued", "第二十条第(一)项·规章·本年制发件数"),
    ("rules", 1, "rules_repealed", "第二十条第(一)项·规章·本年废止件数"),
    ("rules", 2, "rules_in_force", "第二十条第(一)项·规章·现行有效件数"),
    ("normative_docs", 0, "normative_issued", "第二十条第(一)项·行政规范性文件·本年制发件数"),
    ("normative_docs", 1, "normative_repealed", "第二十条第(一)项·行政规范性文件·本年废止件数"),
    ("normative_docs", 2, "normative_in_force", "第二十条第(一)项·行政规范性文件·现行有效件数"),
    ("licensing", None, "licensing_decisions", "第二十条第(五)项·行政许可·本年处理决定数量"),
    ("punishment", None, "punishment_decisions", "第二十条第(六)项·行政处罚·本年处理决定数量"),
    ("enforcement", None, "enforcement_decisions", "第二十条第(六)项·行政强制·本年处理决定数量"),
    ("fees_10k_yuan", None, "fees_10k_yuan", "第二十条第(八)项·行政事业性收费·本年收费金额(单位:万元)"),
)
ACTIVE_2019 = (
    ("rules", 0, "v2019_rules_made", "(2019)第二十条第(一)项·规章·本年新制作数量"),
    ("rules", 1, "v2019_rules_published", "(2019)第二十条第(一)项·规章·本年新公开数量"),
    ("rules", 2, "v2019_rules_published_total", "(2019)第二十条第(一)项·规章·对外公开总数量"),
    ("normative_docs", 0, "v2019_normative_made", "(2019)第二十条第(一)项·规范性文件·本年新制作数量"),
    ("normative_docs", 1, "v2019_normative_published", "(2019)第二十条第(一)项·规范性文件·本年新公开数量"),
    ("normative_docs", 2, "v2019_normative_published_total", "(2019)第二十条第(一)项·规范性文件·对外公开总数量"),
    ("licensing", 0, "v2019_licensing_prev_items", "(2019)第二十条第(五)项·行政许可·上一年项目数量"),
    ("licensing", 1, "v2019_licensing_change", "(2019)第二十条第(五)项·行政许可·本年增/减"),
    ("licensing", 2, "v2019_licensing_decisions", "(2019)第二十条第(五)项·行政许可·处理决定数量"),
    (
        "other_services",
        0,
        "v2019_other_services_prev_items",
        "(2019)第二十条第(五)项·其他对外管理服务事项·上一年项目数量",
    ),
    ("other_services", 1, "v2019_other_services_change", "(2019)第二十条第(五)项·其他对外管理服务事项·本年增/减"),
    ("other_services", 2, "v2019_other_services_decisions", "(2019)第二十条第(五)项·其他对外管理服务事项·处理决定数量"),
    ("punishment", 0, "v2019_punishment_prev_items", "(2019)第二十条第(六)项·行政处罚·上一年项目数量"),
    ("punishment", 1, "v2019_punishment_change", "(2019)第二十条第(六)项·行政处罚·本年增/减"),
    ("punishment", 2, "v2019_punishment_decisions", "(2019)第二十条第(六)项·行政处罚·处理决定数量"),
    ("enforcement", 0, "v2019_enforcement_prev_items", "(2019)第二十条第(六)项·行政强制·上一年项目数量"),
    ("enforcement", 1, "v2019_enforcement_change", "(2019)第二十条第(六)项·行政强制·本年增/减"),
    ("enforcement", 2, "v2019_enforcement_decisions", "(2019)第二十条第(六)项·行政强制·处理决定数量"),
    ("fees", 0, "v2019_fees_prev_items", "(2019)第二十条第(八)项·行政事业性收费·上一年项目数量"),
    ("fees", 1, "v2019_fees_change", "(2019)第二十条第(八)项·行政事业性收费·本年增/减"),
    ("procurement", 0, "v2019_procurement_items", "(2019)第二十条第(九)项·政府集中采购·采购项目数量"),
    ("procurement", 1, "v2019_procurement_amount", "(2019)第二十条第(九)项·政府集中采购·采购总金额"),
)
# Signed columns (本年增/减) may be negative; everything else in table 二 is a count or an amount.
ACTIVE_2019_SIGNED = tuple(c for _, _, c, _ in ACTIVE_2019 if c.endswith("_change"))
DECIMAL_COLUMNS = ("fees_10k_yuan", "v2019_procurement_amount")
ACTIVE_COLUMNS = tuple(c for _, _, c, _ in ACTIVE_2021) + tuple(c for _, _, c, _ in ACTIVE_2019)

# --- The Parquet tables, declared in plain Python: parser processes build rows in this order without
# importing pyarrow (measured: 0.4 s of CPU at each process's start). The Arrow schemas (TABLE_SCHEMAS,
# REPORTS_SCHEMA, ..., FEE_TYPE) are built from these declarations on first use, by `__getattr__`.
# report_id is the one column that is never null. Each statutory table also carries format_version so
# every table is self-describing and can be split into per-version assets without a join.

STRING, INT32, INT64, BOOL, FEE, TIMESTAMP = "string", "int32", "int64", "bool", "fee", "timestamp"
DATE = "date"  # a day (Arrow date32); rows carry it as a datetime.date
FEE_PRECISION, FEE_SCALE = 20, 6  # decimal128(20, 6): 万元 to 0.01 元

KEY_COLUMNS = (("report_id", STRING), ("format_version", STRING))

TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "reports": (
        ("report_id", STRING),
        ("agency", STRING),
        ("region", STRING),
        ("level", STRING),
        ("year", INT32),
        ("format_version", STRING),
        ("format_deviations", STRING),  # comma-separated kebab-case codes, '' when none
        ("source_file", STRING),
        ("source_sha256", STRING),
        ("parse_status", STRING),  # parsed | partial | rejected
        ("parse_reason", STRING),  # kebab-case code + detail; '' when parsed
        ("missing", STRING),  # what a partial parse lacks
        ("ingested_at", TIMESTAMP),  # ms, UTC
        # The day the report was published (page PubDate, a 发布时间 line, or the manifest); null when not
        # printed. Added later: a reports file written before it lacks the column (readers check).
        ("published", DATE),
    ),
    "active_disclosure": KEY_COLUMNS + tuple((c, FEE if c in DECIMAL_COLUMNS else INT64) for c in ACTIVE_COLUMNS),
    "applications": KEY_COLUMNS + tuple((c, INT64) for c in APPLICATION_COLUMNS),
    "review_litigation": KEY_COLUMNS + tuple((c, INT64) for c in REVIEW_COLUMNS),
    # Side table: every statutory cell as printed, with where it came from.
    "cells": (
        ("report_id", STRING),
        ("table", STRING),  # active_disclosure | applications | review_litigation
        ("column", STRING),  # column name in that table
        ("text", STRING),  # exactly as printed ('' = blank)
        ("numeric", BOOL),  # False: printed text is not a number ('/', '—', '无', ...)
        ("source", STRING),  # 'line 37' | 'table 2 row 5 col 3' | 'page 2 line 14'
    ),
    # Side table: the report's text by part (parse/sections.py), one row per part found.
    "sections": (
        ("report_id", STRING),
        ("section", STRING),  # title | opening | s1 … s6 (SECTION_KEYS)
        ("heading", STRING),  # as printed; '' for title and opening
        ("text", STRING),  # the part's prose as printed, a line per printed line; tables' cells left out
        ("ordinal", INT32),  # 1, 2, … in the report's order
        ("source", STRING),  # 'line 5–10' | 'paragraph 9–14' | 'page 2 line 3 – page 3 line 9'
    ),
    # Side table: other versions of a report (一报多版): another file of the same agency and year whose
    # numbers differ from those checked (a corrected re-publication, the same report on two sites).
    "versions": (
        ("report_id", STRING),
        ("source_file", STRING),  # the other version's file
        ("source_sha256", STRING),
        ("parse_status", STRING),
        ("current_source_file", STRING),  # the file whose numbers the tables hold and the rules check
        ("differing", STRING),  # the statutory columns whose numbers differ, comma-separated
        ("statutory_values", STRING),  # JSON {table: {column: value}}: the other version's numbers, kept
        ("recorded_at", TIMESTAMP),
    ),
}
_ARROW_SCHEMA_NAMES = {
    "reports": "REPORTS_SCHEMA",
    "active_disclosure": "ACTIVE_SCHEMA",
    "applications": "APPLICATIONS_SCHEMA",
    "review_litigation": "REVIEW_SCHEMA",
    "cells": "CELLS_SCHEMA",
    "sections": "SECTIONS_SCHEMA",
    "versions": "VERSIONS_SCHEMA",
}


def __getattr__(name: str):
    """TABLE_SCHEMAS, each table's *_SCHEMA and FEE_TYPE: Arrow, built (and pyarrow imported) on first use."""
    if name not in ("TABLE_SCHEMAS", "FEE_TYPE", *_ARROW_SCHEMA_NAMES.values()):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import pyarrow as pa

    types = {
        STRING: pa.string(),
        INT32: pa.int32(),
        INT64: pa.int64(),
        BOOL: pa.bool_(),
        FEE: pa.decimal128(FEE_PRECISION, FEE_SCALE),
        TIMESTAMP: pa.timestamp("ms", tz="UTC"),
        DATE: pa.date32(),
    }
    schemas = {
        table: pa.schema([pa.field(c, types[kind], nullable=c != "report_id") for c, kind in columns])
        for table, columns in TABLE_COLUMNS.items()
    }
    globals().update(
        TABLE_SCHEMAS=schemas,
        FEE_TYPE=types[FEE],
        **{_ARROW_SCHEMA_NAMES[table]: schema for table, schema in schemas.items()},
    )
    return globals()[name]


REPORT_COLUMN_LABELS = {
    "report_id": "报告编号(机关+地区+年度的稳定散列)",
    "agency": "机关名称",
    "region": "所属地区",
    "level": "行政层级",
    "year": "报告年度",
    "format_version": "格式版本(2021 或 2019 试行,由表格结构判定)",
    "format_deviations": "格式偏差",
    "source_file": "来源文件",
    "source_sha256": "来源文件 SHA-256",
    "parse_status": "解析结果(parsed 完整 / partial 部分 / rejected 拒收)",
    "parse_reason": "未完整解析的原因",
    "missing": "缺少的部分",
    "ingested_at": "导入时间",
    "published": "发布日期(网页的发布时间、报告所印发布时间或清单所填;未写明为空)",
    "format_version@tables": "格式版本",
}


def column_labels() -> dict[str, dict[str, str]]:
    """Chinese label of every column of every table (the source of docs/data-contract.md)."""
    key = {"report_id": REPORT_COLUMN_LABELS["report_id"], "format_version": REPORT_COLUMN_LABELS["format_version"]}
    app = dict(key)
    rows = {r.key: r.label for r in (*APPLICATION_ROWS, OTHER_SINGLE_ROW)}
    for r in (*APPLICATION_ROW_KEYS_SUBROWS, OTHER_SINGLE_ROW.key):
        for c, clabel in APPLICANT_COLUMNS:
            app[app_col(r, c)] = f"表三·{rows[r]}·{clabel}"
    review = dict(key)
    for g, glabel in REVIEW_GROUPS:
        for o, olabel in REVIEW_OUTCOMES:
            review[f"{g}_{o}"] = f"表四·{glabel}·{olabel}"
    active = dict(key)
    for _, _, c, label in (*ACTIVE_2021, *ACTIVE_2019):
        active[c] = f"表二·{label}"
    cells = {
        "report_id": REPORT_COLUMN_LABELS["report_id"],
        "table": "所属表格",
        "column": "单元格对应的列名",
        "text": "单元格原文(空白为空字符串)",
        "numeric": "原文是否为数字",
        "source": "原文位置(行号或表格单元格位置)",
    }
    sections = {
        "report_id": REPORT_COLUMN_LABELS["report_id"],
        "section": "部分(title 标题、opening 引言、s1–s6 第一至第六部分)",
        "heading": "部分标题原文(标题与引言为空字符串)",
        "text": "正文原文:逐行照录、每行空白规整,不含部分标题行;表格单元格不重复收录(见 cells);"
        "title 为报告标题各行(含其上的机关名行、其下的日期行),opening 为标题后至“一、”前的引言",
        "ordinal": "在报告中的次序(从 1 起)",
        "source": "原文位置(起止行号、段落号或页码)",
    }
    versions = {
        "report_id": REPORT_COLUMN_LABELS["report_id"],
        "source_file": "另一版本的来源文件",
        "source_sha256": "另一版本来源文件 SHA-256",
        "parse_status": "另一版本的解析结果",
        "current_source_file": "受检版本的来源文件(统计表中的数字取自该文件)",
        "differing": "数字不同的单元格(列名,逗号分隔)",
        "statutory_values": "另一版本的统计表数字(JSON,按表、列)",
        "recorded_at": "记录时间",
    }
    reports = {k: v for k, v in REPORT_COLUMN_LABELS.items() if "@" not in k}
    return {
        "reports": reports,
        "active_disclosure": active,
        "applications": app,
        "review_litigation": review,
        "cells": cells,
        "sections": sections,
        "versions": versions,
    }


TABLE_TITLES = {
    "reports": "报告清单(每份报告一行)",
    "active_disclosure": "表二 主动公开政府信息情况",
    "applications": "表三 收到和处理政府信息公开申请情况",
    "review_litigation": "表四 政府信息公开行政复议、行政诉讼情况",
    "cells": "单元格原文与出处(附表)",
    "sections": "报告各部分原文与出处(附表:标题、引言与六个法定部分,未找到的部分不列)",
    "versions": "一报多版:同一单位同一年度数字不同的其他版本(附表)",
}
