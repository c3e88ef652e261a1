"""What the parser produces for one input file: a ParsedReport, before it becomes Parquet rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Value = int | float | str | None  # number as printed; str = non-numeric text as printed; None = blank


@dataclass(slots=True)
class Cell:
    table: str  # active_disclosure | applications | review_litigation
    column: str  # column name of schema.py (e.g. "new_person", "fees_10k_yuan", "v2019_fees_change")
    text: str  # exactly as printed, '' for blank
    value: Value  # parsed value: int, float (fees), str (non-numeric text), None (blank)
    source: str  # provenance: 'line 37', 'table 2 row 5 col 3', 'page 2 line 14'


@dataclass
class ParsedReport:
    source_file: str
    source_sha256: str
    status: str = "rejected"  # parsed | partial | rejected
    reason: str = ""  # kebab-case code, then ': ' and detail, e.g. 'cells-run-together: ...'
    missing: list[str] = field(default_factory=list)  # e.g. ['review_litigation', 'applications.withheld_7']
    agency: str | None = None
    region: str | None = None
    level: str | None = None
    year: int | None = None
    format_version: str | None = None  # '2021' | '2019' | None when unknown
    deviations: list[str] = field(default_factory=list)  # e.g. ['other-single-row']
    # The JSON shape of a transcribed report (`nianbao parse --json`):
    # {"active": ..., "applications": ..., "review_litigation": ...}
    tables: dict[str, Any] = field(
        default_factory=lambda: {"active": None, "applications": None, "review_litigation": None}
    )
    active_2019: dict[str, Any] | None = None  # 2019 table 二 in the shape of 027.json's active_2019_format
    cells: list[Cell] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The corpus JSON shape (keys agency, year, region, tables; plus active_2019_format for 2019)."""
        out: dict[str, Any] = {
            "agency": self.agency,
            "year": self.year,
            "region": self.region,
            "format_version": self.format_version,
            "status": self.status,
            "tables": self.tables,
        }
        if self.reason:
            out["reason"] = self.reason
        if self.missing:
            out["missing"] = self.missing
        if self.deviations:
            out["deviations"] = self.deviations
        if self.active_2019 is not None:
            out["active_2019_format"] = self.active_2019
        return out
