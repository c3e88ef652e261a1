"""The auditors' pages in a real headless browser (Debian's chromium), driven over the DevTools protocol
(browser_support.py). The pages are opened from file://; every request the page makes is recorded, and
any that is not file:// is a failure.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest
from browser_support import NO_CHROMIUM, Browser
from checkpoint_support import XSS_AGENCY, shared_nightly

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
        "review_total": "0",
    }
    assert {bg for _, _, bg in highlighted} == {"rgb(248, 201, 201)"}

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
    frame = F.to_frame(
        pd.DataFrame(
            {
                "run_id": "r",
                "report_id": [f"R{i:016X}" for i in range(n)],
                "agency": [f"机关{i}" for i in range(n)],
                "region": [f"{['江苏省', '浙江省', '广东省'][i % 3]}某市" for i in range(n)],
                "year": 2024,
                "rule_id": [f"R{1 + i % 4}.total" for i in range(n)],
                "severity": "error",
                "status": "failed",
                "message": "m",
                "cells": "{}",
                "left_value": 1.0,
                "right_value": 2.0,
                "difference": -1.0,
                "suite": "applications_2021",
                "fix": "f",
                "history": "new",
            }
        )
    )
    summary = {
        "run_id": "r",
        "checkpoint": "nightly",
        "started_at": "",
        "data_dir": "",
        "select": [],
        "previous_run_id": None,
        "reports_validated": 100_000,
        "counts": F.counts(frame, F.empty()),
    }
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
