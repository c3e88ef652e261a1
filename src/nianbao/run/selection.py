"""dbt-like selection (`--select`): which rules count, and which reports GX validates.

`rule:R1` or bare `R1` (a rule id, a prefix before a dot, or a glob such as `R3.withheld_*`),
`severity:error|warn`, `region:江苏省` (prefix), `year:2023`, `agency:洪泽` (substring),
`report:R0123...`. The same key ORs, different keys AND. Region, year, agency and report filter the
rows GX validates; rule and severity choose which findings count (GX still evaluates whole suites,
because a suite is validated as saved).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from .. import rules as R
from .. import schema as S
from ..exitcodes import ExitCode
from .errors import RunError

SELECT_KEYS = ("rule", "severity", "region", "year", "agency", "report")


@dataclass(frozen=True)
class Selection:
    rules: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    agencies: tuple[str, ...] = ()
    report_ids: tuple[str, ...] = ()

    def rule_selected(self, rule_id: str, severity: str) -> bool:
        """Whether an expectation counts in this run."""
        if self.severities and severity not in self.severities:
            return False
        return not self.rules or any(rule_matches(rule_id, s) for s in self.rules)

    def where(self) -> dict | None:
        """Row filter for nianbao.engines.prepare, or None for every report."""
        w = {
            k: list(v)
            for k, v in (
                ("region", self.regions),
                ("year", self.years),
                ("agency", self.agencies),
                ("report_ids", self.report_ids),
            )
            if v
        }
        return w or None

    def nothing_to_check(self, data_dir) -> str:
        """Why a run that would validate no report stops (Chinese): nothing to check is never a pass."""
        if self.where() is None:
            return f"数据目录 {data_dir} 中没有任何报告的统计表数据,无可检查;审计站点与 latest 保持不变"
        rows = [t for t in self.tokens() if not t.startswith(("rule:", "severity:"))]
        return f"选择条件 {' '.join(rows)} 在数据目录 {data_dir} 中没有选中任何报告,无可检查;审计站点与 latest 保持不变"

    def tokens(self) -> list[str]:
        """The selection as sorted tokens (what history compares)."""
        return sorted(
            [f"rule:{r}" for r in self.rules]
            + [f"severity:{s}" for s in self.severities]
            + [f"region:{r}" for r in self.regions]
            + [f"year:{y}" for y in self.years]
            + [f"agency:{a}" for a in self.agencies]
            + [f"report:{r}" for r in self.report_ids]
        )


def rule_matches(rule_id: str, selector: str) -> bool:
    """A rule id matches itself, its family prefix and a glob."""
    return rule_id == selector or rule_id.startswith(selector + ".") or fnmatch.fnmatchcase(rule_id, selector)


def parse_selection(tokens) -> Selection:
    """Parse --select tokens; RunError(CONFIG_ERROR) naming the token that is wrong."""
    found: dict[str, list] = {k: [] for k in SELECT_KEYS}
    for token in tokens or ():
        key, value = _split(token)
        found[key].append(_checked(token, key, value))
    return Selection(
        tuple(found["rule"]),
        tuple(found["severity"]),
        tuple(found["region"]),
        tuple(found["year"]),
        tuple(found["agency"]),
        tuple(found["report"]),
    )


def _split(token) -> tuple[str, str]:
    """(key, value) of one token; a bare token is a rule."""
    key, sep, value = str(token).partition(":")
    if not sep:
        key, value = "rule", token
    value = value.strip()
    if key not in SELECT_KEYS or not value:
        raise RunError(
            ExitCode.CONFIG_ERROR,
            f"--select {token!r}:无法识别,应为 {'、'.join(k + ':…' for k in SELECT_KEYS)} 或规则编号",
        )
    return key, value


def _checked(token, key: str, value: str):
    """The token's value, checked against what its key allows."""
    if key == "rule" and not any(rule_matches(r.id, value) for r in R.RULES):
        raise RunError(ExitCode.CONFIG_ERROR, f"--select {token!r}:规则目录中没有匹配的规则")
    if key == "severity" and value not in (R.ERROR, R.WARN):
        raise RunError(ExitCode.CONFIG_ERROR, f"--select {token!r}:级别只能是 error 或 warn")
    if key == "year":
        if not value.isdigit():
            raise RunError(ExitCode.CONFIG_ERROR, f"--select {token!r}:年度应为四位数字")
        return int(value)
    if key == "report" and not S.REPORT_ID_PATTERN.match(value):
        raise RunError(ExitCode.CONFIG_ERROR, f"--select {token!r}:报告编号格式应为 R + 16 位十六进制")
    return value
