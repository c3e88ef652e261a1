"""GX half of the previous_report kind: the present kind's metric and expectation, on the year_pairs asset."""

from __future__ import annotations

from ..present.gx import expectation

__all__ = ["expectation"]
