"""The rule catalogue: every check of the format as data (id, severity, basis, operands).

The expectation suites in expectations/ are generated from this catalogue (`nianbao generate`), a test
fails when the files on disk differ, and the README's rule catalogue is generated from the suites.
A rule id is the DOMAIN.md id plus the row, column or table it covers (e.g. `R1.total`, `R3.granted`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import schema as S
from . import year_pairs as YP
from .kinds import kind as rule_kind

ERROR, WARN = "error", "warn"
GX_SEVERITY = {ERROR: "critical", WARN: "warning"}

# Basis codes of DOMAIN.md: E stated in the official text, I implied by the table, P plausibility.
BASIS_NOTE = "E:表三注释“第一项加第二项之和,等于第三项加第四项之和”"
BASIS_TABLE = "I:表格结构(合计行/合计列)"
BASIS_COUNT = "I:统计数为非负整数"
BASIS_UNIT = "E:表头“单位:万元”;P:数额量级"
BASIS_PRESENT = "I:表格每一格都应填写"
BASIS_LEVEL = "P:《立法法》规定的规章制定主体"

# Fee above this many 万元 (10 亿元) looks like 元 were entered instead of 万元.
FEE_MAGNITUDE_LIMIT_10K_YUAN = 100_000

APPLICANT_LABEL = dict(S.APPLICANT_COLUMNS)
ROW_LABEL = {r.key: r.label for r in (*S.APPLICATION_ROWS, S.OTHER_SINGLE_ROW)}
GROUP_LABEL = dict(S.REVIEW_GROUPS)


@dataclass(frozen=True)
class Rule:
    id: str
    table: str  # active_disclosure | applications | review_litigation
    versions: tuple[str, ...]
    severity: str  # error | warn
    kind: str  # a rule kind of nianbao.kinds: identity, non_negative, present, fee_range, ...
    description: str  # Chinese, for auditors
    basis: str
    left: tuple[str, ...] = ()
    right: tuple[str, ...] = ()
    op: str = "=="  # identity: sum(left) <op> sum(right); op in ==, <=, >=
    # When every column of alt_group (a subset of right) is missing, alt_column stands in for their
    # sum: (六)其他处理 printed as one row instead of three sub-rows.
    alt_group: tuple[str, ...] = ()
    alt_column: str | None = None
    columns: tuple[str, ...] = ()  # non_negative / present / fee_range / zero_for_levels
    params: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def operands(self) -> tuple[str, ...]:
        """Every column the rule reads, in a stable order."""
        alts = [c for a in self.params.get("alternatives", []) for c in (*a["group"], a["single"])]
        cols = (*self.left, *self.right, *((self.alt_column,) if self.alt_column else ()), *self.columns, *alts)
        return tuple(dict.fromkeys(cols))


def _app(row: str, col: str) -> str:
    return S.app_col(row, col)


def _other_alt(col: str) -> dict:
    return {"alt_group": tuple(_app(r, col) for r in S.OTHER_SUB_ROWS), "alt_column": _app("other", col)}


BOTH = (S.FORMAT_2021, S.FORMAT_2019)


def _application_rules() -> list[Rule]:
    rules: list[Rule] = []
    cols = [c for c, _ in S.APPLICANT_COLUMNS]
    for c in cols:
        rules.append(
            Rule(
                id=f"R1.{c}",
                table="applications",
                versions=BOTH,
                severity=ERROR,
                kind="identity",
                description=f"表三「{APPLICANT_LABEL[c]}」列:本年新收 + 上年结转 = 办理结果总计 + 结转下年度继续办理",
                basis=BASIS_NOTE,
                left=(_app("new", c), _app("carried_over", c)),
                right=(_app("total", c), _app("carried_forward", c)),
            )
        )
    for c in cols:
        rules.append(
            Rule(
                id=f"R2.{c}",
                table="applications",
                versions=BOTH,
                severity=ERROR,
                kind="identity",
                description=f"表三「{APPLICANT_LABEL[c]}」列:(七)总计 = (一)至(六)各项办理结果之和(含各子项)",
                basis=BASIS_TABLE,
                left=(_app("total", c),),
                right=tuple(_app(r, c) for r in S.RESULT_ROWS_SUBROWS),
                **_other_alt(c),
            )
        )
    for r in (*S.APPLICATION_ROW_KEYS_SUBROWS, S.OTHER_SINGLE_ROW.key):
        rules.append(
            Rule(
                id=f"R3.{r}",
                table="applications",
                versions=BOTH,
                severity=ERROR,
                kind="identity",
                description=f"表三「{ROW_LABEL[r]}」行:总计 = 自然人与五类法人或其他组织之和",
                basis=BASIS_TABLE,
                left=(_app(r, "total"),),
                right=tuple(_app(r, p) for p in S.APPLICANT_PARTS),
            )
        )
    rules.append(
        Rule(
            id="R5.applications",
            table="applications",
            versions=BOTH,
            severity=ERROR,
            kind="non_negative",
            description="表三每一格都是非负整数",
            basis=BASIS_COUNT,
            columns=S.APPLICATION_COLUMNS,
        )
    )
    for c in cols:
        rules.append(
            Rule(
                id=f"R7.{c}",
                table="applications",
                versions=BOTH,
                severity=ERROR,
                kind="identity",
                description=f"表三「{APPLICANT_LABEL[c]}」列:结转下年度继续办理 ≤ 本年新收 + 上年结转",
                basis="I:结转数不能超过可办理的申请数",
                left=(_app("carried_forward", c),),
                right=(_app("new", c), _app("carried_over", c)),
                op="<=",
            )
        )
    six = {a: tuple(_app(r, a) for r in S.OTHER_SUB_ROWS) for a, _ in S.APPLICANT_COLUMNS}
    in_six = {c for g in six.values() for c in g} | {_app("other", a) for a in six}
    rules.append(
        Rule(
            id="R9.applications",
            table="applications",
            versions=BOTH,
            severity=WARN,
            kind="present",
            description="表三每一格都有数字:空白、“/”、“—”、“无”视为缺失,相关勾稽关系无法核验",
            basis=BASIS_PRESENT,
            columns=tuple(c for c in S.APPLICATION_COLUMNS if c not in in_six),
            # (六)其他处理 is present when its three sub-rows are, or when it is printed as one row.
            params={"alternatives": [{"group": list(g), "single": _app("other", a)} for a, g in six.items()]},
        )
    )
    return rules


def _review_rules() -> list[Rule]:
    rules = []
    for g, glabel in S.REVIEW_GROUPS:
        rules.append(
            Rule(
                id=f"R4.{g}",
                table="review_litigation",
                versions=BOTH,
                severity=ERROR,
                kind="identity",
                description=f"表四「{glabel}」:结果维持 + 结果纠正 + 其他结果 + 尚未审结 = 总计",
                basis=BASIS_TABLE,
                left=(f"{g}_total",),
                right=tuple(f"{g}_{o}" for o, _ in S.REVIEW_OUTCOMES[:-1]),
            )
        )
    rules.append(
        Rule(
            id="R5.review_litigation",
            table="review_litigation",
            versions=BOTH,
            severity=ERROR,
            kind="non_negative",
            description="表四每一格都是非负整数",
            basis=BASIS_COUNT,
            columns=S.REVIEW_COLUMNS,
        )
    )
    rules.append(
        Rule(
            id="R9.review_litigation",
            table="review_litigation",
            versions=BOTH,
            severity=WARN,
            kind="present",
            description="表四每一格都有数字:空白、“/”、“—”、“无”视为缺失,相关勾稽关系无法核验",
            basis=BASIS_PRESENT,
            columns=S.REVIEW_COLUMNS,
        )
    )
    return rules


def _active_rules() -> list[Rule]:
    v21 = tuple(c for _, _, c, _ in S.ACTIVE_2021)
    v19 = tuple(c for _, _, c, _ in S.ACTIVE_2019)
    counts21 = tuple(c for c in v21 if c not in S.DECIMAL_COLUMNS)
    counts19 = tuple(c for c in v19 if c not in S.DECIMAL_COLUMNS and c not in S.ACTIVE_2019_SIGNED)
    levels = "、".join(S.LEVELS[x] for x in S.LEVELS_WITHOUT_RULE_MAKING)
    rules = [
        Rule(
            id="R5.active_disclosure",
            table="active_disclosure",
            versions=(S.FORMAT_2021,),
            severity=ERROR,
            kind="non_negative",
            description="表二各项件数都是非负整数",
            basis=BASIS_COUNT,
            columns=counts21,
        ),
        Rule(
            id="R5.active_disclosure_2019",
            table="active_disclosure",
            versions=(S.FORMAT_2019,),
            severity=ERROR,
            kind="non_negative",
            description="表二(2019 格式)各项数量都是非负整数(“本年增/减”除外)",
            basis=BASIS_COUNT,
            columns=counts19,
        ),
        Rule(
            id="R6.non_negative",
            table="active_disclosure",
            versions=(S.FORMAT_2021,),
            severity=WARN,
            kind="fee_range",
            description="表二行政事业性收费金额(万元)不能为负数",
            basis=BASIS_UNIT,
            columns=("fees_10k_yuan",),
            params={"min_value": 0},
        ),
        Rule(
            id="R6.magnitude",
            table="active_disclosure",
            versions=(S.FORMAT_2021,),
            severity=WARN,
            kind="fee_range",
            description=f"表二行政事业性收费金额超过 {FEE_MAGNITUDE_LIMIT_10K_YUAN} 万元,疑似以“元”填报而非“万元”",
            basis=BASIS_UNIT,
            columns=("fees_10k_yuan",),
            params={"max_value": FEE_MAGNITUDE_LIMIT_10K_YUAN},
        ),
        Rule(
            id="R9.active_disclosure",
            table="active_disclosure",
            versions=(S.FORMAT_2021,),
            severity=WARN,
            kind="present",
            description="表二每一格都有数字:空白、“/”、“—”、“无”视为缺失",
            basis=BASIS_PRESENT,
            columns=v21,
        ),
        Rule(
            id="R9.active_disclosure_2019",
            table="active_disclosure",
            versions=(S.FORMAT_2019,),
            severity=WARN,
            kind="present",
            description="表二(2019 格式)每一格都有数字:空白、“/”、“—”、“无”视为缺失",
            basis=BASIS_PRESENT,
            columns=v19,
        ),
        Rule(
            id="R10.rules",
            table="active_disclosure",
            versions=(S.FORMAT_2021,),
            severity=WARN,
            kind="zero_for_levels",
            description=f"{levels}无权制定规章,表二“规章”各项应为 0",
            basis=BASIS_LEVEL,
            columns=("rules_issued", "rules_repealed", "rules_in_force"),
            params={"level_column": "level", "levels": list(S.LEVELS_WITHOUT_RULE_MAKING)},
        ),
        Rule(
            id="R10.rules_2019",
            table="active_disclosure",
            versions=(S.FORMAT_2019,),
            severity=WARN,
            kind="zero_for_levels",
            description=f"{levels}无权制定规章,表二(2019 格式)“规章”各项应为 0",
            basis=BASIS_LEVEL,
            columns=("v2019_rules_made", "v2019_rules_published", "v2019_rules_published_total"),
            params={"level_column": "level", "levels": list(S.LEVELS_WITHOUT_RULE_MAKING)},
        ),
    ]
    item_label = {
        "licensing": "行政许可",
        "other_services": "其他对外管理服务事项",
        "punishment": "行政处罚",
        "enforcement": "行政强制",
        "fees": "行政事业性收费",
    }
    for item, label in item_label.items():
        rules.append(
            Rule(
                id=f"R8.{item}",
                table="active_disclosure",
                versions=(S.FORMAT_2019,),
                severity=WARN,
                kind="identity",
                description=f"表二(2019 格式)「{label}」:上一年项目数量 + 本年增/减 ≥ 0",
                basis="I:项目数量不能为负",
                left=(f"v2019_{item}_prev_items", f"v2019_{item}_change"),
                right=(),
                op=">=",
            )
        )
    return rules


BASIS_CARRY = "I:上年结转即上年报告的结转下年度"
BASIS_IN_FORCE = "I:现行有效件数随制发、废止增减"


def _cross_year_rules() -> list[Rule]:
    """R11, R12: one agency's reports of adjacent years (the year_pairs asset, nianbao.year_pairs)."""
    rules = []
    for c, clabel in S.APPLICANT_COLUMNS:
        rules.append(
            Rule(
                id=f"R11.{c}",
                table=YP.TABLE,
                versions=BOTH,
                severity=ERROR,
                kind="cross_year",
                description=f"表三「{clabel}」列:本年“上年结转” = 上年报告“结转下年度继续办理”",
                basis=BASIS_CARRY,
                left=(_app("carried_over", c),),
                right=(f"prev_{_app('carried_forward', c)}",),
            )
        )
    # An operand of R11 or R12 blank on either side: they are not assessable, never passed (an identity's
    # predicate is NULL with a blank). Listed after R11's identities, whose basis the family shows. R12's
    # operands only where R12 compares the pair (year_pairs.NOT_COMPARED NULL), as an alternative.
    rules.append(
        Rule(
            id="R11.previous",
            table=YP.TABLE,
            versions=BOTH,
            severity=WARN,
            kind="previous_report",
            description=(
                "上年报告缺失或不完整(未收到、拒收或相关单元格空白),或本年报告相关单元格空白:"
                "跨年度勾稽关系(R11、R12)无法核验"
            ),
            basis=BASIS_PRESENT,
            columns=(*YP.PREV_CARRIED_FORWARD, *YP.THIS_YEAR),
            params={"alternatives": [{"group": [*YP.ACTIVE, *YP.PREV_IN_FORCE], "single": YP.NOT_COMPARED}]},
        )
    )
    for item, label in (("rules", "规章"), ("normative", "行政规范性文件")):
        rules.append(
            Rule(
                id=f"R12.{'rules' if item == 'rules' else 'normative_docs'}",
                table=YP.TABLE,
                versions=(S.FORMAT_2021,),
                severity=WARN,
                kind="cross_year",
                description=(
                    f"表二「{label}」:现行有效件数 = 上年报告现行有效件数 + 本年制发件数 − 本年废止件数"
                    "(两年均为 2021 格式)"
                ),
                basis=BASIS_IN_FORCE,
                left=(f"{item}_in_force", f"{item}_repealed"),
                right=(f"prev_{item}_in_force", f"{item}_issued"),
            )
        )
    return rules


