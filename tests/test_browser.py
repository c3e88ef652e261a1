"""The auditors' pages in a real headless browser (Debian's chromium), driven over the DevTools protocol.

Chromium talks DevTools over a pipe (--remote-debugging-pipe: JSON messages ending in NUL on fds 3
and 4), so the test needs no websocket library and opens no port. The pages are opened from file://;
every request the page makes is recorded, and any that is not file:// is a failure.
"""
from __future__ import annotations

import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from checkpoint_support import XSS_AGENCY, shared_nightly
from nianbao import findings as F
from nianbao import report
from nianbao import schema as S

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--no-default-browser-check", "--mute-audio")

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (scripts/test.sh installs it)")]


def _high_fd(fd: int) -> int:
    """The same pipe end on a descriptor above 4, so the child's dup2 onto 3 and 4 cannot clobber it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Browser:
    """A headless chromium and one page, spoken to with the DevTools protocol over a pipe."""

    def __init__(self, profile: Path):
        cmd_read, self._cmd = map(_high_fd, os.pipe())
        self._evt, evt_write = map(_high_fd, os.pipe())

        def child():                                   # chromium reads fd 3 and writes fd 4
            os.dup2(cmd_read, 3)
            os.dup2(evt_write, 4)

        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
                                      "about:blank"], preexec_fn=child, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_read)
        os.close(evt_write)
        self._next, self._replies, self.events = 0, {}, []
        self._arrived = queue.Queue()
        threading.Thread(target=self._reader, daemon=True).start()
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable", session=True)

    def _reader(self):
        buf = b""
        while chunk := os.read(self._evt, 1 << 16):
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for m in messages:
                self._arrived.put(json.loads(m))

    def _pump(self, timeout: float) -> None:
        msg = self._arrived.get(timeout=timeout)
        if "id" in msg:
            self._replies[msg["id"]] = msg
        else:
            self.events.append(msg)

    def send(self, method: str, session: bool = False, timeout: float = 30, **params):
        """Send one command and wait for its reply."""
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._cmd, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while self._next not in self._replies:
            self._pump(max(0.01, deadline - time.monotonic()))
        reply = self._replies.pop(self._next)
        assert "error" not in reply, reply
        return reply.get("result", {})

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        seen = len(self.events)
        self.send("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + 30
        while not any(e["method"] == "Page.loadEventFired" for e in self.events[seen:]):
            self._pump(max(0.01, deadline - time.monotonic()))

    def js(self, expression: str):
        """Evaluate in the page (promises awaited) and return the value."""
        result = self.send("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                           awaitPromise=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def type(self, element_id: str, text: str) -> None:
        """Focus an input and type into it as a user would (input events), then let the list settle."""
        self.js(f"document.getElementById({json.dumps(element_id)}).focus()")
        self.send("Input.insertText", session=True, text=text)
        self.js("new Promise(r => setTimeout(r, 400))")

    def drain(self) -> None:
        while not self._arrived.empty():
            self._pump(0.01)

    def problems(self) -> list:
        """Console errors, uncaught exceptions, dialogs (an injected alert()) and failed loads."""
        self.drain()
        bad = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.exceptionThrown" or m == "Page.javascriptDialogOpening" or m == "Network.loadingFailed":
                bad.append(e)
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                bad.append(e)
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                bad.append(e)
        return bad

    def requests(self) -> list[str]:
        self.drain()
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)
        os.close(self._cmd)


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
    browser.js("document.getElementById('q').value = ''; document.getElementById('q').dispatchEvent(new Event('input'))")
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
    assert {c: t for c, t, _ in highlighted} == {"review_upheld": "10", "review_corrected": "1", "review_other": "0",
                                                 "review_pending": "0", "review_total": "0"}
    assert {bg for _, _, bg in highlighted} == {"rgb(248, 201, 201)"}

    browser.open((site / "index.html").as_uri())          # GX's index, rendered static and offline
    assert browser.js("document.querySelector('.banner a').getAttribute('href')") == "nianbao/index.html"
    browser.open(next(site.glob("validations/review_litigation/**/*.html")).as_uri())   # a GX validation page
    assert "R4.review" in browser.js("document.body.innerText")

    assert browser.problems() == []
    requests = browser.requests()
    assert requests and all(u.startswith("file://") for u in requests), requests


def test_large_landing_page_filters_fast(browser, tmp_path):
    """30,000 failing agencies: the list pages 100 rows and a search re-filters all of them."""
    n = 30_000
    frame = F.to_frame(pd.DataFrame({
        "run_id": "r", "report_id": [f"R{i:016X}" for i in range(n)], "agency": [f"机关{i}" for i in range(n)],
        "region": [f"{['江苏省', '浙江省', '广东省'][i % 3]}某市" for i in range(n)], "year": 2024,
        "rule_id": [f"R{1 + i % 4}.total" for i in range(n)], "severity": "error", "status": "failed",
        "message": "m", "cells": "{}", "left_value": 1.0, "right_value": 2.0, "difference": -1.0,
        "suite": "applications_2021", "fix": "f", "history": "new"}))
    summary = {"run_id": "r", "checkpoint": "nightly", "started_at": "", "data_dir": "", "select": [],
               "previous_run_id": None, "reports_validated": 100_000, "counts": F.counts(frame, F.empty())}
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
