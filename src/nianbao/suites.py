"""The GX expectation suites, generated from the rule catalogue (`nianbao generate [--check]`).

expectations/<suite>.json are the source of truth an auditor or a GX user reads. They are generated
deterministically: ids are uuid5 of the suite and rule id, so regenerating does not churn the files.
The rule catalogue page is generated back FROM the files on disk, so it says what the suites say.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from . import rules as R
from .kinds import kind as rule_kind
from .paths import EXPECTATIONS_DIR, ROOT

CATALOGUE_PATH = ROOT / "docs" / "rule-catalogue.md"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://nianbao/expectations")
SEVERITY_LABEL = {R.ERROR: "错误 error", R.WARN: "警告 warn"}
ALL_VERSIONS = "全部"
SUITE_TITLES = {  # derived suites' headings
    "year_pairs": "跨年度衔接(同一机关相邻两年的报告)",
    "report_text": "报告全文(正文所述数字、统计期限、六个部分、内容雷同、一报多版)",
}


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def suite_notes(suite: str) -> str:
    """Chinese heading of a suite, shown on its Data Docs page."""
    from .schema import TABLE_TITLES

    table, version = R.ALL_SUITES[suite]
    title = TABLE_TITLES.get(table) or SUITE_TITLES[table]
    return f"{title} · {version + ' 格式' if version else '全部格式版本'}"


def check_meta(check: R.Check) -> dict:
    """meta of one expectation: its check id, severity and every rule it verifies (what findings read)."""
    return {
        "check_id": check.id,
        "description": check.description,
        "nianbao_severity": check.severity,
        "rules": [
            {"rule_id": r.id, "description": r.description, "basis": r.basis, "columns": list(r.operands)}
            for r in check.rules
        ],
    }


def check_note(check: R.Check) -> str:
    """The note GX shows under the expectation in Data Docs (built-ins render their kwargs in English)."""
    lines = [f"{check.id}({SEVERITY_LABEL[check.severity]}):{check.description}"]
    if len(check.rules) > 1:
        lines += [f"- {r.id}:{r.description}" for r in check.rules]
    lines.append(f"依据:{'；'.join(dict.fromkeys(r.basis for r in check.rules))}")
    return "\n".join(lines)


def expectation_for(check: R.Check):
    """The GX expectation of one check, built by its rules' kind (nianbao.kinds)."""
    common = {"severity": R.GX_SEVERITY[check.severity], "meta": check_meta(check), "notes": check_note(check)}
    return rule_kind(check.kind).expectation(check, common)


def render_suite(suite: str) -> str:
    """The JSON text of one suite file, byte-for-byte deterministic."""
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.expectation_suite import ExpectationSuiteSchema

    gx_suite = ExpectationSuite(
        name=suite,
        id=_uuid("suite", suite),
        notes=suite_notes(suite),
        expectations=[expectation_for(c) for c in R.checks_for_suite(suite)],
    )
    for exp in gx_suite.expectations:
        exp.id = _uuid("suite", suite, exp.meta["check_id"])
    doc = ExpectationSuiteSchema().dump(gx_suite)
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def expected_suites() -> dict[str, str]:
    """File name -> text of every suite file the catalogue generates."""
    return {f"{suite}.json": render_suite(suite) for suite in R.ALL_SUITES}


def _suite_docs(directory: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))}


def catalogue_rows(directory: Path | None = None) -> list[dict]:
    """One row per rule id found in the suite files: id, severity, table, versions, description, basis."""
    rows: dict[str, dict] = {}
    for suite, doc in _suite_docs(directory or EXPECTATIONS_DIR).items():
        table, version = R.ALL_SUITES.get(suite, (suite, None))
        for exp in doc["expectations"]:
            meta = exp["meta"]
            for rule in meta["rules"]:
                row = rows.setdefault(
                    rule["rule_id"],
                    {
                        "rule_id": rule["rule_id"],
                        "severity": meta["nianbao_severity"],
                        "gx_severity": exp["severity"],
                        "table": table,
                        "versions": [],
                        "description": rule["description"],
                        "basis": rule["basis"],
                        "expectation_type": exp["type"],
                        "check_id": meta["check_id"],
                    },
                )
                row["versions"].append(version or ALL_VERSIONS)

    def order(row):
        family, _, _rest = row["rule_id"].partition(".")
        return int(family[1:]), list(rows).index(row["rule_id"])

    return sorted(rows.values(), key=order)


def catalogue_markdown(directory: Path | None = None) -> str:
    """The rule catalogue as a markdown table, generated from the suite files."""
    out = ["| 规则编号 | 严重程度 | 表 | 格式版本 | 说明 | 依据 |", "|---|---|---|---|---|---|"]
    for r in catalogue_rows(directory):
        versions = "、".join(sorted(set(r["versions"]), reverse=True))
        out.append(
            f"| `{r['rule_id']}` | {SEVERITY_LABEL[r['severity']]} | {r['table']} | {versions} "
            f"| {r['description']} | {r['basis']} |"
        )
    return "\n".join(out) + "\n"


def catalogue_page(directory: Path | None = None) -> str:
    """docs/rule-catalogue.md: a short preface and the catalogue table."""
    rows = catalogue_rows(directory)
    head = (
        "# 规则目录 Rule catalogue\n\n"
        "Generated by `nianbao generate` from the expectation suites in `expectations/`; "
        "`tests/test_suites.py` fails when this page or a suite file differs from what the rule "
        "catalogue (`src/nianbao/rules.py`) generates. Do not edit by hand.\n\n"
        f"{len(rows)} rules. Severity `error` blocks publication (GX severity `critical`); `warn` is "
        "reported only (GX `warning`). An identity with a blank operand is not assessable: it is "
        "neither passed nor failed, and R9 reports the blank cells.\n\n"
    )
    return head + catalogue_markdown(directory)


def suite_id(suite: str) -> str:
    """The id of a suite, as its file holds it."""
    return _uuid("suite", suite)
