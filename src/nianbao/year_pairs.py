"""The year-pair asset: each report beside its agency's report of the year before (DOMAIN.md R11, R12).

One row per report of year Y whose table 三 was read and whose agency (nianbao.agency_key) has an
earlier report in the data: this year's 上年结转 and, from the report of year Y-1, its 结转下年度继续办理
(`prev_` columns). When both years are in the 2021 format, table 二's 规章 and 行政规范性文件 counts too.
The previous columns are blank when the report of Y-1 is missing, rejected or partial with those cells
blank: the cross-year rules are then not assessable (R11.previous says why), never passed. So are they
when this year's own operands are blank (R9 reports the cells; R11.previous makes the identities not
assessable). An identity's predicate is NULL, never TRUE, with a blank on either side, so a blank on
either side must fail R11.previous; R12's operands only where R12 compares the pair
(`in_force_not_compared` is NULL there: see sql()).

The SELECT reads the views nb_reports, nb_applications, nb_active_disclosure and nb_agency_keys (the key
of every report, computed in Python once per run: nianbao.agency_key.build_keys); the engines build the
asset from it like any suite's (nianbao.engines).
"""

from __future__ import annotations

from . import schema as S

TABLE = "year_pairs"
KEYS_TABLE = "agency_keys"  # nb_agency_keys: report_id, agency_key (NULL: not linked; nianbao.agency_key)
APPLICANTS = tuple(c for c, _ in S.APPLICANT_COLUMNS)
THIS_YEAR = tuple(S.app_col("carried_over", a) for a in APPLICANTS)
PREV_CARRIED_FORWARD = tuple(f"prev_{S.app_col('carried_forward', a)}" for a in APPLICANTS)
# Table 二 of the 2021 format: this year's counts, last year's 现行有效件数.
ACTIVE = tuple(c for key, _, c, _ in S.ACTIVE_2021 if key in ("rules", "normative_docs"))
PREV_IN_FORCE = ("prev_rules_in_force", "prev_normative_in_force")
PREV_META = ("prev_report_id", "prev_year", "prev_status", "prev_format_version")
# 1 where R12 compares no 现行有效件数 for the pair (this year's report not in the 2021 format, or last
# year's in the 2019 format), NULL where it does: R11.previous requires R12's operands only where it is NULL.
NOT_COMPARED = "in_force_not_compared"
COLUMNS = (
    "report_id",
    "format_version",
    *THIS_YEAR,
    *PREV_CARRIED_FORWARD,
    *PREV_META,
    *ACTIVE,
    *PREV_IN_FORCE,
    NOT_COMPARED,
)
MISSING = "missing"  # prev_status when there is no report of Y-1
REPORT_COLUMNS = ("format_version", "parse_status")  # of nb_reports, beside the rules' (nianbao.engines)


def labels() -> dict[str, str]:
    """Chinese label of each column: this year's as the statutory tables print them, last year's as
    上年报告·… (messages, pages and exports name both years)."""
    tables = S.column_labels()
    out = {c: tables["applications"][c] for c in THIS_YEAR}
    out.update({c: tables["active_disclosure"][c] for c in ACTIVE})
    for a, alabel in S.APPLICANT_COLUMNS:
        out[f"prev_{S.app_col('carried_forward', a)}"] = f"上年报告·表三·结转下年度继续办理·{alabel}"
    for c in PREV_IN_FORCE:
        out[c] = "上年报告·" + tables["active_disclosure"][c.removeprefix("prev_")]
    out.update(
        prev_report_id="上年报告·报告编号",
        prev_year="上年报告·报告年度",
        prev_status="上年报告·解析结果",
        prev_format_version="上年报告·格式版本",
    )
    out[NOT_COMPARED] = "表二现行有效件数不跨年度比较(本年不是 2021 格式,或上年为 2019 格式)"
    return out


def sql(where_conds: list[str], prefix: str = "nb_") -> str:
    """SELECT of the asset over the views <prefix>reports, applications, active_disclosure, agency_keys;
    `where_conds` (over r: this year's report, t: its table 三) select which reports of year Y are rows."""
    cur = ", ".join(f"t.{c}" for c in THIS_YEAR)
    prev = ", ".join(f"pa.{c.removeprefix('prev_')} AS {c}" for c in PREV_CARRIED_FORWARD)
    both_2021 = f"r.format_version = '{S.FORMAT_2021}' AND pr.format_version = '{S.FORMAT_2021}'"
    # This year's table 二 counts whenever this year is in the 2021 format (R12 is not assessable when
    # last year's report is missing); last year's only when it is in the 2021 format too.
    active = ", ".join(f"CASE WHEN r.format_version = '{S.FORMAT_2021}' THEN ta.{c} END AS {c}" for c in ACTIVE)
    prev_active = ", ".join(
        f"CASE WHEN {both_2021} THEN pt.{c.removeprefix('prev_')} END AS {c}" for c in PREV_IN_FORCE
    )
    # R12 compares the pair unless last year's report is known to be in another format: a missing,
    # rejected or unreadable (format unknown) report of Y-1 leaves R12 not assessable, as
    # nianbao.kinds.cross_year.applies decides.
    compared = (
        f"r.format_version = '{S.FORMAT_2021}' AND COALESCE(pr.format_version, '{S.FORMAT_2021}') = '{S.FORMAT_2021}'"
    )
    # The selection picks this year's rows before the joins: as a WHERE after them, DuckDB joined every
    # report's pair first (an incremental night's 6,000 reports of a million: 10.3 s, here 3.8 s).
    this_year = f"{prefix}applications"
    if where_conds:
        this_year = (
            f"(SELECT t.* FROM {prefix}applications AS t JOIN {prefix}reports AS r ON r.report_id = t.report_id "
            f"WHERE {' AND '.join(where_conds)})"
        )
    return f"""SELECT t.report_id, r.format_version, {cur}, {prev},
  pk.report_id AS prev_report_id, CAST(r.year - 1 AS INTEGER) AS prev_year,
  COALESCE(pr.parse_status, '{MISSING}') AS prev_status, pr.format_version AS prev_format_version,
  {active}, {prev_active}, CASE WHEN {compared} THEN NULL ELSE 1 END AS {NOT_COMPARED}
FROM {this_year} AS t
JOIN {prefix}reports AS r ON r.report_id = t.report_id
JOIN {prefix}{KEYS_TABLE} AS k ON k.report_id = t.report_id
LEFT JOIN {prefix}active_disclosure AS ta ON ta.report_id = t.report_id
LEFT JOIN (SELECT k2.report_id, k2.agency_key, r2.year FROM {prefix}{KEYS_TABLE} AS k2
           JOIN {prefix}reports AS r2 ON r2.report_id = k2.report_id) AS pk
  ON pk.agency_key = k.agency_key AND pk.year = r.year - 1
LEFT JOIN {prefix}reports AS pr ON pr.report_id = pk.report_id
LEFT JOIN {prefix}applications AS pa ON pa.report_id = pk.report_id
LEFT JOIN {prefix}active_disclosure AS pt ON pt.report_id = pk.report_id
WHERE k.agency_key IS NOT NULL AND EXISTS (
  SELECT 1 FROM {prefix}{KEYS_TABLE} AS ke JOIN {prefix}reports AS re ON re.report_id = ke.report_id
  WHERE ke.agency_key = k.agency_key AND re.year < r.year)"""
