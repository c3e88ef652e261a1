"""The data-docs site: staged in a build folder, then swapped in atomically; GX's store kept small.

GX writes its pages where great_expectations.yml's local_site points; for one run we point it at a
fresh build folder (in memory only, the yml is never rewritten), add our Chinese pages beside GX's,
and swap `local_site` to the build with one os.replace, so a run that dies halfway leaves the
previous site intact. GX's templates load Bootstrap, jQuery, fonts and logos from CDNs; nothing of
the site may leave the machine, so those tags are taken out of every page of the run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

from .. import paths
from ..report import PAGES_DIR, beijing_time

KEEP_RUNS_IN_GX = 20  # validation results kept in GX's store (and pages in the site)
BUILDS = paths.SITE_DIR.parent / "builds"

# Tags of GX's templates that fetch from the network (<script src=https://…>, <link href=https://…>).
_REMOTE_SCRIPT = re.compile(r"""<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//[^>]*>\s*</script>""", re.I)
_REMOTE_LINK = re.compile(r"""<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//[^>]*>""", re.I)
_REMOTE_IMG = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//[^>]*>""", re.I)
# GX's validation pages point their favicon one folder too shallow: a failed load on every page.
_FAVICON = re.compile(r"""<link\b[^>]*\brel\s*=\s*["']shortcut icon["'][^>]*>""", re.I)
# The dark-mode logo is a CSS background from GX's S3 bucket; dropped (the page keeps its title).
_REMOTE_CSS_URL = re.compile(r"""url\(\s*["']?(?:https?:)?//[^)]*\)""", re.I)
# The footer's newsletter link: a page that cannot open offline; no page may link to a broken one.
_REMOTE_ANCHOR = re.compile(r"""<a\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//[^>]*>(.*?)</a>""", re.I | re.S)
# "Show All" / "Failed Only" call jQuery's $(…).parent().fadeIn()/fadeOut()/each(); jQuery came from
# a CDN, so without it they threw `$ is not defined`. This is the little of jQuery they use, inline.
JQUERY_SHIM = """<script>
if (typeof window.$ === "undefined") { window.$ = function (sel) {
  var els = [sel];
  if (typeof sel === "string") { try { els = Array.prototype.slice.call(document.querySelectorAll(sel)); }
    catch (e) { els = []; } }  // an id jQuery would reject too: nothing to show or hide
  var wrap = function (list) { return {
    parent: function () { return wrap(list.map(function (e) { return e.parentElement; }).filter(Boolean)); },
    each: function (fn) { list.forEach(function (e, i) { fn.call(e, i, e); }); return this; },
    fadeIn: function () { list.forEach(function (e) { e.style.display = ""; }); return this; },
    fadeOut: function () { list.forEach(function (e) { e.style.display = "none"; }); return this; }
  }; };
  return wrap(els);
}; }
</script>"""
_HEAD = re.compile(r"<head>", re.I)
# GX prints run times in UTC ("2026-12-07 07:59:37 UTC" in its index, "2026-12-07T08:09:47Z" on a
# validation page); auditors read Beijing time, as on nianbao's own pages. Only whole text nodes.
_UTC_TEXT = re.compile(r">\s*(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.\d+)?(?: UTC|Z)\s*<")


def beijing_times(html: str) -> str:
    """GX page HTML with its UTC run times shown in Beijing time."""
    return _UTC_TEXT.sub(lambda m: f">{beijing_time(f'{m.group(1)}T{m.group(2)}+00:00')}<", html)


def strip_remote(html: str) -> str:
    """GX page HTML without the tags that would fetch scripts, styles, fonts or images from elsewhere,
    without links that leave the machine, and with what its inline scripts need of jQuery."""
    for pattern in (_REMOTE_SCRIPT, _REMOTE_LINK, _REMOTE_IMG, _FAVICON):
        html = pattern.sub("", html)
    html = _REMOTE_CSS_URL.sub("none", html)
    html = _REMOTE_ANCHOR.sub(lambda m: m.group(1), html)
    html = beijing_times(html)
    if "$(" in html and JQUERY_SHIM not in html:
        html = _HEAD.sub(lambda m: m.group(0) + JQUERY_SHIM, html, count=1)
    return html


def offline(path: Path) -> None:
    """Rewrite one GX page in place so that opening it requests nothing outside the site."""
    html = path.read_text(encoding="utf-8")
    cleaned = strip_remote(html)
    if cleaned != html:
        path.write_text(cleaned, encoding="utf-8")


