"""Render a report (corpus JSON shape) as a text layout seen in corpus/real, or as Word-style HTML.

The renderers model each statutory table as a Word table (rows of cells with colspan/rowspan), then
serialise it the way the real pages were flattened to text: pipes with or without colspan fillers,
one cell per line, markdown rows, one cell per paragraph. They print every value exactly as the JSON
holds it, so `parse_file(render(...))` must give the JSON tables back. Used by the round-trip tests,
the ingest benchmark and anyone who needs realistic report files.
"""

from __future__ import annotations

import html as _html
import random
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .. import schema as S

# Text layouts, each named after corpus/real files it reproduces.
LAYOUTS = (
    "pipe",  # 000, 005, 011: 'a | b | c |', a blank filler row closes each table
    "pipe-filler",  # 013: 'a | b |' plus colspan fillers ' |||' up to the table width
    "cell-per-line",  # 007, 015: 'a |' per line, filler lines '|||' after short rows
    "cell-per-line-bar",  # 029: a bare '|' line before each row, fillers on the last cell's line
    "markdown",  # 009: '| a | b | ' plus fillers
    "paragraph",  # 019, 025, 027: one cell per blank-line-separated paragraph
    "tab",  # no corpus file: a table pasted from a browser or Word, cells between tabs
    "markdown-split",  # PDF-to-Markdown converters: one small table per row group, each under a heading
    "markdown-generic",  # converters that name columns '类别 | 数据1 | … | 总计' or '列1 … 列n', '<br>' in cells
    "markdown-html",  # converters that keep a table with merged cells as an HTML block (table 三 here); the
    # others split, under generic columns only (table 二: the format told by their counts alone)
)
NON_NUMERIC_TEXTS = ("/", "—", "无")


@dataclass(frozen=True)
class GridCell:
    text: str  # '\n' a line break inside a paragraph of the cell, '\n\n' a second paragraph
    colspan: int = 1
    rowspan: int = 1


Grid = list[list[GridCell]]  # a merged cell appears once, in the first row it covers


