"""The data-docs site of the shared nightly run, parsed with lxml: list, agency pages, escaping, offline."""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path

import lxml.html
import markupsafe
import pandas as pd
import pytest
from checkpoint_support import XSS_AGENCY, failing_frame, landing_summary, shared_nightly
from hypothesis import given, settings
from hypothesis import strategies as st

from nianbao import datafolder, report
from nianbao import schema as S


@pytest.fixture(scope="module")
def site() -> Path:
    run = shared_nightly()
    assert run["proc"].returncode == 2, run["proc"].stderr[-3000:]
    return run["site"]


def page(path: Path):
    return lxml.html.fromstring(path.read_bytes())


def remote_references(doc) -> list[str]:
    """URLs the page would fetch by itself (scripts, styles, images, frames) that leave the machine."""
    refs = [el.get("src") or el.get("href") or "" for el in doc.iter("script", "link", "img", "iframe", "source")]
    return [r for r in refs if r.startswith(("http:", "https:", "//"))]


def test_site_is_a_swapped_build_of_the_latest_run(site):
    run = shared_nightly()
    assert site.is_symlink()
    assert site.resolve().name == (run["runs"] / "latest").resolve().name
    assert not list(site.parent.joinpath("builds").glob("*.partial"))


def test_landing_page_lists_failing_agencies(site):
    doc = page(site / "nianbao" / "index.html")
    rows = doc.xpath('//table[@id="list"]/tbody/tr')
    agencies = [r.xpath("./td[1]")[0].text_content() for r in rows]
    assert sorted(agencies) == sorted([XSS_AGENCY, "苏州市财政局", "天河区人民政府", "南山区人民政府"])
    first = {r.xpath("./td[1]")[0].text_content(): [c.text_content() for c in r.xpath("./td")] for r in rows}
    assert first["南山区人民政府"][3:9] == ["2", "0", "0", "R1.person R1.total", "新增", first["南山区人民政府"][8]]
    assert first["天河区人民政府"][4:7] == ["1", "1", "R9.review_litigation"]  # R4.review: not assessable
    data = json.loads(doc.get_element_by_id("data").text)
    assert len(data["rows"]) == 4 and {r[1] for r in data["rows"]} == set(agencies)
    for link in doc.xpath('//table[@id="list"]//a/@href'):
        assert (site / "nianbao" / link).is_file(), link  # agency pages and GX validation pages
    assert doc.get_element_by_id("kpi-failing").text_content() == "4"
    bars = doc.xpath("//svg//rect[@data-filter]")
    assert {b.xpath("./title")[0].text for b in bars} >= {"江苏省:2", "广东省:2", "R1 申请数量平衡:2"}


