"""Checkpoint action: after GX's UpdateDataDocsAction, write nianbao's Chinese pages into the site.

The action works for the run that started the checkpoint (`nianbao run` / `nianbao gate`), which
knows the data folder, the selection and the previous run; run outside it, it raises rather than
leave a site without its landing page. It also makes GX's pages of the run work offline: GX's
templates load Bootstrap, jQuery, fonts and logos from CDNs, and nothing of the site may leave the
machine (GX's index is rendered static by docs_view).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from great_expectations.checkpoint.actions import ActionContext, UpdateDataDocsAction, ValidationAction
from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

# Tags of GX's templates that fetch from the network (<script src=https://…>, <link href=https://…>).
_REMOTE_SCRIPT = re.compile(r"""<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//[^>]*>\s*</script>""", re.I)
_REMOTE_LINK = re.compile(r"""<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//[^>]*>""", re.I)
_REMOTE_IMG = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//[^>]*>""", re.I)
# GX's validation pages point their favicon one folder too shallow: a failed load on every page.
_FAVICON = re.compile(r"""<link\b[^>]*\brel\s*=\s*["']shortcut icon["'][^>]*>""", re.I)


def strip_remote(html: str) -> str:
    """GX page HTML without the tags that would fetch scripts, styles, fonts or images from elsewhere."""
    for pattern in (_REMOTE_SCRIPT, _REMOTE_LINK, _REMOTE_IMG, _FAVICON):
        html = pattern.sub("", html)
    return html


def offline(path: Path) -> None:
    """Rewrite one GX page in place so that opening it requests nothing outside the site."""
    html = path.read_text(encoding="utf-8")
    cleaned = strip_remote(html)
    if cleaned != html:
        path.write_text(cleaned, encoding="utf-8")


class UpdateDataDocsOnceAction(UpdateDataDocsAction):
    """GX's UpdateDataDocsAction, building the site once for all of the run's validation results.

    GX's own action rebuilds the site (its index and every stored result it lists) once per
    validation result: five times per run here. The pages and the links returned are the same.
    """

    type: Literal["update_data_docs_once"] = "update_data_docs_once"  # type: ignore[assignment]

    def run(self, checkpoint_result, action_context: ActionContext | None = None) -> dict:
        ids = list(checkpoint_result.run_results)
        suites = {ExpectationSuiteIdentifier(name=r.suite_name) for r in checkpoint_result.run_results.values()}
        self._build_data_docs(site_names=self.site_names, resource_identifiers=[*ids, *sorted(suites, key=str)])
        results: dict = {}
        for key in ids:
            urls = self._get_docs_sites_urls(resource_identifier=key, site_names=self.site_names)
            results[key] = {site["site_name"]: site["site_url"] for site in urls}
        return results


class NianbaoPagesAction(ValidationAction):
    """Write nianbao/index.html (auditors' landing page) and one page per failing agency."""

    type: Literal["nianbao_pages"] = "nianbao_pages"
    name: str = "nianbao_pages"

    def run(self, checkpoint_result, action_context: ActionContext | None = None) -> dict:
        from nianbao.run import active_state

        state = active_state()
        if state is None:
            raise RuntimeError("the nianbao_pages action needs the run that started the checkpoint: "
                               "run it with `nianbao run` or `nianbao gate`, not checkpoint.run()")
        site = Path(state.site_dir).resolve()
        links: dict[str, str] = {}
        for result in action_context.filter_results(UpdateDataDocsAction) if action_context else []:
            for key, urls in result.items():
                url = urls.get("local_site") if isinstance(urls, dict) else None
                if not url:
                    continue
                page = Path(unquote(urlparse(url).path)).resolve()
                offline(page)
                links[key.expectation_suite_identifier.name] = page.relative_to(site).as_posix()
        for page in sorted((site / "expectations").glob("*.html")):
            if page.is_file():
                offline(page)
        return state.write_outputs(checkpoint_result, links)