def value_text(value: Any) -> str:
    """A cell value printed as a report prints it: ints plainly, decimals without exponent, blank as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        raise TypeError(f"not a cell value: {value!r}")
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)


def _values(values: list[Any]) -> list[GridCell]:
    return [GridCell(value_text(v)) for v in values]


# --- The statutory tables as grids.


def _active_2021_grid(active: dict[str, Any]) -> Grid:
    """Table 二 of the 2021 format."""
    one_col = lambda label, key: [GridCell(label), GridCell(value_text(active[key]), colspan=3)]
    return [
        [GridCell("第二十条第(一)项", colspan=4)],
        [GridCell("信息内容"), GridCell("本年制发件数"), GridCell("本年废止件数"), GridCell("现行有效件数")],
        [GridCell("规章"), *_values(active["rules"])],
        [GridCell("行政规范性文件"), *_values(active["normative_docs"])],
        [GridCell("第二十条第(五)项", colspan=4)],
        [GridCell("信息内容"), GridCell("本年处理决定数量", colspan=3)],
        one_col("行政许可", "licensing"),
        [GridCell("第二十条第(六)项", colspan=4)],
        [GridCell("信息内容"), GridCell("本年处理决定数量", colspan=3)],
        one_col("行政处罚", "punishment"),
        one_col("行政强制", "enforcement"),
        [GridCell("第二十条第(八)项", colspan=4)],
        [GridCell("信息内容"), GridCell("本年收费金额(单位:万元)", colspan=3)],
        one_col("行政事业性收费", "fees_10k_yuan"),
    ]


def _active_2019_grid(active: dict[str, Any]) -> Grid:
    """Table 二 of the 2019 (试行) format."""
    items = [GridCell("信息内容"), GridCell("上一年项目数量"), GridCell("本年增/减"), GridCell("处理决定数量")]
    two = lambda label, key: [
        GridCell(label),
        GridCell(value_text(active[key][0])),
        GridCell(value_text(active[key][1]), colspan=2),
    ]
    return [
        [GridCell("第二十条第(一)项", colspan=4)],
        [GridCell("信息内容"), GridCell("本年新\n制作数量"), GridCell("本年新\n公开数量"), GridCell("对外公开总数量")],
        [GridCell("规章"), *_values(active["rules"])],
        [GridCell("规范性文件"), *_values(active["normative_docs"])],
        [GridCell("第二十条第(五)项", colspan=4)],
        items,
        [GridCell("行政许可"), *_values(active["licensing"])],
        [GridCell("其他对外管理服务事项"), *_values(active["other_services"])],
        [GridCell("第二十条第(六)项", colspan=4)],
        items,
        [GridCell("行政处罚"), *_values(active["punishment"])],
        [GridCell("行政强制"), *_values(active["enforcement"])],
        [GridCell("第二十条第(八)项", colspan=4)],
        [GridCell("信息内容"), GridCell("上一年项目数量"), GridCell("本年增/减", colspan=2)],
        two("行政事业性收费", "fees"),
        [GridCell("第二十条第(九)项", colspan=4)],
        [GridCell("信息内容"), GridCell("采购项目数量"), GridCell("采购总金额", colspan=2)],
        two("政府集中采购", "procurement"),
    ]


_ROW_LABELS = {r.key: r.label.split("·") for r in S.APPLICATION_ROWS}
_ROW_LABELS["other"] = ["(六)其他处理"]
_APPLICANT_HEADERS = ("商业\n\n企业", "科研\n\n机构", "社会公益组织", "法律服务机构", "其他")


def _applications_grid(apps: dict[str, list[Any]]) -> Grid:
    """Table 三: a three-row header, then one row per JSON key with group labels merged down."""
    keys = S.APPLICATION_ROW_KEYS_SINGLE if "other" in apps else S.APPLICATION_ROW_KEYS_SUBROWS
    results = keys[2:-2]
    groups: dict[str, int] = {}
    for key in results:
        labels = _ROW_LABELS[key]
        if len(labels) == 2 and not labels[0].startswith("三、"):
            groups[labels[0]] = groups.get(labels[0], 0) + 1
    grid: Grid = [
        [
            GridCell("(本列数据的勾稽关系为:第一项加第二项之和,等于第三项加第四项之和)", colspan=3, rowspan=3),
            GridCell("申请人情况", colspan=7),
        ],
        [GridCell("自然人", rowspan=2), GridCell("法人或其他组织", colspan=5), GridCell("总计", rowspan=2)],
        [GridCell(t) for t in _APPLICANT_HEADERS],
    ]
    seen_groups: set[str] = set()
    for key in keys:
        labels, values = _ROW_LABELS[key], _values(apps[key])
        if key in ("new", "carried_over", "carried_forward"):
            grid.append([GridCell(labels[0], colspan=3), *values])
        elif key == "granted":
            grid.append(
                [GridCell("三、本年度办理结果", rowspan=len(results) + 1), GridCell(labels[1], colspan=2), *values]
            )
        elif len(labels) == 1 or key == "partly_granted":
            grid.append([GridCell(labels[-1], colspan=2), *values])
        elif labels[0] in seen_groups:
            grid.append([GridCell(labels[1]), *values])
        else:
            seen_groups.add(labels[0])
            grid.append([GridCell(labels[0], rowspan=groups[labels[0]]), GridCell(labels[1]), *values])
    return grid


def _review_grid(review: dict[str, list[Any]]) -> Grid:
    """Table 四: two header levels over 15 value cells in one row."""
    outcomes = [label for _, label in S.REVIEW_OUTCOMES]
    return [
        [GridCell("行政复议", colspan=5), GridCell("行政诉讼", colspan=10)],
        [
            *(GridCell(o, rowspan=2) for o in outcomes),
            GridCell("未经复议直接起诉", colspan=5),
            GridCell("复议后起诉", colspan=5),
        ],
        [GridCell(o) for o in outcomes * 2],
        [GridCell(value_text(v)) for g, _ in S.REVIEW_GROUPS for v in review[g]],
    ]


def grid_width(grid: Grid) -> int:
    """Number of grid columns, counting cells merged down from rows above."""
    carried: list[int] = []  # rows still covered, per column
    width = 0
    for row in grid:
        col = 0
        for cell in row:
            while col < len(carried) and carried[col] > 0:
                col += 1
            for c in range(col, col + cell.colspan):
                if c >= len(carried):
                    carried.append(0)
                carried[c] = cell.rowspan
            col += cell.colspan
        carried = [max(0, n - 1) for n in carried]
        width = max(width, len(carried))
    return width


def report_grids(report: dict[str, Any]) -> list[tuple[str, Grid]]:
    """(section heading, grid) of tables 二, 三 and 四 of a report in the corpus JSON shape."""
    tables = report["tables"]
    if report.get("active_2019_format") is not None:
        active = _active_2019_grid(report["active_2019_format"])
    else:
        active = _active_2021_grid(tables["active"])
    return [
        ("二、主动公开政府信息情况", active),
        ("三、收到和处理政府信息公开申请情况", _applications_grid(tables["applications"])),
        ("四、政府信息公开行政复议、行政诉讼情况", _review_grid(tables["review_litigation"])),
    ]


# --- The prose around the tables.


def _opening(report: dict[str, Any]) -> list[str]:
    year = report.get("year")
    return [
        "本报告根据《中华人民共和国政府信息公开条例》和《中华人民共和国政府信息公开工作年度报告格式》编制。"
        f"报告中所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。",
        "一、总体情况",
        f"{year}年,本机关认真贯彻落实政府信息公开工作要求,围绕中心工作,持续推进决策、执行、管理、服务、结果公开。",
    ]


_CLOSING = [
    "五、存在的主要问题及改进情况",
    "一是公开内容的全面性还需加强;二是解读形式还较单一。下一步,将进一步完善工作机制,提升公开质量。",
    "六、其他需要报告的事项",
    "本年度未收取信息处理费。",
]


def _title(report: dict[str, Any]) -> list[str]:
    return [report.get("agency") or "", f"{report.get('year')}年政府信息公开工作年度报告"]


# --- Text layouts.


def _cell(text: str, layout: str) -> str:
    """One cell's text with its in-cell line breaks, as the layout flattens them (000 '商业 企业', 009 '商业企业')."""
    if layout == "paragraph":
        return text
    return re.sub(r"\n+", " " if layout in ("pipe", "pipe-filler", "cell-per-line-bar", "tab") else "", text)