def test_agency_name_is_text_everywhere(site):
    """`<script>alert(1)</script>局` is shown as text on our pages and never reaches GX's pages."""
    for path in site.rglob("*.html"):
        for script in page(path).iter("script"):
            if script.get("type") == "application/json":  # data, parsed with JSON.parse
                assert "<" not in script.text, path
            else:
                assert "alert(1)" not in (script.text or ""), path
        if path.relative_to(site).parts[0] != "nianbao":  # GX's pages: only report ids, never names
            assert "alert(1)" not in path.read_text(encoding="utf-8"), path
    rid = S.report_id_for(XSS_AGENCY, "江苏省南京市玄武区", 2023)
    agency = page(site / "nianbao" / "agencies" / f"{rid}.html")
    assert agency.xpath("//title")[0].text.startswith(XSS_AGENCY)
    assert agency.xpath('//section[@id="meta"]//tr[1]/td')[0].text == XSS_AGENCY
    assert not list(agency.iter("script"))
    raw = (site / "nianbao" / "agencies" / f"{rid}.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;局" in raw


def test_agency_page_highlights_the_broken_identity(site):
    rid = S.report_id_for(XSS_AGENCY, "江苏省南京市玄武区", 2023)
    doc = page(site / "nianbao" / "agencies" / f"{rid}.html")
    bad = {td.get("data-column"): td.text_content() for td in doc.xpath('//td[contains(@class, "bad")]')}
    assert bad == {"review_upheld": "10", "review_corrected": "1", "review_other": "0", "review_pending": "0"}
    # The cell to correct is marked apart, with the value it should hold.
    likely = {td.get("data-column"): td.text_content() for td in doc.xpath('//td[contains(@class, "likely")]')}
    assert likely == {"review_total": "0应为 11"}
    marked = doc.xpath('//td[contains(@class, "bad") or contains(@class, "likely")]')
    assert all(td.get("data-rules") == "R4.review" for td in marked)
    diagnosis = doc.get_element_by_id("diagnosis").text_content()
    assert diagnosis.startswith("最可能需要改正的单元格") and "「表四·行政复议·总计」印刷为 0,应为 11" in diagnosis
    finding = doc.xpath('//div[@data-rule="R4.review"]')[0].text_content()
    assert "应为 结果维持 10 + 结果纠正 1 + 其他结果 0 + 尚未审结 0 = 11" in finding and "印刷为 0" in finding
    assert "应改为 11" in finding
    gx = doc.xpath('//div[@data-rule="R4.review"]//a/@href')[0]
    assert (doc_path := (site / "nianbao" / "agencies" / gx).resolve()).is_file() and "review_litigation" in str(
        doc_path
    )
    tables = doc.xpath('//section[contains(@class, "statutory")]')
    assert [t.get("id") for t in tables] == ["t2", "t3", "t4"]
    assert len(doc.xpath('//section[@id="t3"]//td[@data-column]')) == 25 * 7


def test_run_writes_the_localisation_and_the_list_filters_on_it(site):
    """diagnoses.parquet beside findings.parquet; the list can show only reports localised uniquely."""
    run = shared_nightly()
    latest = (run["runs"] / "latest").resolve()
    diagnoses = pd.read_parquet(latest / "diagnoses.parquet")
    rid = S.report_id_for(XSS_AGENCY, "江苏省南京市玄武区", 2023)
    mine = diagnoses[diagnoses.report_id == rid]
    assert mine[["solution", "cell", "printed", "proposed", "kind"]].values.tolist() == [
        [1, "review_total", 0, 11, "fellegi-holt"]
    ]
    assert not mine.ambiguous.any() and set(diagnoses.run_id) == {latest.name}
    # 南山区 printed 新收 7 for 自然人 and 总计 over a (七)总计 of 5: two cells, found by the solver, and
    # 结转下年度 2 for both repairs R1 as well: a tie, listed as such.
    nanshan = diagnoses[diagnoses.report_id == S.report_id_for("南山区人民政府", "广东省深圳市南山区", 2023)]
    sets = {n: dict(zip(g.cell, g.proposed)) for n, g in nanshan.groupby("solution")}
    assert sorted(sets.values(), key=str) == [
        {"carried_forward_person": 2, "carried_forward_total": 2},
        {"new_person": 5, "new_total": 5},
    ]
    assert nanshan.ambiguous.all() and nanshan.best.all()
    landing = page(site / "nianbao" / "index.html")
    assert [o.get("value") for o in landing.xpath('//select[@id="f-loc"]/option')] == ["", "1", "2", "0"]
    rows = json.loads(landing.get_element_by_id("data").text)["rows"]
    located = {r[0]: r[11] for r in rows}
    assert located[rid] == 1 and located[S.report_id_for("苏州市财政局", "江苏省苏州市", 2023)] == 0


def test_missing_cell_is_shown_as_printed(site):
    rid = S.report_id_for("天河区人民政府", "广东省广州市天河区", 2023)
    doc = page(site / "nianbao" / "agencies" / f"{rid}.html")
    cell = doc.xpath('//td[@data-column="review_other"]')[0]
    assert cell.text_content() == "/" and "missing" in cell.get("class")
    assert "无法核验" in doc.xpath('//div[@data-rule="R4.review"]')[0].text_content()


def test_site_loads_nothing_from_the_network(site):
    for path in site.rglob("*.html"):
        assert remote_references(page(path)) == [], path
    ours = [site / "nianbao" / "index.html", *(site / "nianbao" / "agencies").glob("*.html")]
    for path in ours:
        csp = page(path).xpath('//meta[@http-equiv="Content-Security-Policy"]/@content')[0]
        assert "default-src 'none'" in csp


def test_gx_index_links_to_landing_page(site):
    doc = page(site / "index.html")
    assert "nianbao/index.html" in doc.xpath('//div[@class="banner"]/a/@href')
    links = doc.xpath("//table//a/@href")
    assert links and all((site / link).is_file() for link in links)
    assert not list(doc.iter("script"))
    run_times = doc.xpath("//table//tr/td[2]/text()")
    assert run_times and all(t.endswith("北京时间(UTC+8)") for t in run_times), run_times


def test_landing_page_for_100000_reports_stays_small_per_row():
    """30,000 failing agencies of 100,000 reports: all in the embedded data, 100 rows drawn."""
    n = 30_000
    from nianbao import findings as F

    frame = failing_frame(
        [f"机关{i}" for i in range(n)],
        [f"{['江苏省', '浙江省', '广东省'][i % 3]}某市{i % 97}区" for i in range(n)],
        [f"R{1 + i % 4}.total" for i in range(n)],
    )
    summary = landing_summary(frame, 100_000)
    started = time.perf_counter()
    html = report.landing_page(summary, frame, F.empty(), {"applications_2021": "validations/x.html"}, [])
    print(f"landing page for {n} failing agencies: {len(html) / 1e6:.1f} MB in {time.perf_counter() - started:.2f} s")
    doc = lxml.html.fromstring(html)
    assert len(doc.xpath('//table[@id="list"]/tbody/tr')) == 100
    assert len(json.loads(doc.get_element_by_id("data").text)["rows"]) == n
    assert len(html) < 200 * n  # compact rows, not one HTML table row per agency
    # Up to EMBEDDED_EXPORT_MAX findings the page carries them for its downloads; beyond, none, and
    # its buttons say to use `nianbao export`.
    exports = json.loads(doc.get_element_by_id("export-data").text)
    assert n == report.EMBEDDED_EXPORT_MAX and len(exports["f"]) == n
    bigger = F.to_frame(pd.concat([frame, frame.assign(rule_id="R5.applications")], ignore_index=True))
    doc = lxml.html.fromstring(report.landing_page(summary, bigger, F.empty(), {}, []))
    exports = json.loads(doc.get_element_by_id("export-data").text)
    assert "f" not in exports and "nianbao export" in exports["off"]


def test_agency_pages_written_by_workers_equal_the_serial_ones(site, tmp_path, monkeypatch):
    """Above report.PARALLEL_FROM pages, forked workers write them: the same bytes as one process."""
    from nianbao import findings as F

    run = shared_nightly()
    latest = (run["runs"] / "latest").resolve()
    summary = json.loads((latest / "run_results.json").read_text(encoding="utf-8"))
    findings = F.read(latest / "findings.parquet")
    reports = datafolder.read_reports(run["data"], set(findings.report_id))
    links = summary["gx"]["validation_pages"]
    written = {}
    for name, threshold in (("serial", 10**9), ("workers", 1)):
        monkeypatch.setattr(report, "PARALLEL_FROM", threshold)
        report.write_pages(tmp_path / name, summary, findings, F.empty(), reports, links, [])
        written[name] = {p.name: p.read_bytes() for p in (tmp_path / name / "nianbao" / "agencies").glob("*.html")}
    assert len(written["serial"]) == findings.report_id.nunique() > 1
    assert written["workers"] == written["serial"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.text()))
