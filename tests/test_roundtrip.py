"""Property-based round trips: random valid reports rendered in every real layout parse back exactly."""

from __future__ import annotations

import copy
import json
import os
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from nianbao import schema as S
from nianbao.parse import parse_file
from nianbao.parse import render as R
from nianbao.paths import ROOT

REAL = Path(os.environ.get("NIANBAO_CORPUS", ROOT.parent / "shared" / "corpus")) / "real"
# Deterministic and database-free, so CI reruns the same examples; 50 per layout and format. No
# shrinking: a 200-cell report shrinks for minutes, and `differences` already names the wrong cells.
ROUNDTRIP = settings(
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)

AGENCIES = (
    "深州市人民政府办公室",
    "沭阳县发展和改革局",
    "盐城市行政审批局",
    "国家新闻出版署",
    "盐边县新九镇人民政府",
    "武汉市东湖生态旅游风景区管理委员会卫生健康办公室",
)

EDGE_VALUES = (None, *R.NON_NUMERIC_TEXTS, "-", 0, 10**12)  # '-': a blank as converters and some pages print it


@st.composite
def reports(draw, version: str):
    """A random valid report of a format version: hypothesis picks the seed, the rates and edge cells.

    Drawing ~250 cells one by one costs hypothesis ~0.2 s per example; a seeded generator with
    hypothesis-chosen blank/text rates and forced edge values at chosen positions
    (the first and last cell of a row included) explores the same space at a fraction of the cost.
    """
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    report = R.random_report(
        rng,
        version,
        other_single_row=version == S.FORMAT_2021 and draw(st.integers(0, 9)) == 0,
        agency=draw(st.sampled_from(AGENCIES)),
        year=draw(st.integers(2019 if version == S.FORMAT_2019 else 2021, 2025)),
        blank_rate=draw(st.sampled_from((0.0, 0.03, 0.3))),
        text_rate=draw(st.sampled_from((0.0, 0.03, 0.3))),
    )
    slots = R.cell_slots(report)
    for _ in range(draw(st.integers(0, 4))):
        container, key = slots[draw(st.integers(0, len(slots) - 1))]
        container[key] = draw(st.sampled_from(EDGE_VALUES))
    return report