def _section_label(text: str, layout: str) -> str:
    """'第二十条第(一)项' with the spacing each page printed (009 two spaces, 007 one)."""
    if text.startswith("第二十条第("):
        sep = {"markdown": "  ", "cell-per-line": " "}.get(layout, "")
        return text.replace("第二十条第", "第二十条" + sep + "第", 1)
    return text


def _row_lines(row: list[GridCell], width: int, layout: str) -> list[str]:
    """The lines of one table row."""
    texts = [_cell(_section_label(c.text, layout), layout) for c in row]
    fill = "|" * (width - len(row))
    bars = [f"{t} |" if t else "|" for t in texts]
    if layout == "pipe":
        return [" ".join(bars)]
    if layout == "pipe-filler":
        return [" ".join(bars) + (" " + fill if fill else "")]
    if layout == "markdown":
        return ["| " + " ".join(bars) + " " + fill]
    if layout == "cell-per-line":
        return [f"{t} |" for t in texts] + ([fill] if fill else [])
    if layout == "cell-per-line-bar":
        lines = ["|"] + [f"{t} |" for t in texts]
        return [*lines[:-1], lines[-1] + (" " + fill if fill else "")]
    if layout == "paragraph":
        # A blank cell is a paragraph holding one space (019 prints a lone ' ' paragraph).
        return [t if t else " " for t in texts]
    if layout == "tab":  # a merged cell once, as a browser copies it; a blank cell between two tabs
        return ["\t".join(texts)]
    raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")


def _table_lines(grid: Grid, layout: str) -> list[str]:
    width = grid_width(grid)
    lines = [line for row in grid for line in _row_lines(row, width, layout)]
    if layout == "pipe":
        lines.append(" ".join(["|"] * width))  # 000 closes every table with an empty row
    elif layout == "paragraph":
        lines.append(" ")  # 019: an empty paragraph between tables
    return lines


def render_text(report: dict[str, Any], layout: str) -> str:
    """The whole report as text in one of LAYOUTS."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    if layout.startswith("markdown-"):
        return render_converted(report, layout)
    lines = _title(report) + _opening(report)
    for heading, grid in report_grids(report):
        lines.append(heading)
        lines.extend(_table_lines(grid, layout))
    lines.extend(_CLOSING)
    sep = "\n\n" if layout == "paragraph" else "\n"
    return sep.join(lines) + "\n"


# --- Markdown as PDF-to-Markdown converters write it (MinerU, marker, docling, pandoc, LLMs).

_GENERIC_APPLICANT_HEADER = ["类别", *(f"数据{k}" for k in range(1, 7)), "总计"]


def _md_row(cells: list[str]) -> str:
    """One Markdown table row; a bar inside a cell is escaped as converters escape it."""
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table: its header row, the rule, its body rows."""
    return [_md_row(header), _md_row(["---"] * len(header)), *(_md_row(r) for r in rows)]