REPORT_TEXT = "report_text"  # the asset of nianbao.report_text (which reads text above this layer)
BASIS_TEXT = "I:正文所述数字与统计表应一致"
BASIS_PERIOD = "I:统计期限为报告年度 1月1日至12月31日"
BASIS_SECTIONS = "E:《中华人民共和国政府信息公开工作年度报告格式》规定的六部分与三张统计表"
BASIS_FIVE = "E:年报应报告存在的主要问题及改进情况;P:只写“无”或一句套话即未报告"
BASIS_COPY = "E:2021 格式通知所列问责情形“内容雷同”"
BASIS_VERSIONS = "P:同一报告在不同网站或更正后重复发布,数字应一致"


def _text_rules() -> list[Rule]:
    """R17–R19, R23, R24–R25, R27, R30: the report's whole text (the report_text asset, nianbao.report_text)."""
    t = REPORT_TEXT

    def agrees(rid, severity, what, stated, table, message, fix, basis=BASIS_TEXT, quote=None):
        return Rule(
            id=rid,
            table=t,
            versions=BOTH,
            severity=severity,
            kind="text_agrees",
            description=what,
            basis=basis,
            left=(stated,),
            right=(table,),
            params={"message": message, "fix": fix, "fields": (quote,) if quote else ()},
        )

    def at_most(rid, severity, what, column, message, fix, basis, fields=(), max_value=0):
        return Rule(
            id=rid,
            table=t,
            versions=BOTH,
            severity=severity,
            kind="at_most",
            description=what,
            basis=basis,
            columns=(column,),
            params={"max_value": max_value, "message": message, "fix": fix, "fields": fields, "cells": fields},
        )

    said = "正文称“{%s}”,%s为 {table}"
    fix_said = "核对正文与统计表:以统计表为准改正正文中的数字,或改正统计表。"
    return [
        agrees(
            "R17.applications",
            WARN,
            "正文所述收到的政府信息公开申请数与表三“本年新收”总计一致",
            "stated_applications",
            "table_applications",
            said % ("stated_applications_sentence", "表三“本年新收政府信息公开申请数量”总计"),
            fix_said,
            quote="stated_applications_sentence",
        ),
        agrees(
            "R18.reviews",
            WARN,
            "正文所述行政复议件数与表四“行政复议”总计一致",
            "stated_reviews",
            "table_reviews",
            said % ("stated_reviews_sentence", "表四“行政复议”总计"),
            fix_said,
            quote="stated_reviews_sentence",
        ),
        agrees(
            "R19.litigations",
            WARN,
            "正文所述行政诉讼件数与表四“行政诉讼”总计(两类合计)一致",
            "stated_litigations",
            "table_litigations",
            said % ("stated_litigations_sentence", "表四“行政诉讼”总计(未经复议直接起诉与复议后起诉之和)"),
            fix_said,
            quote="stated_litigations_sentence",
        ),
        agrees(
            "R23.title",
            ERROR,
            "标题中的年度与报告年度一致",
            "title_year",
            "year",
            "标题写的是 {stated} 年,报告年度为 {table} 年",
            "核对标题中的年度。",
            BASIS_PERIOD,
        ),
        agrees(
            "R23.period_start",
            ERROR,
            "正文所述统计期限的起始年度与报告年度一致",
            "period_start",
            "year",
            "正文称“{period_sentence}”,起始年度 {stated} 与报告年度 {table} 不符",
            "统计期限应为报告年度的1月1日至12月31日,请核对。",
            BASIS_PERIOD,
            quote="period_sentence",
        ),
        agrees(
            "R23.period_end",
            ERROR,
            "正文所述统计期限的终止年度与报告年度一致",
            "period_end",
            "year",
            "正文称“{period_sentence}”,终止年度 {stated} 与报告年度 {table} 不符",
            "统计期限应为报告年度的1月1日至12月31日,请核对。",
            BASIS_PERIOD,
            quote="period_sentence",
        ),
        at_most(
            "R24.sections",
            ERROR,
            "正文包含年报格式规定的全部六个部分",
            "sections_missing",
            "缺少第 {missing_sections} 部分",
            "按年报格式补齐缺少的部分(没有内容的写明“无”并说明情况)。",
            BASIS_SECTIONS,
            ("missing_sections",),
        ),
        at_most(
            "R24.tables",
            ERROR,
            "报告包含表二、表三、表四三张统计表",
            "tables_missing",
            "有 {tables_missing} 张统计表未能读出:报告缺少该表,或表格为图片等无法读取(见导入的解析结果)",
            "按年报格式补齐统计表,以文字表格(不是图片)发布。",
            BASIS_SECTIONS,
        ),
        at_most(
            "R25.format",
            ERROR,
            "统计表与一种格式版本(2021 格式或 2019 试行格式)完全一致",
            "format_unmatched",
            "统计表的行列与两种格式版本都不一致",
            "使用国办公开办规定的统计表格式,不增删行列。",
            BASIS_SECTIONS,
        ),
        at_most(
            "R27.five",
            WARN,
            "“五、存在的主要问题及改进情况”有实际内容",
            "five_generic",
            "第五部分只有“{five_text}”",
            "如实报告存在的主要问题和改进情况,不能只写“无”或一句套话。",
            BASIS_FIVE,
            ("five_text",),
        ),
        at_most(
            "R30.previous_year",
            WARN,
            "内容雷同:正文大部分与本单位上年报告相同",
            "copied_previous_share",
            "{copied_previous_share}% 的文字与上年报告({copied_previous_from})相同;各部分:{copied_previous_sections}",
            "按本年度实际情况撰写年报,不能照搬上年报告。",
            BASIS_COPY,
            ("copied_previous_from", "copied_previous_sections"),
        ),
        at_most(
            "R30.same_year",
            WARN,
            "内容雷同:正文大部分与同年其他单位的报告相同",
            "copied_same_year_share",
            "{copied_same_year_share}% 的文字与{copied_same_year_agency}的报告({copied_same_year_from})相同;"
            "各部分:{copied_same_year_sections}",
            "按本单位实际情况撰写年报,不能照搬其他单位的报告。",
            BASIS_COPY,
            ("copied_same_year_agency", "copied_same_year_from", "copied_same_year_sections"),
        ),
        at_most(
            "R31.versions",
            WARN,
            "一报多版:同一单位同一年度只有一份报告(没有数字不同的其他版本)",
            "versions",
            "另有 {versions} 个数字不同的版本:{versions_detail}",
            "确认哪一版为准,撤下或更正其他版本,并在网站上只保留一份。",
            BASIS_VERSIONS,
            ("versions_detail",),
        ),
    ]


