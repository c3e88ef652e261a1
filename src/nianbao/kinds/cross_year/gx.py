"""GX half of the cross_year kind: the identity kind's metric and expectation, on the year_pairs asset."""

from __future__ import annotations

from ..identity.gx import expectation

__all__ = ["expectation"]