def test_page_escaping_is_jinjas(value):
    """The findings of an agency page are filled by str.format: escaped exactly as Jinja's autoescape does."""
    assert report._esc(value) == str(markupsafe.escape("" if value is None else value))


def test_findings_html_escapes_and_orders_the_findings():
    from nianbao import findings as F

    row = collections.namedtuple("Row", "rule_id severity status history message fix suite")
    items = [
        row("R9.x", "warn", F.FAILED, F.NEW, "警告", "f", "nowhere"),
        row("R4.review", "error", F.NOT_ASSESSABLE, F.PERSISTING, "缺少", "f", "s"),
        row("R1.total", "error", F.FAILED, F.NEW, '<script>alert("x")</script>&', "改 <b>", "s"),
    ]
    doc = lxml.html.fromstring(f"<div>{report._findings_html(items, {'s': '../gx/s.html'})}</div>")
    assert [d.get("data-rule") for d in doc.xpath("div")] == ["R1.total", "R9.x", "R4.review"]
    first = doc.xpath("div")[0]
    assert not first.xpath(".//script") and '<script>alert("x")</script>&' in first.text_content()
    assert "修改建议:改 <b>" in first.text_content() and not first.xpath(".//span[@class='fix']/b")
    assert first.xpath(".//a/@href") == ["../gx/s.html"]
    assert doc.xpath("div")[1].xpath(".//a") == []  # a suite without a GX page: no link


def test_named_rows_are_python_values_with_none_for_missing():
    frame = pd.DataFrame(
        {"report_id": ["A", "B"], "agency": ["甲", None], "year": [2023.0, float("nan")], "left_value": [1.5, None]}
    )
    rows = report._named_rows(frame)
    assert [tuple(r) for r in rows] == [("A", "甲", 2023.0, 1.5), ("B", None, None, None)]
    assert rows[0].agency == "甲" and report._named_rows(frame.iloc[:0]) == []


