"""The auditors' pages in a real headless browser (Debian's chromium), driven over the DevTools protocol
(browser_support.py). The pages are opened from file://; every request the page makes is recorded, and
any that is not file:// is a failure.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
import pdfplumber
import pytest
from browser_support import NO_CHROMIUM, Browser
from checkpoint_support import XSS_AGENCY, failing_frame, landing_summary, run_cli, shared_nightly

from nianbao import findings as F
from nianbao import report
from nianbao import schema as S

pytestmark = [pytest.mark.browser, NO_CHROMIUM]


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


def rows(b: Browser) -> list[str]:
    return b.js("[...document.querySelectorAll('#list tbody tr td:first-child')].map(td => td.textContent)")


def test_landing_and_agency_pages_render_filter_and_stay_on_the_machine(browser):
    run = shared_nightly()
    assert run["proc"].returncode == 2, run["proc"].stderr[-3000:]
    site = run["site"]
    browser.open((site / "nianbao" / "index.html").as_uri())
    assert sorted(rows(browser)) == sorted([XSS_AGENCY, "苏州市财政局", "天河区人民政府", "南山区人民政府"])
    assert browser.js("document.getElementById('count').textContent") == "共 4 个单位"

    browser.type("q", "南山")
    assert rows(browser) == ["南山区人民政府"]
    browser.js(
        "document.getElementById('q').value = ''; document.getElementById('q').dispatchEvent(new Event('input'))"
    )
    browser.js("new Promise(r => setTimeout(r, 400))")
    browser.js("{const s = document.getElementById('f-sev'); s.value = 'warn'; s.dispatchEvent(new Event('change'))}")
    assert sorted(rows(browser)) == ["天河区人民政府", "苏州市财政局"]
    browser.js("{const s = document.getElementById('f-sev'); s.value = ''; s.dispatchEvent(new Event('change'))}")
    browser.js("""[...document.querySelectorAll('svg rect[data-filter]')]
                  .find(r => r.querySelector('title').textContent.startsWith('广东省'))
                  .dispatchEvent(new MouseEvent('click', {bubbles: true}))""")
    assert sorted(rows(browser)) == ["南山区人民政府", "天河区人民政府"]

    rid = S.report_id_for(XSS_AGENCY, "江苏省南京市玄武区", 2023)
    browser.open((site / "nianbao" / "agencies" / f"{rid}.html").as_uri())
    assert browser.js("document.title").startswith(XSS_AGENCY)
    highlighted = browser.js("""[...document.querySelectorAll('td.bad')].map(td =>
        [td.dataset.column, td.textContent, getComputedStyle(td).backgroundColor])""")
    assert {c: t for c, t, _ in highlighted} == {
        "review_upheld": "10",
        "review_corrected": "1",
        "review_other": "0",
        "review_pending": "0",
    }
    assert {bg for _, _, bg in highlighted} == {"rgb(248, 201, 201)"}
    # The cell to correct is marked apart (td.likely), with the value it should hold.
    assert browser.js("[...document.querySelectorAll('td.likely')].map(td => td.dataset.column)") == ["review_total"]
    # Its GX link opens, through the page nianbao writes for the suite each run, GX's validation page.
    href = browser.js("document.querySelector('#findings a.small').getAttribute('href')")
    assert href.startswith("../gx/")
    seen = len(browser.events)
    browser.js("document.querySelector('#findings a.small').click()")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(e["method"] == "Page.loadEventFired" for e in browser.events[seen:]) < 2:
        browser._pump(0.1)
    assert f"/validations/{Path(href).stem}/" in browser.js("location.pathname")

    browser.open((site / "index.html").as_uri())  # GX's index, rendered static and offline
    assert browser.js("document.querySelector('.banner a').getAttribute('href')") == "nianbao/index.html"
    browser.open(next(site.glob("validations/review_litigation/**/*.html")).as_uri())  # a GX validation page
    assert "R4.review" in browser.js("document.body.innerText")

    assert browser.problems() == []
    requests = browser.requests()
    assert requests and all(u.startswith("file://") for u in requests), requests


def test_large_landing_page_filters_fast(browser, tmp_path):
    """30,000 failing agencies: the list pages 100 rows and a search re-filters all of them."""
    n = 30_000
    frame = failing_frame(
        [f"机关{i}" for i in range(n)],
        [f"{['江苏省', '浙江省', '广东省'][i % 3]}某市" for i in range(n)],
        [f"R{1 + i % 4}.total" for i in range(n)],
    )
    summary = landing_summary(frame, 100_000)
    (tmp_path / "nianbao").mkdir()
    landing = tmp_path / "nianbao" / "index.html"
    landing.write_text(report.landing_page(summary, frame, F.empty(), {}, []), encoding="utf-8")
    started = time.perf_counter()
    browser.open(landing.as_uri())
    print(f"\nopened a landing page of {n} failing agencies in {time.perf_counter() - started:.2f} s")
    assert len(rows(browser)) == 100
    started = time.perf_counter()
    browser.type("q", "机关2999")
    print(f"search over {n} agencies answered in {time.perf_counter() - started - 0.4:.3f} s after typing")
    assert browser.js("document.getElementById('count').textContent") == "共 11 个单位"
    assert browser.problems() == []


def select(b: Browser, element_id: str, value: str) -> None:
    """Choose an option as a user would: the value, then a change event."""
    b.js(
        f"{{const s = document.getElementById({element_id!r}); s.value = {value!r};"
        " s.dispatchEvent(new Event('change'))}"
    )


def region_table(b: Browser) -> dict[str, list[int]]:
    return b.js("""Object.fromEntries([...document.querySelectorAll('#region-counts tbody tr')].map(tr =>
        [tr.dataset.region, [+tr.cells[1].textContent, +tr.cells[2].textContent]]))""")


def test_city_filter_is_shared_by_url_and_counts_regions(browser, tmp_path):
    """Filter to one city; the URL alone brings the same filter and rows back in a fresh browser. The
    checked-versus-failed table equals the data folder and the run's findings, by 省 then by 市."""
    run = shared_nightly()
    site, latest = run["site"], (run["runs"] / "latest").resolve()
    landing = (site / "nianbao" / "index.html").as_uri()
    browser.open(landing)
    select(browser, "f-jur", "广东省")
    assert browser.js("[...document.getElementById('f-city').options].map(o => o.value)") == ["", "广州市", "深圳市"]
    select(browser, "f-city", "深圳市")
    assert rows(browser) == ["南山区人民政府"]
    url = browser.js("location.href")
    assert url.startswith(landing + "#") and "f-city=" in url

    fresh = Browser(tmp_path / "fresh")
    try:
        fresh.open(url)
        assert fresh.js("[document.getElementById('f-jur').value, document.getElementById('f-city').value]") == [
            "广东省",
            "深圳市",
        ]
        assert rows(fresh) == ["南山区人民政府"]
        assert region_table(fresh) == {"南山区": [1, 1]}  # by county, within the city
        assert fresh.problems() == []
    finally:
        fresh.close()

    # Checked per region from the data folder itself; failing agencies from the run's findings.
    reports = pd.concat(pd.read_parquet(p) for p in (run["data"] / "reports").glob("*.parquet"))
    findings = pd.read_parquet(latest / "findings.parquet")
    failing = findings[(findings.status == F.FAILED) & ~findings.get("waived", False)].drop_duplicates("report_id")
    expected: dict[str, list[int]] = {}
    for region in reports.region:
        expected.setdefault(report.region_parts(region)[0], [0, 0])[0] += 1
    for region in failing.region:
        expected[report.region_parts(region)[0]][1] += 1
    select(browser, "f-city", "")
    select(browser, "f-jur", "")
    assert region_table(browser) == expected
    assert expected["江苏省"] == [2, 2] and expected["浙江省"][1] == 0
    select(browser, "f-jur", "广东省")
    assert region_table(browser) == {"广州市": [1, 1], "深圳市": [1, 1]}
    select(browser, "f-jur", "")
    select(browser, "f-lvl", str(list(S.LEVELS).index("city_department")))  # 行政层级
    assert rows(browser) == ["苏州市财政局"]
    select(browser, "f-lvl", "")

    # Times in Beijing time, the zone named; rule names in Chinese in the rule filter.
    summary = json.loads((latest / "run_results.json").read_text(encoding="utf-8"))
    shown = browser.js("document.getElementById('started-at').textContent")
    assert shown == report.beijing_time(summary["started_at"]) and shown.endswith("北京时间(UTC+8)")
    utc = datetime.fromisoformat(summary["started_at"])
    assert shown.startswith((utc + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M"))
    options = browser.js("[...document.getElementById('f-rule').options].slice(1).map(o => o.textContent)")
    assert "R1 申请数量平衡" in options and any(o.startswith("R1.total 表三") for o in options), options
    assert all(re.search(r"[\u4e00-\u9fff]", o) for o in options), options
    assert browser.problems() == []


def pdf_text(data: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [p.extract_text() or "" for p in pdf.pages]


def test_printed_landing_has_every_row_and_no_controls_and_table_four_fits(browser, tmp_path):
    """Printed, the list is every filtered row (150 here, the screen shows 100), without the filters;
    an agency page's table 四 keeps all 16 columns on A4."""
    n = 150
    frame = failing_frame(
        [f"机关{i:03d}号" for i in range(n)],
        ["江苏省淮安市洪泽区" if i % 2 else "江苏省苏州市吴江区" for i in range(n)],
    )
    summary = landing_summary(frame, 1000, "2026-01-01T00:00:00+00:00")
    (tmp_path / "nianbao").mkdir()
    landing = tmp_path / "nianbao" / "index.html"
    landing.write_text(report.landing_page(summary, frame, F.empty(), {}, []), encoding="utf-8")
    url = landing.as_uri() + "#f-jur=江苏省&f-city=淮安市"
    browser.open(url)
    assert len(rows(browser)) == 75 and browser.js("document.getElementById('count').textContent") == "共 75 个单位"
    pdf = browser.send("Page.printToPDF", session=True, timeout=60, preferCSSPageSize=True, printBackground=True)
    printed = "\n".join(pdf_text(base64.b64decode(pdf["data"])))
    expected = {f"机关{i:03d}号" for i in range(1, n, 2)}
    assert {a for a in expected if a in printed} == expected  # every filtered row, the 100-row page or not
    assert "机关000号" not in printed  # the filter holds in print
    assert "上一页" not in printed and "搜索" not in printed  # no controls
    assert len(rows(browser)) == 75  # printing is over: the screen is back to one page

    run = shared_nightly()
    rid = S.report_id_for(XSS_AGENCY, "江苏省南京市玄武区", 2023)
    agency = (run["site"] / "nianbao" / "agencies" / f"{rid}.html").as_uri()
    data = browser.print_pdf(agency, preferCSSPageSize=True, printBackground=True)
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        words = [(w["text"], w["x1"], p.width) for p in pdf.pages for w in p.extract_words()]
        text = "\n".join(p.extract_text() or "" for p in pdf.pages)
    assert "复议后起诉" in text
    # 表四's only row: its label and every printed number on one line, none beyond the page's edge.
    line = next(li for li in text.splitlines() if li.startswith("件数"))
    assert len(line.split()) == 1 + len(S.REVIEW_GROUPS) * len(S.REVIEW_OUTCOMES), line
    assert all(x1 <= width for _, x1, width in words)
    assert browser.problems() == []


def test_gx_validation_page_works_offline_in_light_and_dark(browser):
    """GX's own page: 'Failed Only' hides the passing expectations (it threw `$ is not defined` once
    jQuery's CDN tag was gone), no console error, and in dark mode no request for GX's logo."""
    run = shared_nightly()
    page = next(run["site"].glob("validations/review_litigation/**/*.html")).as_uri()
    for scheme in ("light", "dark"):
        browser.send(
            "Emulation.setEmulatedMedia", session=True, features=[{"name": "prefers-color-scheme", "value": scheme}]
        )
        browser.open("about:blank")
        browser.open(page)
        passing = "[...document.querySelectorAll('.hide-succeeded-validation-target-child')].map(e => e.parentElement)"
        assert browser.js(f"{passing}.length") > 0  # rows of expectations that passed
        browser.js("[...document.querySelectorAll('label')].find(l => l.textContent.includes('Failed Only')).click()")
        assert browser.js(f"{passing}.every(e => getComputedStyle(e).display === 'none')")
        browser.js("[...document.querySelectorAll('label')].find(l => l.textContent.includes('Show All')).click()")
        assert browser.js(f"{passing}.every(e => getComputedStyle(e).display !== 'none')")
    assert browser.problems() == []
    requests = [u for u in browser.requests() if u != "about:blank"]
    assert requests and all(u.startswith("file://") for u in requests), requests
    remote = "/^(https?:)?\\/\\//.test(a.getAttribute('href'))"
    assert not browser.js(f"[...document.querySelectorAll('a[href]')].filter(a => {remote}).length")


def _download(b: Browser, button: str) -> bytes:
    """Click a download button and return the file it hands the browser (the Blob behind its link)."""
    b.js("""if (!window.__blobs) { const make = URL.createObjectURL.bind(URL);
            URL.createObjectURL = blob => { window.__blobs.push(blob); return make(blob); } }
            window.__blobs = [];""")
    b.js(f"document.getElementById({button!r}).click()")
    encoded = b.js("""new Promise(done => { const r = new FileReader();
        r.onload = () => done(r.result.split(',')[1]); r.readAsDataURL(window.__blobs[0]); })""")
    return base64.b64decode(encoded)


def test_xlsx_and_csv_downloads_hold_the_filtered_findings(browser, tmp_path):
    """Filter to one city, download: the workbook (opened with openpyxl) has exactly that city's findings,
    with the columns and texts of `nianbao export`, and the `=` agency name is a string, not a formula."""
    import openpyxl
    from test_export import CITY, FORMULA_AGENCY, export_run

    run = export_run()
    browser.open((run["site"] / "nianbao" / "index.html").as_uri())
    select(browser, "f-jur", "广东省")
    select(browser, "f-city", "深圳市")
    assert sorted(rows(browser)) == sorted([FORMULA_AGENCY, "南山区人民政府", "深圳市交通运输局"])
    book = openpyxl.load_workbook(io.BytesIO(_download(browser, "dl-xlsx")))
    header, *body = [tuple(c.value for c in r) for r in book.active.iter_rows()]
    cli = tmp_path / "cli.xlsx"
    proc = run_cli(run["root"], "export", "--region", CITY, "--out", str(cli))
    assert proc.returncode == 0, proc.stderr[-3000:]
    want_header, *want = [tuple(c.value for c in r) for r in openpyxl.load_workbook(cli).active.iter_rows()]
    assert header == want_header
    assert sorted(body, key=str) == sorted(want, key=str)  # every column, every finding, none other
    findings = pd.read_parquet(run["run"] / "findings.parquet")
    assert len(body) == int(findings.region.fillna("").str.startswith(CITY).sum())
    assert all(c.data_type != "f" for r in book.active.iter_rows() for c in r)

    select(browser, "f-rule", "R4")  # the rule filter narrows the rows to that family's findings
    rule_rows = list(csv.reader(_download(browser, "dl-csv").decode("utf-8-sig").splitlines()))[1:]
    assert rule_rows and all(r[4].startswith("R4.") for r in rule_rows)
    assert sorted({r[0] for r in rule_rows} - {"南山区人民政府"}) == ["'" + FORMULA_AGENCY]
    assert browser.problems() == []


def test_a_night_too_large_for_one_page_is_split_by_province(browser, tmp_path, monkeypatch):
    """Above report.LANDING_ROWS_MAX agencies, the national page lists its first rows and one page per
    province lists the rest: every failing report is on its province's page, the province filter
    opens that page with the same filters, its links reach the agency pages, and 全部 leads back."""
    from nianbao import datafolder

    run = shared_nightly()
    latest = (run["runs"] / "latest").resolve()
    summary = json.loads((latest / "run_results.json").read_text(encoding="utf-8"))
    findings = F.read(latest / "findings.parquet")
    reports = datafolder.read_reports(run["data"], set(findings.report_id))
    checked = datafolder.checked_by_region(run["data"])
    monkeypatch.setattr(report, "LANDING_ROWS_MAX", 2)
    monkeypatch.setattr(report, "LISTED_FIRST", 1)
    links = summary["gx"]["validation_pages"]
    landing = report.write_pages(tmp_path, summary, findings, F.empty(), reports, links, [], checked=checked)
    provinces = sorted({report.jurisdiction(r) for r in findings.region.fillna("")})
    pages = sorted((tmp_path / "nianbao" / "regions").glob("*.html"))
    assert len(pages) == len(provinces) > 1

    browser.open(landing.as_uri())
    assert len(rows(browser)) == 1
    shard_links = browser.js("[...document.querySelectorAll('#shards a')].map(a => a.textContent)")
    assert shard_links == provinces
    # The checked-versus-failed table stays national: every failing report counted, not only those listed.
    failing = findings[(findings.status == F.FAILED) & ~findings.waived.fillna(False).astype(bool)]
    assert sum(v[1] for v in region_table(browser).values()) == failing.report_id.nunique()

    listed: list[str] = []
    for province in provinces:
        browser.follow(
            f"{{const s = document.getElementById('f-jur'); s.value = {province!r};"
            " s.dispatchEvent(new Event('change'))}"
        )
        assert "/regions/" in browser.js("location.pathname")
        assert browser.js("document.getElementById('f-jur').value") == province
        assert browser.js("document.querySelector('#summary h2').textContent").endswith(province)
        while True:
            listed += rows(browser)
            if browser.js("document.getElementById('next').disabled"):
                break
            browser.js("document.getElementById('next').click()")
        href = browser.js("document.querySelector('#list tbody a').href")
        assert Path(unquote(urlparse(href).path)).is_file(), href
        browser.follow(
            "{const s = document.getElementById('f-jur'); s.value = ''; s.dispatchEvent(new Event('change'))}"
        )
        assert browser.js("location.pathname") == landing.as_posix()
    agencies = findings[~findings.waived.fillna(False).astype(bool)].drop_duplicates("report_id").agency
    assert sorted(listed) == sorted(agencies.fillna(""))
    assert browser.problems() == []
