"""Metadata as real published pages print it: agency, year, region and the publication date.

Expected values were read off each page by hand: the agency and year from the page's title (ArticleTitle
meta, <title> and the title line agree on every page), the date from its PubDate meta and the
'来源：…时间：…' line under the title (they agree too). No page names a province, or a city and a county,
before its agency, so region stays unknown ('平潭综合实验区' is a zone, '沭阳县' a county alone).
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nianbao import ingest as I
from nianbao.ingest_file import ManifestError
from nianbao.parse import parse_file
from nianbao.parse.html import read_page
from nianbao.parse.metadata import PageFacts, publication_date, read_metadata

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("NIANBAO_CORPUS", ROOT.parent / "shared" / "corpus"))
GAJ, HZS, JTJ = "平潭综合实验区公安局", "平潭综合实验区行政审批局", "平潭综合实验区交通与建设局"
PINGTAN = "平潭综合实验区"

# (file under corpus/, agency, year, region, published)
PAGES = [
    ("html-series/gaj-2019.html", GAJ, 2019, None, "2020-01-17"),
    ("html-series/gaj-2020.html", GAJ, 2020, None, "2021-01-28"),
    ("html-series/gaj-2021.html", GAJ, 2021, None, "2022-01-14"),
    ("html-series/gaj-2022.html", GAJ, 2022, None, "2023-01-09"),
    ("html-series/gaj-2024.html", GAJ, 2024, None, "2025-01-20"),
    ("html-series/hzs-2022.html", HZS, 2022, None, "2023-01-09"),
    ("html-series/hzs-2023.html", HZS, 2023, None, "2024-01-30"),
    ("html-series/hzs-2024.html", HZS, 2024, None, "2025-01-24"),
    ("html-series/jtj-2022.html", JTJ, 2022, None, "2023-01-09"),
    ("html-series/jtj-2023.html", JTJ, 2023, None, "2024-01-30"),
    ("html-series/jtj-2024.html", JTJ, 2024, None, "2025-01-22"),
    ("html/pingtan-2021.html", PINGTAN, 2021, None, "2022-02-08"),
    ("html/pingtan-2022.html", PINGTAN, 2022, None, "2023-02-20"),
    ("html/pingtan-2023.html", PINGTAN, 2023, None, "2024-03-08"),
    ("html/pingtan-2024.html", PINGTAN, 2024, None, "2025-03-10"),
    ("html/pingtan-2025.html", PINGTAN, 2025, None, "2026-03-10"),
    # No PubDate meta and an empty '时间：' line; '采集时间' (when the archive crawled it) is no publication.
    ("html/shuyang-fgj-2023.html", "沭阳县发展和改革局", 2023, None, None),
    # '(2022年1月12日)' under the title is the report's own date, not a stated publication date.
    ("real/000.txt", "深州市人民政府办公室", 2021, None, None),
]


def test_every_page_has_a_case():
    files = {f"html-series/{p.name}" for p in (CORPUS / "html-series").glob("*.html")}
    files |= {f"html/{p.name}" for p in (CORPUS / "html").glob("*.html")}
    assert files | {"real/000.txt"} == {c[0] for c in PAGES}


@pytest.mark.parametrize("name,agency,year,region,published", PAGES, ids=[c[0] for c in PAGES])
def test_real_page_metadata(name, agency, year, region, published):
    report = parse_file(CORPUS / name)
    assert (report.agency, report.year, report.region, report.published) == (agency, year, region, published)
    assert report.to_json()["published"] == published


@pytest.mark.parametrize("name", [c[0] for c in PAGES if c[0].endswith(".html") and c[4]])
def test_page_text_alone_gives_the_same_date(name):
    """Crawled page text (no head): the '来源：…时间：…' line under the title gives the PubDate's day."""
    page = read_page((CORPUS / name).read_bytes(), name)
    assert publication_date(page.text()) == next(c[4] for c in PAGES if c[0] == name)