def test_jurisdiction_chart_breaks_ties_by_name():
    """More than 20 jurisdictions with equal counts: the same 20 bars whatever the row order."""
    from nianbao import findings as F

    provinces = [f"{c}省" for c in "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"]
    frame = failing_frame("局", provinces)
    summary = landing_summary(frame, 30)

    def bars(f):
        doc = lxml.html.fromstring(report.landing_page(summary, f, F.empty(), {}, []))
        return doc.xpath('//section[@id="charts"]//svg')[0].xpath(".//text[@text-anchor='end']/text()")

    assert bars(frame) == bars(frame.iloc[::-1]) == sorted(provinces)[:20]


def test_findings_explained_by_workers_equal_the_serial_ones(site, monkeypatch):
    """From findings.PARALLEL_FROM failures on, forked workers explain them: the same table and problems."""
    from nianbao import findings as F

    run = shared_nightly()
    stored = F.read((run["runs"] / "latest").resolve() / "findings.parquet")
    failed = stored[stored.status == F.FAILED]
    collected = F.Collected()
    for suite, rule_id, rid in zip(failed.suite, failed.rule_id, failed.report_id):
        collected.failures.append(F.Failure(suite, rule_id, rid))
        if F._is_presence(rule_id):
            collected.incomplete.append(F.Failure(suite, rule_id, rid))
    collected.failures.append(F.Failure("applications_2021", "R5.applications", failed.report_id.iloc[0]))
    reports = datafolder.read_reports(run["data"], set(stored.report_id))
    built = {}
    for name, threshold in (("serial", 10**9), ("workers", 1)):
        monkeypatch.setattr(F, "PARALLEL_FROM", threshold)
        built[name] = F.build("r", collected, reports, lambda rule, severity: True)
    (serial, serial_problems), (workers, worker_problems) = built["serial"], built["workers"]
    assert len(serial) == len(stored) + 1 > 2 and serial.equals(workers)
    assert serial_problems == worker_problems and [p["rule_id"] for p in serial_problems] == ["R5.applications"]
    keys = ["report_id", "rule_id", "status", "message"]
    assert serial[keys].drop_duplicates().merge(stored[keys]).shape[0] == len(stored)


def test_a_dead_worker_leaves_the_same_findings_and_pages(site, tmp_path, monkeypatch):
    """A forked worker that dies (out of memory, a crash) costs time, not output: this process redoes it."""
    import os

    from nianbao import findings as F

    run = shared_nightly()
    latest = (run["runs"] / "latest").resolve()
    stored = F.read(latest / "findings.parquet")
    failed = stored[stored.status == F.FAILED]
    collected = F.Collected(
        failures=[F.Failure(s, r, i) for s, r, i in zip(failed.suite, failed.rule_id, failed.report_id)]
    )
    reports = datafolder.read_reports(run["data"], set(stored.report_id))
    parent = os.getpid()

    def dies_in_a_child(original):
        def worker(*args):
            if os.getpid() != parent:
                os._exit(70)
            return original(*args)

        return worker

    # The functions the workers call inside their task are replaced (the task itself is sent by name).
    monkeypatch.setattr(F, "PARALLEL_FROM", 10**9)
    serial = F.build("r", collected, reports, lambda rule, severity: True)
    monkeypatch.setattr(F, "PARALLEL_FROM", 1)
    monkeypatch.setattr(F, "_explain_all", dies_in_a_child(F._explain_all))
    rebuilt = F.build("r", collected, reports, lambda rule, severity: True)
    assert rebuilt[0].equals(serial[0]) and rebuilt[1] == serial[1] and len(serial[0]) > 1

    summary = json.loads((latest / "run_results.json").read_text(encoding="utf-8"))
    links = summary["gx"]["validation_pages"]
    written = {}
    for name, threshold in (("serial", 10**9), ("dead", 1)):
        monkeypatch.setattr(report, "PARALLEL_FROM", threshold)
        if name == "dead":
            monkeypatch.setattr(report, "agency_page", dies_in_a_child(report.agency_page))
        report.write_pages(tmp_path / name, summary, stored, F.empty(), reports, links, [])
        written[name] = {p.name: p.read_bytes() for p in (tmp_path / name / "nianbao" / "agencies").glob("*.html")}
    assert written["dead"] == written["serial"] and len(written["serial"]) == stored.report_id.nunique()


