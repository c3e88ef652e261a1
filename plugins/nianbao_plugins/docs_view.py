"""GX's index page, rendered static and offline, with a banner to nianbao's Chinese landing page.

GX ignores custom index templates (its package loader wins), but it instantiates the index view class
named in great_expectations.yml (site_index_builder.view), so this view survives every rebuild. GX's
own index draws its tables in the browser with jQuery and bootstrap-table fetched from CDNs: offline
it shows nothing. This view renders the same rows (GX's index data: validation results and suites)
as plain escaped HTML tables, with no script at all.
"""

from __future__ import annotations

from html import escape

from great_expectations.render.components import RenderedContent
from great_expectations.render.view import DefaultJinjaIndexPageView

LANDING = "nianbao/index.html"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
STYLE = (
    "body{font-family:sans-serif;margin:0;color:#222}main{padding:12px 24px}"
    ".banner{background:#8b1a1a;padding:10px 16px;font-size:16px}.banner a{color:#fff;font-weight:bold}"
    "table{border-collapse:collapse;font-size:13px;margin-bottom:16px}th,td{border:1px solid #ccc;padding:3px 6px}"
    "th{background:#f0f0f0}.failed{color:#c0392b;font-weight:bold}.success{color:#1e8449}"
)
VALIDATION_COLUMNS = (
    ("_validation_success_text", "结果 Status"),
    ("run_time", "运行时间 Run Time"),
    ("run_name", "运行名 Run Name"),
    ("asset_name", "数据资产 Asset"),
    ("_batch_identifier_sort", "批次 Batch ID"),
    ("_expectation_suite_name_sort", "规则集 Suite"),
)


def _tables(node) -> list[dict]:
    """Every bootstrap table (table_data + table_columns) in a rendered document, in order."""
    if isinstance(node, dict):
        found = [node] if "table_data" in node and "table_columns" in node else []
        return found + [t for v in node.values() for t in _tables(v)]
    if isinstance(node, list):
        return [t for v in node for t in _tables(v)]
    return []


def _link(path, text) -> str:
    path = str(path or "")
    if not path or ":" in path.split("/", 1)[0]:  # only relative paths GX wrote, never a scheme
        return escape(str(text))
    return f'<a href="{escape(path)}">{escape(str(text))}</a>'


def _validations_table(table: dict) -> str:
    head = "".join(f"<th>{escape(title)}</th>" for _, title in VALIDATION_COLUMNS)
    rows = []
    for row in table["table_data"]:
        status = str(row.get("_validation_success_text", ""))
        cells = [
            f'<td class="{"success" if status == "Success" else "failed"}">{_link(row.get("_table_row_link_path"), status)}</td>'
        ]
        cells += [f"<td>{escape(str(row.get(field) or ''))}</td>" for field, _ in VALIDATION_COLUMNS[1:]]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<h2>验证结果 Validation Results</h2><table><tr>{head}</tr>{''.join(rows)}</table>"


def _suites_table(table: dict) -> str:
    rows = "".join(
        f"<tr><td>{_link(r.get('_table_row_link_path'), r.get('expectation_suite_name'))}</td></tr>"
        for r in table["table_data"]
    )
    return f"<h2>规则集 Expectation Suites</h2><table><tr><th>规则集</th></tr>{rows}</table>"


class NianbaoIndexPageView(DefaultJinjaIndexPageView):
    """GX's index as static escaped HTML: the banner, the validation results, the suites."""

    def render(self, document, template=None, **kwargs) -> str:
        doc = document.to_json_dict() if isinstance(document, RenderedContent) else document
        parts = []
        for table in _tables(doc):
            fields = {c.get("field") for c in table["table_columns"] if isinstance(c, dict)}
            parts.append(_validations_table(table) if "run_time" in fields else _suites_table(table))
        return (
            f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}"><title>GX 数据文档索引</title>'
            f"<style>{STYLE}</style></head><body>"
            f'<div class="banner"><a href="{LANDING}">审计人员首页:未通过检查的单位、按地区和规则的统计(中文)</a></div>'
            f"<main><h1>GX 数据文档索引 Data Docs</h1>{''.join(parts) or '<p>还没有验证结果。</p>'}</main></body></html>"
        )
