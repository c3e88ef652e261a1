"""What the auditors' pages show of the history across runs (nianbao.ledger): trends by region and
rule on the landing page, a timeline on each agency page, and a page for an agency whose findings are
all resolved (it keeps one, so a follow-up can show what was fixed and when).

The snippets are HTML strings handed to nianbao.report, every value escaped (report._esc); the charts
are inline SVG, so the pages still load nothing.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import report
from . import rules as R
from . import schema as S

TREND_ROWS = 15  # regions and rule families shown, most findings in this run first
LINKED_RESOLVED = 500  # agencies with only resolved findings linked from the landing page


def run_label(run_id: str) -> str:
    """'20261207T081249123456Z-nightly' -> '12-07 08:12' (UTC, as the run id)."""
    stamp = run_id.split("-", 1)[0]
    if len(stamp) < 13:
        return run_id
    return f"{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]}"


def sparkline(values: list[int], width: int = 120, height: int = 22) -> str:
    """A small inline SVG line of counts per run."""
    top = max(values, default=0) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values))
    return (
        f'<svg class="spark" width="{width}" height="{height}" role="img" aria-label="趋势">'
        f'<polyline fill="none" stroke="#c0392b" stroke-width="1.5" points="{points}"/></svg>'
    )


def _trend_table(table_id: str, head: str, counts: pd.DataFrame, key: str, runs: list[str], label) -> str:
    pivot = counts.pivot_table(index=key, columns="run_id", values="n", aggfunc="sum", fill_value=0)
    pivot = pivot.reindex(columns=runs, fill_value=0)
    if pivot.empty:
        return ""
    pivot = pivot.sort_values(by=[runs[-1], *runs[::-1][1:]], ascending=False).head(TREND_ROWS)
    cols = "".join(f"<th>{report._esc(run_label(r))}</th>" for r in runs)
    body = []
    for name, row in pivot.iterrows():
        values = [int(v) for v in row.tolist()]
        cells = "".join(f'<td class="num">{v}</td>' for v in values)
        body.append(f"<tr><th>{report._esc(label(name))}</th>{cells}<td>{sparkline(values)}</td></tr>")
    return (
        f'<div class="scroll"><table id="{table_id}"><thead><tr><th>{head}</th>{cols}<th>趋势</th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def trends_html(trends: pd.DataFrame, runs: list[str]) -> str:
    """Findings (waived left out) per run over the last runs, by province-level region and rule family."""
    t = trends.copy()
    # Per distinct region and rule, not per row: the last ten runs' counts are hundreds of thousands of rows.
    regions = t.region.fillna("")
    t["jurisdiction"] = regions.map({r: report.jurisdiction(r) for r in regions.unique()})
    t["family"] = t.rule_id.map({r: str(r).split(".", 1)[0] for r in t.rule_id.unique()})
    by_region = _trend_table("trend-region", "地区", t, "jurisdiction", runs, str)
    by_rule = _trend_table("trend-rule", "规则", t, "family", runs, lambda f: f"{f} {R.FAMILY_ZH.get(f, '')}".strip())
    return (
        f'<section id="trends"><h2>最近 {len(runs)} 次运行的问题数变化</h2>'
        f'<p class="small">每列为一次运行(UTC 时间),数字为当次发现的问题条数(不含已豁免)。</p>'
        f"<h3>按地区</h3>{by_region or '<p>没有问题。</p>'}<h3>按规则</h3>{by_rule or '<p>没有问题。</p>'}</section>"
    )


def _state_zh(item: dict) -> str:
    if item.get("resolved_at"):
        return "已整改"
    return "再次出现(曾整改)" if item.get("reopened") else "未整改"


THIS_RUN_ZH = "最近一次运行"  # a current finding's last run: the page stays the same file from run to run


def timeline_html(items: list[dict], this_run: str | None = None) -> str:
    """One agency's findings across runs: first seen, last seen (this_run shown as THIS_RUN_ZH),
    resolved, reopened."""
    if not items:
        return ""

    def last(i: dict) -> str:
        return THIS_RUN_ZH if this_run is not None and i["last_seen"] == this_run else report._esc(i["last_seen"])

    rows = "".join(
        f'<tr data-rule="{report._esc(i["rule_id"])}"><td>{report._esc(i["rule_id"])}</td>'
        f"<td>{report._esc(i['first_seen'])}</td><td>{last(i)}</td>"
        f"<td>{report._esc(i.get('resolved_at') or '')}</td><td>{report._esc(i.get('reopened') or '')}</td>"
        f"<td>{_state_zh(i)}</td></tr>"
        for i in items
    )
    return (
        '<section id="timeline"><h2>历次检查记录</h2><div class="scroll"><table>'
        "<thead><tr><th>规则</th><th>首次发现(运行)</th><th>最近一次发现</th><th>整改(运行)</th>"
        f"<th>再次出现(运行)</th><th>状态</th></tr></thead><tbody>{rows}</tbody></table></div></section>"
    )


def resolved_agency_page(rid: str, rep: dict, items: list[dict]) -> str:
    """The page of an agency with no current finding: its report and its history."""
    title, meta_slots = report.page_meta(rid, rep)
    meta = rep.get("meta") or {"report_id": rid}
    rep = {"meta": meta, "values": rep.get("values") or {}, "text": rep.get("text") or {}}
    return report._agency_shell().format(
        title=title,
        count=0,
        findings="<p>本次检查没有未通过的规则;以下为历次检查中发现并已整改的问题。</p>",
        resolved=timeline_html(items),
        tables=report._tables_html(rep, {}),
        **meta_slots,
    )


def write_resolved_pages(site_dir: Path, timelines: dict[str, list[dict]], reports: dict[str, dict], current) -> list:
    """A page for every agency with history but no current finding; returns [(report id, agency)]."""
    out = Path(site_dir) / report.PAGES_DIR / "agencies"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for rid, items in timelines.items():
        if rid in current or not S.REPORT_ID_PATTERN.match(rid):  # never a path from unvalidated text
            continue
        rep = reports.get(rid) or {}
        (out / f"{rid}.html").write_text(resolved_agency_page(rid, rep, items), encoding="utf-8")
        written.append((rid, (rep.get("meta") or {}).get("agency") or rid))
    return written


def resolved_list_html(written: list) -> str:
    """Links to the agencies whose findings are all resolved (their pages keep the history)."""
    if not written:
        return ""
    links = "".join(
        f'<li><a href="agencies/{rid}.html">{report._esc(name)}</a></li>'
        for rid, name in sorted(written, key=lambda w: str(w[1]))[:LINKED_RESOLVED]
    )
    more = ""
    if len(written) > LINKED_RESOLVED:
        more = f'<p class="small">另有 {len(written) - LINKED_RESOLVED} 个单位未列出。</p>'
    head = f"<h2>问题已全部整改的单位({len(written)} 个)</h2>"
    return f'<section id="resolved-agencies">{head}<ul>{links}</ul>{more}</section>'