@pytest.mark.parametrize(
    ("region", "parts"),
    [
        ("江苏省淮安市洪泽区", ("江苏省", "淮安市", "洪泽区")),
        ("北京市朝阳区", ("北京市", "北京市", "朝阳区")),  # 直辖市: its districts are the county level
        ("新疆维吾尔自治区伊犁哈萨克自治州伊宁市", ("新疆维吾尔自治区", "伊犁哈萨克自治州", "伊宁市")),
        ("内蒙古自治区锡林郭勒盟", ("内蒙古自治区", "锡林郭勒盟", "")),
        ("湖北省神农架林区", ("湖北省", "", "神农架林区")),  # no city above it
        ("山东省济南市市中区", ("山东省", "济南市", "市中区")),
        ("江苏省", ("江苏省", "", "")),
        (None, ("(未注明地区)", "", "")),
    ],
)
def test_region_drills_down_to_city_and_county(region, parts):
    assert report.region_parts(region) == parts


def test_times_are_beijing_time_and_gx_pages_lose_remote_references():
    assert report.beijing_time("2026-12-07T20:13:25+00:00") == "2026-12-08 04:13:25 北京时间(UTC+8)"
    from nianbao.run import site as site_mod

    gx = (
        "<html><head></head><body><style>a{background:url('https://x.example/logo.png')}</style>"
        '<script>function f(){$(".a").parent().fadeOut();}</script>'
        '<footer><a href="https://example.org/n">Subscribe</a></footer></body></html>'
    )
    out = site_mod.strip_remote(gx)
    assert "https:" not in out and "Subscribe" in out and site_mod.JQUERY_SHIM in out
    assert site_mod.strip_remote(out) == out  # idempotent: a page of an earlier run is cleaned again
    times = '<td>2026-12-07 23:59:37 UTC</td><td><div class="x">2026-12-07T08:09:47.5Z</div></td><p>UTC 2026</p>'
    assert site_mod.beijing_times(times) == (
        "<td>2026-12-08 07:59:37 北京时间(UTC+8)</td>"
        '<td><div class="x">2026-12-07 16:09:47 北京时间(UTC+8)</div></td><p>UTC 2026</p>'
    )


def test_checked_reports_per_region_are_one_group_by(site):
    run = shared_nightly()
    reports = pd.concat(pd.read_parquet(p) for p in (run["data"] / "reports").glob("*.parquet"))
    assert datafolder.checked_by_region(run["data"]) == reports.groupby("region").report_id.nunique().to_dict()
    data = json.loads(page(site / "nianbao" / "index.html").get_element_by_id("data").text)
    assert {tuple(data["reg"][i]): n for i, n in data["checked"]} == {
        report.region_parts(r): n for r, n in reports.groupby("region").report_id.nunique().items()
    }


def test_agency_page_shows_when_its_results_changed_in_beijing_time(site):
    """The run that made the page's results (nianbao.page_cache keeps it while they stay the same)."""
    from nianbao import page_cache

    run = shared_nightly()
    latest = (run["runs"] / "latest").resolve()
    rid = S.report_id_for(XSS_AGENCY, "江苏省南京市玄武区", 2023)
    meta = page(site / "nianbao" / "agencies" / f"{rid}.html").xpath('//section[@id="meta"]//tr')
    shown = {tr.xpath("./th")[0].text: tr.xpath("./td")[0].text for tr in meta}
    assert shown["结果更新时间"] == report.beijing_time(page_cache.read(latest)[rid][1])
    assert shown["结果更新时间"].endswith("北京时间(UTC+8)")


def test_agency_pages_reach_the_runs_gx_pages_through_a_page_per_suite(site):
    """An agency page links nianbao/gx/SUITE.html, which opens the run's GX validation page of the suite."""
    run = shared_nightly()
    summary = json.loads(((run["runs"] / "latest").resolve() / "run_results.json").read_text(encoding="utf-8"))
    links = summary["gx"]["validation_pages"]
    agencies = site / "nianbao" / "agencies"
    hrefs = {h for p in agencies.glob("*.html") for h in page(p).xpath("//div[@class and @data-rule]//a/@href")}
    assert hrefs and all(h.startswith("../gx/") for h in hrefs)
    for href in hrefs:
        gx_page = (agencies / href).resolve()
        refresh = page(gx_page).xpath('//meta[@http-equiv="refresh"]/@content')[0]
        target = (gx_page.parent / refresh.split("url=", 1)[1]).resolve()
        assert target == (site / links[gx_page.stem]).resolve() and target.is_file()