def _build() -> tuple[Rule, ...]:
    rules = _application_rules()
    rules += _review_rules() + _active_rules() + _cross_year_rules() + _text_rules()
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids)), "rule ids must be unique"
    for rule in rules:
        rule_kind(rule.kind)  # every kind is registered
    return tuple(rules)


RULES: tuple[Rule, ...] = _build()
RULES_BY_ID = {r.id: r for r in RULES}

# One GX suite (and one data asset of the same name) per table and format version.
SUITES = {
    "applications_2021": ("applications", S.FORMAT_2021),
    "applications_2019": ("applications", S.FORMAT_2019),
    "active_disclosure_2021": ("active_disclosure", S.FORMAT_2021),
    "active_disclosure_2019": ("active_disclosure", S.FORMAT_2019),
    "review_litigation": ("review_litigation", None),
}
# Suites whose asset is derived from several tables (nianbao.engines.DERIVED builds it): (asset, version).
# Not in the `gate` checkpoint nor the gate service: a draft alone has no previous year.
DERIVED_SUITES = {YP.TABLE: (YP.TABLE, None), REPORT_TEXT: (REPORT_TEXT, None)}
ALL_SUITES = {**SUITES, **DERIVED_SUITES}


def rules_for_suite(suite: str) -> list[Rule]:
    table, version = ALL_SUITES[suite]
    return [r for r in RULES if r.table == table and (version is None or version in r.versions)]


