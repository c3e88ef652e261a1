"""Open a run's auditors' pages in headless Chromium and print how long each step takes.

    python benchmarks/site_open.py SITE_DIR   # SITE_DIR: uncommitted/data_docs/local_site (or a build)

Steps, each timed from the command to the page's load event (or the redrawn list): the landing page;
one filter (the first province of the province list: on a night split by province, its page opens; else
the list is filtered in place); the first agency of that list. Uses tests/browser_support.py (Chromium
over the DevTools pipe, as the browser tests do). Figures are printed, never asserted.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser_support import Browser


def main(site: Path) -> None:
    landing = (site / "nianbao" / "index.html").resolve()
    with tempfile.TemporaryDirectory() as profile:
        b = Browser(Path(profile))
        try:
            b.open("about:blank")  # the browser's own start is not the page's
            started = time.perf_counter()
            b.open(landing.as_uri())
            opened = time.perf_counter() - started
            listed = b.js("document.querySelectorAll('#list tbody tr').length")
            province = b.js("document.getElementById('f-jur').options[1].value")
            split = b.js("!!document.getElementById('shards')")
            change = f"{{const s = document.getElementById('f-jur'); s.value = {province!r};"
            change += " s.dispatchEvent(new Event('change'))}"
            started = time.perf_counter()
            if split:
                b.follow(change)
            else:
                b.js(change)
            filtered = time.perf_counter() - started
            count = b.js("document.getElementById('count').textContent")
            href = b.js("document.querySelector('#list tbody a').href")
            started = time.perf_counter()
            b.open(href)
            agency = time.perf_counter() - started
            problems = b.problems()
        finally:
            b.close()
    size = landing.stat().st_size
    print(f"landing page {landing} ({size / 1e6:.2f} MB, {listed} rows drawn): opened in {opened:.2f} s")
    print(f"filter to {province} ({'its page' if split else 'in place'}): {filtered:.2f} s, {count}")
    print(f"one agency page ({href.rsplit('/', 1)[-1]}): opened in {agency:.2f} s")
    print(f"console errors and failed loads: {len(problems)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