def test_article_title_is_preferred_to_author():
    """The Author meta is an abbreviation ('平潭公安局') or the drafting office: used only when no title names one."""
    facts = PageFacts(article_title="平潭综合实验区公安局2021年政府信息公开工作年度报告", author="平潭公安局")
    assert read_metadata("正文\n", facts).agency == GAJ
    assert read_metadata("正文\n", PageFacts(author="平潭公安局")).agency == "平潭公安局"
    assert read_metadata("正文\n", PageFacts(author="管委会办公室 张三 2021")).agency is None


NAV = "首页走进汉台新闻中心政务公开政府信息公开办事服务互动交流专题专栏汉中市汉台区教育体育局"

# (text, agency, year, region, published)
TEXTS = [
    # The whole navigation bar above a title is no agency (it ends in one, but where the name starts is unknown).
    (f"{NAV}\n2023年政府信息公开工作年度报告\n", None, 2023, None, None),
    ("首页走进汉台专题专栏汉台区教育体育局\n2023年政府信息公开工作年度报告\n", None, 2023, None, None),
    (
        f"{NAV}\n汉中市汉台区教育体育局2023年政府信息公开工作年度报告\n",
        "汉中市汉台区教育体育局",
        2023,
        "汉中市汉台区",
        None,
    ),
    ("首页>政务公开>年报\n某某县民政局\n2023年政府信息公开工作年度报告\n", "某某县民政局", 2023, None, None),
    (
        "当前位置：首页 > 年报 > 淮安市洪泽区财政局2022年政府信息公开工作年度报告\n",
        "淮安市洪泽区财政局",
        2022,
        "淮安市洪泽区",
        None,
    ),
    ("标题：沭阳县发展和改革局2023年政府信息公开年度报告\n", "沭阳县发展和改革局", 2023, None, None),
    # A space (or a full-width one) between the year and 年; full-width digits.
    ("淮安市洪泽区人民政府\n2024 年政府信息公开工作年度报告\n", "淮安市洪泽区人民政府", 2024, "淮安市洪泽区", None),
    ("某某市某某局２０２１\u3000年政府信息公开工作年度报告\n", "某某市某某局", 2021, None, None),
    # The general title shapes: a government by its division, 关于…的, year first, city and bureau.
    ("平潭综合实验区2023年度政府信息公开工作年度报告\n", PINGTAN, 2023, None, None),
    ("某某局关于2022年度政府信息公开工作的年度报告\n", "某某局", 2022, None, None),
    ("2022年某某市生态环境局政府信息公开工作年度报告\n", "某某市生态环境局", 2022, None, None),
    ("2022年度某某县人民政府政府信息公开工作年度报告\n", "某某县人民政府", 2022, None, None),
    ("某某市某某局2021年政府信息公开工作年度报告\n", "某某市某某局", 2021, None, None),
    ("2022年度政府信息公开工作年度报告\n", None, 2022, None, None),
    # Prose that happens to look like a title names no agency.
    ("2023年本局政府信息公开工作报告如下\n", None, 2023, None, None),
    # Publication-date lines near the title.
    ("某某局2022年政府信息公开工作年度报告\n发布时间: 2023-01-09 19:36\n", "某某局", 2022, None, "2023-01-09"),
    ("某某局2022年政府信息公开工作年度报告\n发布日期：2023年1月9日\n", "某某局", 2022, None, "2023-01-09"),
    ("发布日期：２０２３年１月９日\n某某局2022年政府信息公开工作年度报告\n", "某某局", 2022, None, "2023-01-09"),
    ("某某局2022年政府信息公开工作年度报告\n时间：2023-01-09\n", "某某局", 2022, None, "2023-01-09"),
    ("某某局2022年政府信息公开工作年度报告\n来源：某某局 时间：2023-01-09 10:00\n", "某某局", 2022, None, "2023-01-09"),
    ("某某局2022年政府信息公开工作年度报告\n发布 时间：2023/1/9\n", "某某局", 2022, None, "2023-01-09"),
    # Other dates are not the publication date: crawled, generated, written, or no such day.
    ("某某局2022年政府信息公开工作年度报告\n采集时间：2025-12-30T21:37:37+08:00\n", "某某局", 2022, None, None),
    ("某某局2022年政府信息公开工作年度报告\n成文日期：2023-01-05\n", "某某局", 2022, None, None),
    ("某某局2022年政府信息公开工作年度报告\n发布时间：2023-02-30\n", "某某局", 2022, None, None),
    ("某某局2022年政府信息公开工作年度报告\n(2023年1月12日)\n", "某某局", 2022, None, None),
    # Far below the title (a signature, the body) is not where a page states its publication.
    ("某某局2022年政府信息公开工作年度报告\n" + "正文。\n" * 10 + "发布日期：2023-01-09\n", "某某局", 2022, None, None),
]


