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
    return list(_region_prefixes(region))


@lru_cache(maxsize=1 << 16)  # a national corpus has a few thousand regions and a million names
def _region_prefixes(region: str) -> tuple[str, ...]:
    m = _DIVISION.match(region)
    parts = [p for p in (m.group("p"), m.group("c"), m.group("d")) if p] if m else []
    tails = ["".join(parts[i:]) for i in range(len(parts))] if m and m.group(0) == region else []
    return tuple(sorted({region, *tails} - {""}, key=len, reverse=True))


def bare_name(name: str, region: str) -> str:
    """The name without the region (or a tail of its divisions) at its start; the name when none fits."""
    for prefix in _region_prefixes(region):
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


@lru_cache(maxsize=1 << 14)  # a national corpus: a million names, a few thousand regions
def _normalised_region(region: str | None) -> str:
    return normalise(region)


@lru_cache(maxsize=1 << 18)  # one agency, many years: its name is normalised once
def agency_key(agency: str | None, region: str | None) -> str | None:
    """The key that links one agency's reports of different years; None without an agency name.

    Without a region, the divisions the name starts with (nianbao.parse.metadata.region_of) stand in."""
    name, place = normalise(agency), _normalised_region(region)
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
    region that fits two regions' agencies. The semantics report by report, for small inputs; build_keys
    computes the same over a table (tests/test_agency_key.py holds them equal)."""
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


def pair_keys(agencies: list[str | None], regions: list[str | None]) -> tuple[list[str | None], list[bool]]:
    """For distinct (agency, region) pairs: each pair's key, a name without region taking the one key
    with region it fits, and whether it fits two (TWO_AGENCIES; its key then stays the bare one).

    A key depends on its pair alone and a fit on the set of keys alone, so keying the distinct pairs
    keys every report: a Python call per pair, not per report."""
    keys = [agency_key(a, r) for a, r in zip(agencies, regions, strict=True)]
    bare = {k[1:] for k in keys if k and k.startswith(SEPARATOR)}
    fits: dict[str, set[str]] = defaultdict(set)
    if bare:  # most corpora give every report a region: no fits to look for
        for key in set(keys):
            if key and not key.startswith(SEPARATOR):
                place, rest = key.split(SEPARATOR, 1)
                for prefix in _region_prefixes(place):
                    if prefix + rest in bare:
                        fits[prefix + rest].add(key)

    def resolved(key: str | None) -> tuple[str | None, bool]:
        found = fits.get(key[1:], ()) if key and key.startswith(SEPARATOR) else ()
        return (next(iter(found)), False) if len(found) == 1 else (key, len(found) > 1)

    out = [resolved(k) for k in keys]
    return [k for k, _ in out], [two for _, two in out]


def build_keys(con, prefix: str, table: str, made: tuple | None = None) -> dict:
    """The table <prefix><table> (report_id, agency_key) of every report in <prefix>reports (a selection
    picks this year's reports; last year's may lie outside it), NULL where a link would be a guess;
    what run_results.json records: how many reports are linked, and the ambiguous ones.

    Python keys the distinct (agency, region) pairs (pair_keys); DuckDB joins them to the reports and
    finds a key held twice in one year; only the ambiguous reports (few) come back to Python.
    made: (that table as Arrow, its record) from an earlier build over the same reports, loaded as it is
    (an incremental nightly builds the keys with its report hashes, nianbao.incremental.Hashed)."""
    import pyarrow as pa

    name = f"{prefix}{table}"
    if made is not None:
        keys, record = made
        con.register(f"{name}_made", keys)
        try:
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT report_id, agency_key FROM {name}_made")
        finally:
            con.unregister(f"{name}_made")
        return dict(record)
    years = con.execute(f"SELECT count(DISTINCT year) FROM {prefix}reports").fetchall()[0][0]
    if years < 2:  # one year: nothing to link (a national year's names are not normalised for nothing)
        con.execute(
            f"CREATE OR REPLACE TABLE {name} AS SELECT report_id, CAST(NULL AS VARCHAR) AS agency_key "
            f"FROM {prefix}reports"
        )
        return {"linked_reports": 0, "ambiguous": [], "years": years}
    pairs = con.sql(f"SELECT DISTINCT agency, region FROM {prefix}reports").to_arrow_table()
    agencies, regions = pairs.column(0).to_pylist(), pairs.column(1).to_pylist()
    keys, two = pair_keys(agencies, regions)
    keyed = pairs.append_column("key", pa.array(keys, pa.string())).append_column(
        "two_agencies", pa.array(two, pa.bool_())
    )
    con.register(f"{name}_pairs", keyed)
    try:
        # The same key twice in one year: grouped, not windowed (a window over a million reports
        # took twice as long, measured).
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {name}_linked AS
WITH keyed AS (
  SELECT r.report_id, r.year, p.key, p.two_agencies
  FROM {prefix}reports AS r JOIN {name}_pairs AS p
    ON r.agency IS NOT DISTINCT FROM p.agency AND r.region IS NOT DISTINCT FROM p.region),
twice AS (
  SELECT key, year FROM keyed WHERE key IS NOT NULL AND year IS NOT NULL AND NOT two_agencies
  GROUP BY key, year HAVING count(*) > 1)
SELECT k.report_id, k.key,
  CASE WHEN k.two_agencies THEN '{TWO_AGENCIES}' WHEN t.key IS NOT NULL THEN '{SAME_YEAR}' END AS reason
FROM keyed AS k LEFT JOIN twice AS t ON k.key = t.key AND k.year = t.year"""
        )
    finally:
        con.unregister(f"{name}_pairs")
    con.execute(
        f"CREATE OR REPLACE TABLE {name} AS SELECT report_id, "
        f"CASE WHEN reason IS NULL THEN key END AS agency_key FROM {name}_linked"
    )
    linked = con.execute(f"SELECT count(agency_key) FROM {name}").fetchall()[0][0]
    rows = con.execute(
        f"SELECT k.report_id, r.agency, r.region, r.year, k.key, k.reason FROM {name}_linked AS k "
        f"JOIN {prefix}reports AS r USING (report_id) WHERE k.reason IS NOT NULL"
    ).fetchall()
    con.execute(f"DROP TABLE {name}_linked")
    ambiguous = [
        {
            "report_id": rid,
            "agency": agency,
            "region": region,
            "year": year,
            "key": key,
            "reason": reason,
            "reason_zh": REASON_ZH[reason],
        }
        for rid, agency, region, year, key, reason in sorted(rows, key=lambda row: row[0])
    ]
    return {"linked_reports": linked, "ambiguous": ambiguous}
