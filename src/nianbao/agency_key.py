"""Which reports of different years are one agency's: a normalised agency key, and the links it makes.

A key is the report's region and the agency name without the region's divisions at its start, so
"淮安市洪泽区财政局" and "洪泽区财政局" (region 淮安市洪泽区) are one agency: NFKC (full-width forms
half-width), no spaces, and 人民政府办公厅 written as 人民政府办公室 (both names are in use for the same
office). Links are never guessed (DOMAIN.md R11): a key held by two reports of one year, or a report
without a region whose name fits the agencies of two regions, links nothing, and is listed as ambiguous.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from .parse.metadata import _DIVISION, region_of

_SPACE = re.compile(r"\s+")
SYNONYMS = (("人民政府办公厅", "人民政府办公室"),)
SEPARATOR = "|"
SAME_YEAR = "same-year"  # two reports of one year with the same key
TWO_AGENCIES = "two-agencies"  # a name without region that fits the agencies of two regions
REASON_ZH = {
    SAME_YEAR: "同一年度有两份报告属于同一机关,无法确定哪一份与其他年度关联",
    TWO_AGENCIES: "报告未注明所属地区,机关名称可能属于两个地区的机关",
}


def normalise(text: str | None) -> str:
    """NFKC, without spaces, synonyms replaced."""
    out = _SPACE.sub("", unicodedata.normalize("NFKC", text or ""))
    for variant, canonical in SYNONYMS:
        out = out.replace(variant, canonical)
    return out


def region_prefixes(region: str) -> list[str]:
    """The ways a name may start with the region, longest first: the whole region and each tail of its
    divisions (江苏省淮安市洪泽区: itself, 淮安市洪泽区, 洪泽区)."""
    m = _DIVISION.match(region)
    parts = [p for p in (m.group("p"), m.group("c"), m.group("d")) if p] if m else []
    tails = ["".join(parts[i:]) for i in range(len(parts))] if m and m.group(0) == region else []
    return sorted({region, *tails} - {""}, key=len, reverse=True)


def bare_name(name: str, region: str) -> str:
    """The name without the region (or a tail of its divisions) at its start; the name when none fits."""
    for prefix in region_prefixes(region):
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


@lru_cache(maxsize=1 << 18)  # one agency, many years: its name is normalised once
def agency_key(agency: str | None, region: str | None) -> str | None:
    """The key that links one agency's reports of different years; None without an agency name.

    Without a region, the divisions the name starts with (nianbao.parse.metadata.region_of) stand in."""
    name, place = normalise(agency), normalise(region)
    if not name:
        return None
    if not place:
        place = region_of(name) or ""
    return f"{place}{SEPARATOR}{bare_name(name, place) if place else name}"


@dataclass(frozen=True)
class Report:
    report_id: str
    agency: str | None
    region: str | None
    year: int | None


@dataclass(frozen=True)
class Links:
    """Each report's key (None: not linked) and the ambiguous ones, for run_results.json."""

    keys: dict[str, str | None]
    ambiguous: list[dict]


def link(reports: Iterable[Report]) -> Links:
    """Keys of every report, ambiguous ones withheld: the same key twice in one year, or a name without
    region that fits two regions' agencies."""
    reports = list(reports)
    keys = {r.report_id: agency_key(r.agency, r.region) for r in reports}
    problems: dict[str, str] = {}
    # A report with no region at all: its bare name may fit an agency of a region that holds it.
    by_bare: dict[str, set[str]] = defaultdict(set)
    for r in reports:
        key = keys[r.report_id]
        if key and not key.startswith(SEPARATOR):
            place, rest = key.split(SEPARATOR, 1)
            for prefix in region_prefixes(place):
                by_bare[prefix + rest].add(key)
    for r in reports:
        key = keys[r.report_id]
        if key and key.startswith(SEPARATOR):
            fits = by_bare.get(key[1:], set())
            if len(fits) > 1:
                problems[r.report_id] = TWO_AGENCIES
            elif fits:
                keys[r.report_id] = next(iter(fits))
    seen: dict[tuple[str, int], list[str]] = defaultdict(list)
    for r in reports:
        if keys[r.report_id] and r.year is not None and r.report_id not in problems:
            seen[(keys[r.report_id], r.year)].append(r.report_id)
    for ids in seen.values():
        if len(ids) > 1:
            problems.update(dict.fromkeys(ids, SAME_YEAR))
    by_id = {r.report_id: r for r in reports}
    ambiguous = [
        {
            "report_id": rid,
            "agency": by_id[rid].agency,
            "region": by_id[rid].region,
            "year": by_id[rid].year,
            "key": keys[rid],
            "reason": reason,
            "reason_zh": REASON_ZH[reason],
        }
        for rid, reason in sorted(problems.items())
    ]
    return Links({rid: None if rid in problems else key for rid, key in keys.items()}, ambiguous)


def build_keys(con, prefix: str, table: str) -> dict:
    """The table <prefix><table> (report_id, agency_key) of every report in <prefix>reports (a selection
    picks this year's reports; last year's may lie outside it), NULL where a link would be a guess;
    what run_results.json records: how many reports are linked, and the ambiguous ones."""
    import pyarrow as pa

    name = f"{prefix}{table}"
    years = con.execute(f"SELECT count(DISTINCT year) FROM {prefix}reports").fetchone()[0]
    if years < 2:  # one year: nothing to link (a national year's names are not normalised for nothing)
        con.execute(
            f"CREATE OR REPLACE TABLE {name} AS SELECT report_id, CAST(NULL AS VARCHAR) AS agency_key "
            f"FROM {prefix}reports"
        )
        return {"linked_reports": 0, "ambiguous": [], "years": years}
    rows = con.execute(f"SELECT report_id, agency, region, year FROM {prefix}reports").fetchall()
    links = link(Report(*row) for row in rows)
    keys = pa.table(
        {
            "report_id": pa.array(list(links.keys), pa.string()),
            "agency_key": pa.array(list(links.keys.values()), pa.string()),
        }
    )
    con.register(f"{name}_arrow", keys)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(f"{name}_arrow")
    return {"linked_reports": sum(k is not None for k in links.keys.values()), "ambiguous": links.ambiguous}