def parse_rendered(content: str, suffix: str):
    """Write one rendered report to a temporary file and parse it with the real parser."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"report{suffix}"
        path.write_text(content, encoding="utf-8")
        return parse_file(path)


def differences(expected, got, where: str = "") -> list[tuple[str, object, object]]:
    """(path, expected, got) of every cell that differs between two corpus-JSON structures."""
    if isinstance(expected, dict) and isinstance(got, dict):
        return [
            d
            for k in dict.fromkeys([*expected, *got])
            for d in differences(expected.get(k, "<absent>"), got.get(k, "<absent>"), f"{where}.{k}")
        ]
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        return [d for i, (a, b) in enumerate(zip(expected, got)) for d in differences(a, b, f"{where}[{i}]")]
    return [] if expected == got else [(where, expected, got)]


def assert_same(parsed, report: dict) -> None:
    """Every table comes back exactly, with its format version, and every non-numeric print is kept."""
    assert (parsed.status, parsed.reason) == ("parsed", "")
    assert parsed.format_version == report["format_version"]
    assert (
        differences(
            {"tables": report["tables"], "active_2019": report.get("active_2019_format")},
            {"tables": parsed.tables, "active_2019": parsed.active_2019},
        )
        == []
    )
    printed = {(c.table, c.column): c.text for c in parsed.cells}
    for key, values in report["tables"]["applications"].items():
        for (suffix, _), value in zip(S.APPLICANT_COLUMNS, values):
            assert printed.get(("applications", S.app_col(key, suffix))) == R.value_text(value)


@pytest.mark.parametrize("layout", R.LAYOUTS)
@ROUNDTRIP
@given(report=reports(S.FORMAT_2021))
def test_text_2021_roundtrip(layout, report):
    """A 2021-format report in each text layout parses back to the same tables."""
    assert_same(parse_rendered(R.render_text(report, layout), ".txt"), report)


@pytest.mark.parametrize("layout", R.LAYOUTS)
@ROUNDTRIP
@given(report=reports(S.FORMAT_2019))
def test_text_2019_roundtrip(layout, report):
    """A 2019-format (试行) report in each text layout parses back to the same tables."""
    assert_same(parse_rendered(R.render_text(report, layout), ".txt"), report)


# What each converter layout prints, so that the round trips above read every shape converters print.
CONVERTER_SHAPES = [  # (layout, format version, printed)
    ("markdown-split", S.FORMAT_2021, "### 行政诉讼 · 复议后起诉\n\n| 结果维持 |"),  # table 四 one table per group
    ("markdown-split", S.FORMAT_2021, "| 自然人 | 法人或其他组织 | 总计 |\n| --- | --- | --- |\n| - | - | - |"),
    ("markdown-split", S.FORMAT_2021, "| — | — | — | — | — |"),  # the five kinds of 法人或其他组织, dashes
    ("markdown-split", S.FORMAT_2021, "### (三)不予公开\n\n| 类别 | 数据1 |"),  # the group alone in a heading
    ("markdown-split", S.FORMAT_2019, "| (二)部分公开<br>(区分处理的"),  # a line break in a cell
    ("markdown-split", S.FORMAT_2019, "**四、结转下年度继续办理**"),  # a bold line over a row's table
    ("markdown-generic", S.FORMAT_2021, "| 类别 | 数据1 | 数据2 | 数据3 | 数据4 | 数据5 | 数据6 | 总计 |"),
    ("markdown-generic", S.FORMAT_2021, "| (三)不予公开 1\\.属于国家秘密 |"),  # the group in the row's cell
    ("markdown-generic", S.FORMAT_2021, "| 法人或其他组织-商业企业 |"),  # header rows flattened into one
    ("markdown-generic", S.FORMAT_2021, "| **(七)总计** |"),
    ("markdown-generic", S.FORMAT_2021, "本年收费金额\\|单位:万元"),  # an escaped bar
    ("markdown-generic", S.FORMAT_2021, "| 列1 | 列2 | 列3 | 列4 | 列5 | 列6 | 列7 | 列8 | 列9 | 列10 |"),
    ("markdown-generic", S.FORMAT_2019, "本年新<br>制作数量"),
    ("markdown-html", S.FORMAT_2019, '<td rowspan="3" colspan="3"'),  # table 三 an HTML block
    ("markdown-html", S.FORMAT_2019, "### 第二十条第(八)项\n\n| 列1 | 列2 | 列3 |"),  # counts tell the format
    ("markdown-html", S.FORMAT_2021, "### 第二十条第(五)项\n\n| 列1 | 列2 |"),
    ("markdown-html", S.FORMAT_2021, "### 行政复议\n\n| 列1 | 列2 | 列3 | 列4 | 列5 |"),
    ("markdown-html", S.FORMAT_2021, "### 行政诉讼\n\n| 类别 | 结果维持 |"),  # a table of its two groups as rows
]


@pytest.mark.parametrize("layout,version,printed", CONVERTER_SHAPES)
def test_converter_layouts_print_each_shape(layout, version, printed):
    """Each shape of the converters' Markdown is printed by one of the layouts the round trips read."""
    assert printed in R.render_text(R.random_report(random.Random(0), version), layout)


@ROUNDTRIP
@given(report=st.one_of(reports(S.FORMAT_2021), reports(S.FORMAT_2019)))
def test_html_roundtrip(report):
    """A report as a Word-generated HTML page (rowspan/colspan, split runs, &nbsp; blanks) parses back."""
    assert_same(parse_rendered(R.render_html(report), ".html"), report)