def _md_text(text: str) -> str:
    """A cell's in-cell line breaks as converters keep them."""
    return re.sub(r"\n+", "<br>", text)


def _generic(n: int) -> list[str]:
    """A header row of n generic column names."""
    return [f"列{k}" for k in range(1, n + 1)]


def _md_active(grid: Grid, layout: str) -> list[str]:
    """Table 二: one table per 第二十条 block under its heading, its printed header as the header row (split)
    or generic names as many as its columns (html); or one table with generic headers (generic), the
    printed headers among its rows, '|' in the fee header escaped."""
    if layout == "markdown-generic":
        rows = [[_md_text(c.text) for c in row] + [""] * (4 - sum(c.colspan for c in row)) for row in grid]
        rows = [[t.replace("(单位:万元)", "|单位:万元") for t in row] for row in rows]
        return _md_table(_generic(4), rows)
    lines: list[str] = []
    for row in grid:
        texts = [_md_text(c.text) for c in row]
        if len(row) == 1:
            lines.append(f"### {texts[0]}")
        elif texts[0] == "信息内容":
            header = texts if layout == "markdown-split" else _generic(len(texts))
            lines += [_md_row(header), _md_row(["---"] * len(texts))]
        else:
            lines.append(_md_row(texts))
    return lines


def _md_application_label(key: str, split: bool) -> str:
    """A table-三 row's label: its group carried in front (generic), or the row's own label (split)."""
    labels = _ROW_LABELS[key]
    if split or len(labels) == 1 or labels[0].startswith("三、"):
        return labels[-1]
    escaped = labels[1].replace(".", "\\.", 1)  # converters escape '1.' lest it start a list
    return f"{labels[0]} {escaped}"


def _md_applications(apps: dict[str, list[Any]], split: bool) -> list[str]:
    """Table 三: applicant headers as small tables of dashes and one table per row group (split), or one
    table with generic headers, the applicant header flattened into one row and '**(七)总计**'."""
    keys = S.APPLICATION_ROW_KEYS_SINGLE if "other" in apps else S.APPLICATION_ROW_KEYS_SUBROWS
    values = lambda key: [value_text(v) for v in apps[key]]
    if not split:
        header = ["申请人情况", "自然人", *(f"法人或其他组织-{t}" for t in ("商业企业", "科研机构")), "社会公益组织"]
        header += ["法律服务机构", "其他", "总计"]
        rows = [header]
        for key in keys:
            label = _md_application_label(key, split)
            if key == "granted":
                rows.append(["三、本年度办理结果"] + [""] * 7)
            rows.append([f"**{label}**" if key == "total" else label, *values(key)])
        return _md_table(_GENERIC_APPLICANT_HEADER, rows)
    lines = ["### 申请人情况"]
    lines += [*_md_table(["自然人", "法人或其他组织", "总计"], [["-"] * 3]), ""]
    lines += _md_table(["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"], [["—"] * 5])
    group = None
    for key in keys:
        labels = _ROW_LABELS[key]
        if key == "granted":
            lines.append("### 三、本年度办理结果")
        if len(labels) == 2 and not labels[0].startswith("三、"):
            if labels[0] != group:
                group = labels[0]
                lines += [f"### {group}", _md_row(_GENERIC_APPLICANT_HEADER), _md_row(["---"] * 8)]
            lines.append(_md_row([labels[1], *values(key)]))
            continue
        group = None
        in_cell = key in ("granted", "partly_granted")  # the others print their label in the heading only
        label = labels[-1].replace("(区分", "<br>(区分")  # the line break the printed cell has before its note
        row = [label if in_cell else "", *values(key)]
        heading = f"**{labels[-1]}**" if key == "carried_forward" else f"### {labels[-1]}"  # a bold line, no heading
        lines += [heading, *_md_table(_GENERIC_APPLICANT_HEADER, [row])]
    return lines


