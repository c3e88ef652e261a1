"""What the parser produces for one input file: a ParsedReport, before it becomes Parquet rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

Value = int | float | str | None  # number as printed; str = non-numeric text as printed; None = blank


def is_iso_day(value: Any) -> bool:
    """Whether `value` is a day written YYYY-MM-DD (the one way a publication date is stored)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@dataclass(slots=True)
class Cell:
    table: str  # active_disclosure | applications | review_litigation
    column: str  # column name of schema.py (e.g. "new_person", "fees_10k_yuan", "v2019_fees_change")
    text: str  # exactly as printed, '' for blank
    value: Value  # parsed value: int, float (fees), str (non-numeric text), None (blank)
    source: str  # provenance: 'line 37', 'table 2 row 5 col 3', 'page 2 line 14'


@dataclass(slots=True)
class Section:
    """One part of the report's text (parse/sections.py): the title, the opening, or section 一 … 六."""

    key: str  # title | opening | s1 … s6
    heading: str  # as printed ('一、总体情况'), '' for the title and the opening
    text: str  # the part's prose as printed, one line per printed line; tables' cells left out
    source: str  # provenance of its lines: 'line 5–10', 'paragraph 9–14', 'page 2 line 3 – page 3 line 9'


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
    sections: list[Section] = field(default_factory=list)  # in document order; one not found is absent
    published: str | None = None  # ISO date the report was published (page PubDate, 发布时间 line, manifest)

    def to_json(self) -> dict[str, Any]:
        """The corpus JSON shape (keys agency, year, region, tables; plus active_2019_format for 2019)."""
        out: dict[str, Any] = {
            "agency": self.agency,
            "year": self.year,
            "region": self.region,
            "format_version": self.format_version,
            "published": self.published,
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

    @classmethod
    def from_json(cls, doc: Any, source_file: str, source_sha256: str) -> ParsedReport:
        """The report a document of the to_json() shape describes (as `nianbao parse --json` prints it, or
        a corpus transcription); a document of another shape is a rejected report saying what is wrong."""

        def rejected(detail: str) -> ParsedReport:
            return cls(source_file, source_sha256, "rejected", f"json-invalid: {detail}")

        if not isinstance(doc, dict) or not isinstance(doc.get("tables"), dict):
            return rejected("JSON 不是 `nianbao parse --json` 的格式(缺少 tables 对象)")
        tables = {key: doc["tables"].get(key) for key in ("active", "applications", "review_litigation")}
        active_2019 = doc.get("active_2019_format")
        if any(t is not None and not isinstance(t, dict) for t in (*tables.values(), active_2019)):
            return rejected("tables 中的每张表必须是对象或 null")
        year = doc.get("year")
        if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
            return rejected(f"year 必须是整数:{year!r}")
        texts = {key: doc.get(key) for key in ("agency", "region", "format_version", "status", "reason")}
        if any(v is not None and not isinstance(v, str) for v in texts.values()):
            return rejected("agency、region、format_version、status、reason 必须是字符串")
        lists = {key: doc.get(key) or [] for key in ("missing", "deviations")}
        if any(not isinstance(v, list) or not all(isinstance(x, str) for x in v) for v in lists.values()):
            return rejected("missing、deviations 必须是字符串列表")
        present = {"active_disclosure": tables["active"] or active_2019, **tables}
        missing = lists["missing"] or [
            t for t in ("active_disclosure", "applications", "review_litigation") if not present[t]
        ]
        published = doc.get("published")
        if published is not None and not is_iso_day(published):
            return rejected(f"published 必须是 YYYY-MM-DD 格式的日期:{published!r}")
        status = texts["status"] or ("partial" if missing else "parsed")
        if status not in ("parsed", "partial", "rejected"):
            return rejected(f"status 必须是 parsed、partial 或 rejected:{status!r}")
        return cls(
            source_file,
            source_sha256,
            status,
            texts["reason"] or ("rejected: 文件自述无法解析" if status == "rejected" else ""),
            missing,
            texts["agency"],
            texts["region"],
            None,
            year,
            texts["format_version"] or ("2019" if active_2019 else "2021"),
            lists["deviations"],
            tables,
            active_2019,
            published=published,
        )
