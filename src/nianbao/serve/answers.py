"""What the API answers, as typed models (FastAPI generates the OpenAPI description from them), and how a
verdict, the rule catalogue and the service's health become one."""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from .. import findings as F
from .. import localise, report
from .. import rules as R
from .. import schema as S
from ..cells import label
from ..run.errors import EXIT_ZH
from .verdict import Verdict

CellValue = int | float | str | None


class VerdictOut(BaseModel):
    name: str = Field(
        description="退出码名称,与 `nianbao gate` 相同:OK、WARNINGS、ERRORS、INPUT_UNREADABLE、CONFIG_ERROR"
    )
    code: int = Field(description="退出码:0 通过,1 只有警告,2 不通过,3 无法读取或解析,4 配置错误")
    zh: str = Field(description="结论(中文)")
    publish: bool = Field(description="是否允许发布(退出码 0 或 1)")


class FindingOut(BaseModel):
    rule_id: str
    severity: str = Field(description="error(错误)| warn(警告)")
    status: str = Field(description="failed(未通过)| not_assessable(无法核验)")
    message: str = Field(description="问题说明(中文):应为多少,印刷为多少")
    fix: str = Field(description="修改建议(中文)")
    cells: dict[str, CellValue] = Field(description="涉及的单元格:列名 -> 印刷值")
    labels: dict[str, str] = Field(description="涉及的单元格:列名 -> 表中位置(中文)")
    left_value: float | None = None
    right_value: float | None = None
    difference: float | None = None
    waived: bool = Field(default=False, description="已豁免(waivers.yml):不计入结论")
    waiver_reason: str | None = Field(default=None, description="豁免理由、批准人与有效期")


class LocalisedCell(BaseModel):
    solution: int = Field(description="第几种改法(1 为最可能)")
    best: bool = Field(description="是否为代价最小的改法之一")
    ambiguous: bool = Field(description="有多种同样可能的改法,无法唯一确定")
    cell: str = Field(description="列名,如 review_total")
    label: str = Field(description="表中位置(中文)")
    printed: int
    proposed: int | None = Field(description="应填的数字;取值不唯一时为空")
    proposed_min: int
    proposed_max: int | None
    kind: str = Field(description="typo | swap | sign | copy | omission | fellegi-holt")
    text: str = Field(description="说明(中文):印刷为多少,应为多少")


class ParseOut(BaseModel):
    status: str = Field(description="parsed | partial | rejected")
    reason: str = Field(description="解析原因代码与说明(无法解析或部分解析时)")
    missing: list[str] = Field(description="未读出的整张表或单元格")
    deviations: list[str] = Field(description="格式偏差")
    format_version: str | None
    notes: list[str] = Field(description="结论须说明的解析情况(中文),与 `nianbao gate` 相同")


class ReportOut(BaseModel):
    report_id: str
    agency: str | None
    region: str | None
    year: int | None
    level: str | None
    source_file: str = Field(description="上传时的文件名")


class GateAnswer(BaseModel):
    verdict: VerdictOut
    report: ReportOut
    findings: list[FindingOut]
    parse: ParseOut
    localisation: list[LocalisedCell] = Field(
        description="哪些印刷单元格有误、应为多少(错误定位):每种改法的每个单元格,最可能的改法在前;没有勾稽关系错误时为空"
    )
    localisation_zh: str = Field(description="错误定位的结论(中文),与 `nianbao gate` 的第一行相同;没有时为空")
    message: str = Field(description="无法检查时的原因(中文);检查完成时为空")
    timings_ms: dict[str, float]


class Refusal(BaseModel):
    detail: str = Field(description="原因(中文)")


class RuleOut(BaseModel):
    id: str
    family: str
    family_zh: str
    table: str
    table_zh: str
    versions: list[str]
    severity: str
    kind: str
    description: str
    basis: str
    columns: list[str]


class RulesAnswer(BaseModel):
    rules: list[RuleOut]


class Health(BaseModel):
    status: str = Field(description="ok | degraded")
    parsers: int
    idle: int
    parsing: int
    waiting: int
    replaced: int = Field(description="因卡死或退出而替换的解析进程数")
    checked: int = Field(description="已检查的草稿数")


_ORDER = {F.FAILED: 0, F.NOT_ASSESSABLE: 1, R.ERROR: 0, R.WARN: 1}


def localisation(verdict: Verdict) -> list[LocalisedCell]:
    """Which printed cells are wrong and what they should hold (nianbao.localise), cell by cell."""
    diag = verdict.diagnosis
    if diag is None:
        return []
    return [
        LocalisedCell(
            solution=n,
            best=n <= diag.best,
            ambiguous=diag.ambiguous,
            cell=c.cell,
            label=label(c.cell),
            printed=c.printed,
            proposed=c.proposed,
            proposed_min=c.low,
            proposed_max=c.high,
            kind=c.kind,
            text=localise.change_text(c),
        )
        for n, solution in enumerate(diag.solutions, 1)
        for c in solution
    ]


def gate_answer(verdict: Verdict) -> GateAnswer:
    """The API's answer for one verdict: findings in the gate's order (failed, errors, rule id)."""
    p, meta = verdict.report, verdict.rep["meta"]
    rows = sorted(verdict.findings, key=lambda f: (_ORDER.get(f.status, 2), _ORDER.get(f.severity, 2), f.rule_id))
    findings = []
    for f in rows:
        cells = json.loads(f.cells or "{}")
        findings.append(
            FindingOut(
                rule_id=f.rule_id,
                severity=f.severity,
                status=f.status,
                message=f.message,
                fix=f.fix,
                cells=cells,
                labels={c: label(c) for c in cells},
                left_value=f.left_value,
                right_value=f.right_value,
                difference=f.difference,
                waived=bool(f.waived),
                waiver_reason=f.waiver_reason,
            )
        )
    code = verdict.code
    return GateAnswer(
        verdict=VerdictOut(
            name=code.name, code=int(code), zh=report.VERDICT.get(int(code), EXIT_ZH[code]), publish=code <= 1
        ),
        report=ReportOut(
            report_id=meta["report_id"],
            agency=p.agency,
            region=p.region,
            year=p.year,
            level=p.level,
            source_file=p.source_file,
        ),
        findings=findings,
        parse=ParseOut(
            status=p.status,
            reason=p.reason,
            missing=list(p.missing),
            deviations=list(p.deviations),
            format_version=p.format_version,
            notes=verdict.notes,
        ),
        localisation=localisation(verdict),
        localisation_zh=localise.headline(verdict.diagnosis) if verdict.diagnosis else "",
        message=verdict.message,
        timings_ms=verdict.timings_ms,
    )


def rules_answer() -> RulesAnswer:
    """The rule catalogue (nianbao.rules) as the API lists it."""
    return RulesAnswer(
        rules=[
            RuleOut(
                id=r.id,
                family=r.family,
                family_zh=R.FAMILY_ZH.get(r.family, ""),
                table=r.table,
                table_zh=S.TABLE_TITLES.get(r.table, r.table),
                versions=list(r.versions),
                severity=r.severity,
                kind=r.kind,
                description=r.description,
                basis=r.basis,
                columns=list(r.operands),
            )
            for r in R.RULES
        ]
    )