def validation_pages(ctx, checkpoint_result, site: Path) -> dict[str, str]:
    """Make the run's GX pages offline; suite name -> its validation page, relative to the site."""
    site = Path(site).resolve()
    links: dict[str, str] = {}
    for key in checkpoint_result.run_results:
        for found in ctx.get_docs_sites_urls(resource_identifier=key, site_names=["local_site"], only_if_exists=True):
            url = found.get("site_url")
            if not url:
                continue
            page = Path(unquote(urlparse(url).path)).resolve()
            offline(page)
            links[key.expectation_suite_identifier.name] = page.relative_to(site).as_posix()
    pages = [site / "index.html", *sorted((site / "expectations").glob("*.html"))]
    for page in pages + sorted((site / "static").glob("styles/*.css")):
        if page.is_file():
            offline(page)
    return links


@contextmanager
def site_at(ctx, folder: Path, results_limit: int | None = None):
    """Point GX's local_site at `folder` for this run only (and list at most results_limit results in
    its index); the yml on disk is never rewritten."""
    sites = ctx.variables.data_docs_sites
    original = json.loads(json.dumps(sites))
    staged = json.loads(json.dumps(sites))
    staged["local_site"]["store_backend"]["base_directory"] = str(folder) + os.sep
    if results_limit is not None:
        staged["local_site"].setdefault("site_index_builder", {})["validation_results_limit"] = results_limit
    ctx.variables.data_docs_sites = staged
    try:
        yield
    finally:
        ctx.variables.data_docs_sites = original


def stage(run_id: str) -> Path:
    """A fresh build folder holding a copy of the current site (GX's pages of earlier runs)."""
    BUILDS.mkdir(parents=True, exist_ok=True)
    for stale in BUILDS.glob("*.partial"):  # left by a run that died; we hold the lock
        shutil.rmtree(stale, ignore_errors=True)
    staging = BUILDS / f"{run_id}.partial"
    if paths.SITE_DIR.exists():
        shutil.copytree(paths.SITE_DIR.resolve(), staging, ignore=shutil.ignore_patterns(PAGES_DIR))
    else:
        staging.mkdir(parents=True)
    return staging


def publish(staging: Path, run_id: str) -> Path:
    """Rename the build into place and swap local_site to it in one os.replace."""
    final = BUILDS / run_id
    staging.rename(final)
    link = paths.SITE_DIR.parent / f".local_site.{run_id}"
    os.symlink(os.path.relpath(final, paths.SITE_DIR.parent), link)
    if paths.SITE_DIR.exists() and not paths.SITE_DIR.is_symlink():  # a site GX built in place before us
        paths.SITE_DIR.rename(BUILDS / f"legacy-{run_id}")
    os.replace(link, paths.SITE_DIR)
    trash = paths.SITE_DIR.parent / "trash" / run_id
    trash.mkdir(parents=True, exist_ok=True)
    for old in BUILDS.iterdir():
        if old.name != run_id and not old.name.endswith(".partial"):
            old.rename(trash / old.name)
    _remove_in_background(sorted(trash.parent.iterdir()))
    return paths.SITE_DIR


def _remove_in_background(folders: list[Path]) -> None:
    """Delete folders in a detached `rm -rf`: the old site of a bad night is 50,000 pages, and deleting
    them took seconds the run need not wait for. A removal cut short is redone by the next run."""
    try:
        subprocess.Popen(
            ["rm", "-rf", "--", *map(str, folders)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


def prune_gate_sites(keep: int = KEEP_RUNS_IN_GX) -> None:
    """Drop the site folders (≈5 MB of GX assets each) of all but the newest gate runs; findings stay."""
    gates = sorted(d for d in paths.RUNS_DIR.glob("*-gate") if (d / "site").is_dir())
    for old in gates[:-keep]:
        shutil.rmtree(old / "site", ignore_errors=True)


def forget_gx_results(ctx, run_id) -> None:
    """Remove one run's results from GX's store (a gate run keeps them in its own folder)."""
    store = ctx.validation_results_store
    for key in store.list_keys():
        if key.run_id.to_tuple() == run_id.to_tuple():
            store.remove_key(key)


def prune_gx_results(ctx, keep_runs: int = KEEP_RUNS_IN_GX) -> int:
    """Delete stored validation results beyond the newest keep_runs runs; the index drops their pages."""
    store = ctx.validation_results_store
    keys = store.list_keys()
    runs = sorted({k.run_id.to_tuple()[::-1] for k in keys}, reverse=True)  # (time, name), newest first
    keep = set(runs[:keep_runs])
    removed = 0
    for k in keys:
        if k.run_id.to_tuple()[::-1] not in keep:
            store.remove_key(k)
            removed += 1
    return removed