def _md_review(review: dict[str, list[Any]], layout: str) -> list[str]:
    """Table 四: one table per group under its heading ('### 行政诉讼 · 复议后起诉'), the outcomes as header
    and the values without a label column (split); '### 行政复议' over generic columns, then '### 行政诉讼'
    over one table whose rows are its two groups (html); or generic '列1…列15', its header rows flattened
    into one ('行政诉讼-复议后起诉-总计') among the rows (generic)."""
    outcomes = [label for _, label in S.REVIEW_OUTCOMES]
    values = {g: [value_text(v) for v in review[g]] for g, _ in S.REVIEW_GROUPS}
    if layout == "markdown-generic":
        flat = [f"{g.replace('·', '-')}-{o}" for _, g in S.REVIEW_GROUPS for o in outcomes]
        return _md_table(_generic(15), [flat, [v for g, _ in S.REVIEW_GROUPS for v in values[g]]])
    lines: list[str] = []
    if layout == "markdown-split":
        for g, label in S.REVIEW_GROUPS:
            lines += [f"### {label.replace('·', ' · ')}", *_md_table(outcomes, [values[g]])]
        return lines
    (first, label), *litigation = S.REVIEW_GROUPS
    lines += [f"### {label}", *_md_table(_generic(5), [values[first]]), "### 行政诉讼"]
    return lines + _md_table(["类别", *outcomes], [[lab.split("·")[-1], *values[g]] for g, lab in litigation])


def render_converted(report: dict[str, Any], layout: str) -> str:
    """The whole report as Markdown from a PDF converter in one of the 'markdown-' LAYOUTS: '#' headings,
    pipe tables, blank cells empty; in markdown-html, table 三 as an HTML table among them."""
    tables = report["tables"]
    split = layout != "markdown-generic"
    active_2019 = report.get("active_2019_format")
    active = _active_2019_grid(active_2019) if active_2019 is not None else _active_2021_grid(tables["active"])
    lines = [f"# {t}" for t in _title(report)] + _opening(report)[:1] + [f"## {_opening(report)[1]}"]
    lines += _opening(report)[2:]
    lines += ["## 二、主动公开政府信息情况", *_md_active(active, layout)]
    apps = [_html_table(_applications_grid(tables["applications"]))] if layout == "markdown-html" else None
    lines += ["## 三、收到和处理政府信息公开申请情况", *(apps or _md_applications(tables["applications"], split))]
    lines += ["## 四、政府信息公开行政复议、行政诉讼情况", *_md_review(tables["review_litigation"], layout)]
    lines += [f"## {t}" if t[1] == "、" else t for t in _CLOSING]
    return _md_join(lines)


def _md_join(lines: list[str]) -> str:
    """Markdown blocks: a table's rows on consecutive lines, an empty line between blocks."""
    out = []
    for k, line in enumerate(lines):
        out.append(line)
        if not (line.startswith("|") and k + 1 < len(lines) and lines[k + 1].startswith("|")):
            out.append("")
    return "\n".join(out)


# --- Word-style HTML (corpus/html/shuyang-fgj-2023.html).

_FULLWIDTH = str.maketrans({"(": "（", ")": "）", ":": "：", ",": "，", ";": "；"})
_SPAN = '<span style="font-family: 微软雅黑;">{}</span>'
_P = '<p style="text-align: justify; line-height: 2; font-family: 微软雅黑;" align="">{}</p>'
_TABLE = (
    '<table style="BORDER-COLLAPSE:collapse" cellspacing="0" cellpadding="2" '
    'bordercolor="#000000" border="1">\n  <tbody>\n{}\n  </tbody>\n</table>'
)


def _html_paragraph(text: str) -> str:
    """A Word paragraph: the first character in its own span (Word splits runs like '一' '、本年…')."""
    esc = _html.escape(text.translate(_FULLWIDTH), quote=False)
    spans = _SPAN.format(esc[:1]) + _SPAN.format(esc[1:]) if len(esc) > 2 else _SPAN.format(esc)
    return _P.format(spans + '<span style="font-family: 微软雅黑;"><o:p></o:p></span>')


def _html_cell(cell: GridCell) -> str:
    attrs = "".join(f' {a}="{n}"' for a, n in (("rowspan", cell.rowspan), ("colspan", cell.colspan)) if n > 1)
    if cell.text:
        body = "".join(_html_paragraph(part) for part in re.split(r"\n+", cell.text))
    else:
        body = _P.format('<span style="font-family: 微软雅黑;"><o:p>&nbsp;</o:p></span>')
    return f'      <td{attrs} style="font-family: 微软雅黑;" valign="center">\n      {body}\n      </td>'