@settings(max_examples=20, derandomize=True, database=None, deadline=None)
@given(report=st.one_of(reports(S.FORMAT_2021), reports(S.FORMAT_2019)))
def test_html_bytes_and_decoded_text_read_the_same(report):
    """UTF-8 pages go to lxml as bytes, other encodings as decoded text: both read the same page."""
    from nianbao.parse import html

    page = R.render_html(report)
    as_bytes = html.read_page(page.encode("utf-8"), "utf8.html")
    as_text = html.read_page(page.replace('charset="utf-8"', 'charset="gb18030"').encode("gb18030"), "gb.html")
    with_bom = html.read_page(b"\xef\xbb\xbf" + page.encode("utf-8"), "bom.html")  # also the text path
    for other in (as_text, with_bom):
        assert (other.lines, other.paragraphs, other.title, other.images_at, other.tables) == (
            as_bytes.lines,
            as_bytes.paragraphs,
            as_bytes.title,
            as_bytes.images_at,
            as_bytes.tables,
        )


@settings(max_examples=20, derandomize=True, database=None, deadline=None)
@given(report=reports(S.FORMAT_2021), layout=st.sampled_from(R.LAYOUTS))
def test_title_metadata_roundtrip(report, layout):
    """Agency and year printed in the title come back as the report's metadata."""
    parsed = parse_rendered(R.render_text(report, layout), ".txt")
    assert (parsed.agency, parsed.year) == (report["agency"], report["year"])


# --- The renderers reproduce the real pages (so the round trips test what the parser will meet).


def _completed(doc: dict) -> dict:
    """A truncated corpus excerpt completed with zeros, so the whole report can be rendered."""
    doc = copy.deepcopy(doc)
    t = doc["tables"]
    if t["active"] is None and "active_2019_format" not in doc:
        t["active"] = {
            "rules": [0] * 3,
            "normative_docs": [0] * 3,
            "licensing": 0,
            "punishment": 0,
            "enforcement": 0,
            "fees_10k_yuan": 0,
        }
    apps = t["applications"] or {}
    t["applications"] = {k: apps.get(k, [0] * 7) for k in S.APPLICATION_ROW_KEYS_SUBROWS}
    t["review_litigation"] = t["review_litigation"] or {g: [0] * 5 for g, _ in S.REVIEW_GROUPS}
    return doc


@pytest.mark.parametrize(
    "name, layout, deviations",
    [
        ("005", "pipe", set()),
        ("011", "pipe", set()),
        ("009", "markdown", set()),
        ("007", "cell-per-line", {"(二)部分公开(区分处理的,只计这一情况,不计其他情形) |"}),  # label variant
        ("019", "paragraph", {"现行有效件", " 0"}),  # truncated header, ' 0'
    ],
)
def test_renderer_reproduces_real_layout(name, layout, deviations):
    """Every line of a real excerpt (but its cut-off last line and its noted oddities) is a rendered line."""
    doc = json.loads((REAL / f"{name}.json").read_text(encoding="utf-8"))
    real = (REAL / f"{name}.tables.txt").read_text(encoding="utf-8").splitlines()[:-1]  # last line is cut off
    rendered = set(R.render_text(_completed(doc), layout).split("\n"))
    assert {line for line in real if line not in rendered} == deviations


def test_grid_widths_match_the_form():
    """Tables 二, 三 and 四 are 4, 10 and 15 grid columns wide, in both formats."""
    for version in S.FORMAT_VERSIONS:
        grids = R.report_grids(R.random_report(random.Random(0), version))
        assert [R.grid_width(g) for _, g in grids] == [4, 10, 15]


def test_value_text_prints_decimals_without_exponent():
    """Fees print as written in a report: never '1e-06' or '180.33817400000001'."""
    assert R.value_text(0.000001) == "0.000001"
    assert R.value_text(180.338174) == "180.338174"
    assert R.value_text(None) == "" and R.value_text("/") == "/" and R.value_text(12) == "12"
