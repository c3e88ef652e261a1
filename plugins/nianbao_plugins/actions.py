"""Checkpoint action: GX's UpdateDataDocsAction, building the site once per run.

nianbao's own outputs (findings, history, the Chinese pages) are no GX action: the run computes them
after the checkpoint returns (nianbao.run).
"""

from __future__ import annotations

from typing import Literal

from great_expectations.checkpoint.actions import ActionContext, UpdateDataDocsAction
from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier


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
