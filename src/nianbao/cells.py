"""Cell values as auditors read them: JSON numbers, 空白 for a blank, and each column's printed label."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from . import report_text, year_pairs
from . import schema as S

# Column -> Chinese label ("表三·(七)总计·自然人"), across the three statutory tables, and last year's
# cells of the year-pair asset ("上年报告·表三·结转下年度继续办理·自然人").
LABELS: dict[str, str] = {
    c: label
    for t in S.STATUTORY_TABLES
    for c, label in S.column_labels()[t].items()
    if c not in ("report_id", "format_version")
}
LABELS.update({c: label for c, label in year_pairs.labels().items() if c not in LABELS})
LABELS.update({c: label for c, label in report_text.LABELS.items() if c not in LABELS})  # what the text states


def number(v: Any) -> float | int | None:
    """A cell value as a JSON number (Decimal fees become floats, whole floats ints)."""
    if v is None or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, Decimal):
        v = float(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v if isinstance(v, (int, float)) else None


def fmt(v: Any) -> str:
    """A value as an auditor reads it: blank shown as 空白."""
    if type(v) is int:  # almost every cell: no conversion needed
        return str(v)
    n = number(v)
    if n is None:
        return "空白"
    return f"{n:,.6f}".rstrip("0").rstrip(".").replace(",", "") if isinstance(n, float) else str(n)


def label(column: str) -> str:
    """The printed label of a column, or the column name when it has none."""
    return LABELS.get(column, column)


def short_labels(columns: Iterable[str]) -> dict[str, str]:
    """Labels without the parts all the columns share: 表三 R1.person terms differ only by row."""
    return _short_labels(tuple(dict.fromkeys(columns)))


@functools.lru_cache(maxsize=4096)
def _short_labels(columns: tuple[str, ...]) -> dict[str, str]:
    parts = {c: label(c).split("·") for c in columns}
    common = set.intersection(*(set(p) for p in parts.values())) if len(columns) > 1 else set()
    return {c: "·".join(p for p in parts[c] if p not in common) or label(c) for c in columns}
