"""A run's findings as a JUnit XML report, the format CI systems (GitLab, Jenkins, GitHub actions) display.

One <testsuite> per GX suite (rule family), one <testcase> per finding (report and rule): a failed error
rule is a <failure> with the Chinese message; a warning, an identity that cannot be assessed and a
waived finding are <skipped> with their message, so CI shows them without failing on them, as the exit
code does. A run that did not complete is one <testcase> with an <error> carrying its reason.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

SEVERITY_ZH = {"error": "错误", "warn": "警告"}


def _case_kind(row: dict) -> str:
    """failure (counts against the run) or skipped (shown only)."""
    if bool(row.get("waived")):
        return "skipped"
    return "failure" if row["status"] == "failed" and row["severity"] == "error" else "skipped"


def build(summary: dict, findings, message: str = "") -> ET.Element:
    """The <testsuites> element of one run outcome (its summary and findings)."""
    run_id = summary.get("run_id", "")
    root = ET.Element("testsuites", name=f"nianbao {summary.get('checkpoint', '')} {run_id}".strip())
    if not summary.get("completed"):
        suite = ET.SubElement(root, "testsuite", name="nianbao", tests="1", failures="0", errors="1", skipped="0")
        case = ET.SubElement(suite, "testcase", classname="nianbao", name="run")
        ET.SubElement(case, "error", message=message or summary.get("error", ""), type="run-error")
        _totals(root)
        return root
    rows = [] if findings is None or len(findings) == 0 else findings.to_dict("records")
    by_suite: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: (r["suite"] or "", r["rule_id"], r["report_id"])):
        by_suite.setdefault(row["suite"] or "nianbao", []).append(row)
    for name, cases in by_suite.items():
        suite = ET.SubElement(root, "testsuite", name=name)
        for row in cases:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{name}.{row['rule_id']}",
                name=f"{row['report_id']} {row['agency']} {row['rule_id']}",
            )
            props = ET.SubElement(case, "properties")
            for key in ("report_id", "agency", "region", "year", "rule_id", "severity", "status", "history"):
                ET.SubElement(props, "property", name=key, value=str(row.get(key, "")))
            label = SEVERITY_ZH.get(row["severity"], row["severity"])
            if row["status"] == "not_assessable":
                label = "无法核验"
            text = str(row.get("message") or "")
            if bool(row.get("waived")):
                text = f"已豁免:{row.get('waiver_reason') or ''};{text}"
            kind = _case_kind(row)
            element = ET.SubElement(case, kind, message=f"〔{label}〕{text}")
            if kind == "failure":
                element.set("type", row["rule_id"])
                element.text = f"{text}\n应修改:{row.get('fix') or ''}"
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for r in cases if _case_kind(r) == "failure")))
        suite.set("errors", "0")
        suite.set("skipped", str(sum(1 for r in cases if _case_kind(r) == "skipped")))
    _totals(root)
    return root


def _totals(root: ET.Element) -> None:
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in root)))


def write(path, summary: dict, findings, message: str = "") -> Path:
    """Write the report atomically: a CI step reading it never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(build(summary, findings, message))
    ET.indent(tree)
    tmp = path.with_name(path.name + ".tmp")
    tree.write(tmp, encoding="utf-8", xml_declaration=True)
    os.replace(tmp, path)
    return path