def _html_table(grid: Grid) -> str:
    rows = ["    <tr>\n" + "\n".join(_html_cell(c) for c in row) + "\n    </tr>" for row in grid]
    return _TABLE.format("\n".join(rows))


def render_html(report: dict[str, Any]) -> str:
    """The whole report as a Word-generated HTML page: section headings in <p>, tables with rowspan/colspan."""
    agency, year = report.get("agency") or "", report.get("year")
    title = _html.escape(f"{agency}{year}年政府信息公开工作年度报告")
    body = [f'<h1 class="article-title">{title}</h1>']
    body += [_html_paragraph(t) for t in _opening(report)]
    for heading, grid in report_grids(report):
        body.append(_html_paragraph(heading))
        body.append(_html_table(grid))
    body += [_html_paragraph(t) for t in _CLOSING]
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f'<title>{title}</title>\n</head>\n<body>\n<div class="article-content" id="zoomcon">\n'
        + "\n".join(body)
        + "\n</div>\n</body>\n</html>\n"
    )


# --- Random valid reports (benchmarks, synthetic files, and the seed of the hypothesis strategies).


def _random_value(
    rng: random.Random, blank_rate: float, text_rate: float, *, signed: bool = False, decimal: bool = False
) -> Any:
    """A cell value: mostly zeros and small counts, some large numbers, blanks and '/' at the given rates."""
    roll = rng.random()
    if roll < blank_rate:
        return None
    if roll < blank_rate + text_rate:
        return rng.choice(NON_NUMERIC_TEXTS)
    if decimal and rng.random() < 0.5:
        return float(Decimal(rng.randrange(0, 10**11)) / Decimal(10 ** rng.randint(1, 6)))
    n = rng.choice((0, 0, rng.randint(1, 99), rng.randint(100, 10**7), rng.randint(10**7, 10**12)))
    return -n if signed and rng.random() < 0.2 else n


def random_report(
    rng: random.Random,
    version: str = S.FORMAT_2021,
    *,
    other_single_row: bool = False,
    agency: str = "某县人民政府办公室",
    year: int = 2023,
    blank_rate: float = 0.03,
    text_rate: float = 0.03,
) -> dict[str, Any]:
    """A random valid report in the corpus JSON shape; `other_single_row` prints (六) as one row."""
    v = lambda **kw: _random_value(rng, blank_rate, text_rate, **kw)
    single = other_single_row or version == S.FORMAT_2019
    keys = S.APPLICATION_ROW_KEYS_SINGLE if single else S.APPLICATION_ROW_KEYS_SUBROWS
    apps = {k: [v() for _ in S.APPLICANT_COLUMNS] for k in keys}
    review = {g: [v() for _ in S.REVIEW_OUTCOMES] for g, _ in S.REVIEW_GROUPS}
    report: dict[str, Any] = {
        "agency": agency,
        "year": year,
        "region": None,
        "format_version": version,
        "tables": {"active": None, "applications": apps, "review_litigation": review},
    }
    if version == S.FORMAT_2019:
        report["active_2019_format"] = {
            "rules": [v(), v(), v()],
            "normative_docs": [v(), v(), v()],
            **{k: [v(), v(signed=True), v()] for k in ("licensing", "other_services", "punishment", "enforcement")},
            "fees": [v(), v(signed=True)],
            "procurement": [v(), v(decimal=True)],
        }
    else:
        report["tables"]["active"] = {
            "rules": [v(), v(), v()],
            "normative_docs": [v(), v(), v()],
            "licensing": v(),
            "punishment": v(),
            "enforcement": v(),
            "fees_10k_yuan": v(decimal=True),
        }
    return report


def cell_slots(report: dict[str, Any]) -> list[tuple[Any, Any]]:
    """(container, key or index) of every statutory cell of a report, in printed order."""
    tables = report["tables"]
    groups = [report.get("active_2019_format") or tables["active"], tables["applications"], tables["review_litigation"]]
    slots = []
    for group in groups:
        for key, value in group.items():
            slots += [(value, i) for i in range(len(value))] if isinstance(value, list) else [(group, key)]
    return slots