# Chinese names of the rule families (DOMAIN.md R1–R10), for GX's pages and the auditors' charts.
FAMILY_ZH = {
    "R1": "申请数量平衡",
    "R2": "办理结果合计",
    "R3": "申请人合计",
    "R4": "复议诉讼合计",
    "R5": "非负整数",
    "R6": "收费金额",
    "R7": "结转不超过可办理数",
    "R8": "项目数量不为负",
    "R9": "单元格缺失",
    "R10": "无权制定规章",
    "R11": "跨年度结转衔接",
    "R12": "跨年度现行有效件数",
    "R17": "正文申请数与表格一致",
    "R18": "正文行政复议数与表格一致",
    "R19": "正文行政诉讼数与表格一致",
    "R23": "年度与统计期限",
    "R24": "六部分与三张表齐全",
    "R25": "表格符合一种格式",
    "R27": "问题与改进不为空",
    "R30": "内容雷同",
    "R31": "一报多版",
}


@dataclass(frozen=True)
class Check:
    """What one GX expectation verifies: a whole family of identities, or one other rule.

    Few, wide expectations: GX's cost is per expectation (its metric graph, its queries, its page
    rows), so the identities of a family (R3: 26 rows of table 三) share one expectation, and which
    rule a failing report broke comes from the findings query (nianbao.violations), checked against
    GX's count of failing rows for the expectation.
    """

    id: str  # the family (R3) for identities, the rule id otherwise
    rules: tuple[Rule, ...]

    @property
    def kind(self) -> str:
        return self.rules[0].kind

    @property
    def severity(self) -> str:
        return self.rules[0].severity

    @property
    def description(self) -> str:
        if len(self.rules) == 1:
            return self.rules[0].description
        return f"{FAMILY_ZH.get(self.id, self.id)}:{len(self.rules)} 条规则({self.rules[0].id} 至 {self.rules[-1].id})"


def checks_for_suite(suite: str) -> list[Check]:
    """The suite's expectations: one per identity family, one per other rule."""
    groups: dict[str, list[Rule]] = {}
    for rule in rules_for_suite(suite):
        groups.setdefault(rule.family if rule_kind(rule.kind).grouped else rule.id, []).append(rule)
    for key, rules in groups.items():
        # One expectation carries one severity: a family mixing them would need splitting.
        assert len({r.severity for r in rules}) == 1, f"{suite}: family {key} mixes severities"
    return [Check(key, tuple(rules)) for key, rules in groups.items()]