@pytest.mark.parametrize("text,agency,year,region,published", TEXTS)
def test_text_metadata(text, agency, year, region, published):
    meta = read_metadata(text + "二、主动公开政府信息情况\n")
    assert (meta.agency, meta.year, meta.region) == (agency, year, region)
    assert publication_date(text + "二、主动公开政府信息情况\n") == published


def test_page_pub_date_wins_over_the_text():
    facts = PageFacts(pub_date="2022-01-14 17:29")
    assert publication_date("某某局2021年政府信息公开工作年度报告\n发布时间：2022-03-01\n", facts) == "2022-01-14"
    assert publication_date("某某局2021年政府信息公开工作年度报告\n发布时间：2022-03-01\n", PageFacts()) == "2022-03-01"
    assert publication_date("正文\n", PageFacts(pub_date="不详")) is None


# --- Through ingest: the reports table's `published` column (date32), the manifest, old data folders.


def _reports(out: Path) -> dict[str, dict]:
    """The reports rows of a data folder by source file name (every file of the table, old and new)."""
    rows = [r for f in sorted((out / "reports").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    return {Path(r["source_file"]).name: r for r in rows}


def test_ingest_stores_the_publication_date(tmp_path):
    """The page's date lands in `published` as a date32 day; a page without one leaves it null."""
    out = tmp_path / "data"
    I.ingest([CORPUS / "html-series" / "jtj-2022.html", CORPUS / "html" / "shuyang-fgj-2023.html"], out, workers=1)
    (table,) = [pq.read_table(f) for f in (out / "reports").glob("*.parquet")]
    assert table.schema.field("published").type == pa.date32()
    rows = _reports(out)
    assert rows["jtj-2022.html"]["published"] == date(2023, 1, 9)
    assert rows["shuyang-fgj-2023.html"]["published"] is None


def test_manifest_published_overrides_the_page(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(CORPUS / "html-series" / "jtj-2022.html", src / "a.html")
    shutil.copy(CORPUS / "html-series" / "hzs-2022.html", src / "b.html")
    manifest = src / "m.csv"
    manifest.write_text("file,published\na.html,2023-02-01\nb.html,\n", encoding="utf-8")
    I.ingest([src], tmp_path / "data", manifest=manifest, workers=1)
    rows = _reports(tmp_path / "data")
    assert rows["a.html"]["published"] == date(2023, 2, 1)  # the manifest's day
    assert rows["b.html"]["published"] == date(2023, 1, 9)  # blank cell: the page's PubDate


@pytest.mark.parametrize("value", ["2023/02/01", "2023-02-30", "23-2-1", "明年"])
def test_bad_manifest_published_names_file_and_line(tmp_path, value):
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"file,agency,published\nx.html,甲,2023-02-01\ny.html,乙,{value}\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=re.escape(f"{manifest}:3:") + ".*published"):
        I.read_manifest(manifest)


def test_old_data_folder_without_the_column(tmp_path):
    """A reports file written before `published` existed is merged into, and read, as before: its rows have
    no date, the new rows keep theirs."""
    out = tmp_path / "data"
    (out / "reports").mkdir(parents=True)
    old = ROOT / "data" / "reports" / "synth-2026-00000.parquet"
    assert "published" not in pq.read_schema(old).names
    shutil.copy(old, out / "reports" / old.name)
    I.ingest([CORPUS / "html-series" / "gaj-2021.html"], out, workers=1)
    rows = _reports(out)
    assert rows["gaj-2021.html"]["published"] == date(2022, 1, 14)
    assert len(rows) > 1 and all(r.get("published") is None for n, r in rows.items() if n != "gaj-2021.html")
