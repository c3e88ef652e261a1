"""The report-text asset: one row per report whose text was kept, with what the rules over the whole text read.

R17–R19 (numbers the text states against the tables), R23 (title year and statistics period against the
report year), R24–R25 (six sections, three tables, one format), R27 (section 五 says nothing) and R30
(内容雷同). What the text states is read in Python once per run (nianbao.text_facts, nianbao.similarity)
into the table nb_text_facts; the asset's SELECT joins it to the reports and their tables' totals, so
every engine checks the same rows with GX's own expectations.

Only reports with rows in the `sections` table, or with other versions (the `versions` table, R31), are
rows here: a data folder written before the text was kept, or a synthetic corpus without text, has none,
and the text rules then have nothing to say (never a section reported missing for text never read).
"""

from __future__ import annotations

from collections import defaultdict

from . import schema as S
from . import similarity as SIM
from . import text_facts as TF

TABLE = "report_text"  # rules.REPORT_TEXT
FACTS_TABLE = "text_facts"  # nb_text_facts: computed once per run from nb_sections
SECTIONS, NUMERALS = S.PART_KEYS, S.PART_NUMERALS
STATED = {  # fact -> (column of the text's number, the tables' total it must equal)
    TF.APPLICATIONS: ("stated_applications", "table_applications"),
    TF.REVIEWS: ("stated_reviews", "table_reviews"),
    TF.LITIGATIONS: ("stated_litigations", "table_litigations"),
}
FACT_COLUMNS = (
    ("report_id", "string"),
    ("sections_missing", "int32"),
    ("missing_sections", "string"),  # 五、六: the missing sections' numerals
    ("five_generic", "int32"),  # 1: section 五 is empty, 无 or one short sentence; NULL: no section 五
    ("five_text", "string"),
    ("title_year", "int32"),
    ("period_start", "int32"),
    ("period_end", "int32"),
    ("period_sentence", "string"),
    *((c, t) for stated, _ in STATED.values() for c, t in ((stated, "int64"), (f"{stated}_sentence", "string"))),
    ("skipped_sentences", "int32"),
    ("versions", "int32"),  # other versions of this report with different numbers (一报多版)
    ("versions_detail", "string"),
    *(
        (c, t)
        for scope in ("previous", "same_year")
        for c, t in (
            (f"copied_{scope}_share", "int32"),  # percent of this report's own text found in the other
            (f"copied_{scope}_from", "string"),
            (f"copied_{scope}_agency", "string"),
            (f"copied_{scope}_sections", "string"),
        )
    ),
)
# The asset's columns beside the facts: the report's, and the tables' totals (sql()).
ASSET_COLUMNS = (
    "report_id",
    "format_version",
    "year",
    *(c for c, _ in FACT_COLUMNS if c != "report_id"),
    "tables_missing",
    "format_unmatched",
    "table_applications",
    "table_reviews",
    "table_litigations",
)
LABELS = {
    "sections_missing": "正文·缺少的部分数",
    "missing_sections": "正文·缺少的部分",
    "five_generic": "正文·五、存在的主要问题及改进情况(空白或泛泛一句)",
    "five_text": "正文·五、存在的主要问题及改进情况",
    "title_year": "标题·年度",
    "period_start": "正文·统计期限起始年度",
    "period_end": "正文·统计期限终止年度",
    "period_sentence": "正文·统计期限",
    "year": "报告年度",
    "stated_applications": "正文·收到政府信息公开申请件数",
    "table_applications": "表三·本年新收政府信息公开申请数量·总计",
    "stated_reviews": "正文·行政复议件数",
    "table_reviews": "表四·行政复议·总计",
    "stated_litigations": "正文·行政诉讼件数",
    "table_litigations": "表四·行政诉讼·总计(未经复议直接起诉 + 复议后起诉)",
    "tables_missing": "缺少的统计表数",
    "format_unmatched": "表格格式(与 2021 格式或 2019 格式均不完全一致)",
    "versions": "一报多版·数字不同的其他版本数",
    "versions_detail": "一报多版·其他版本",
    "copied_previous_share": "正文·与本单位上年报告相同的文字比例(%)",
    "copied_same_year_share": "正文·与同年其他单位报告相同的文字比例(%)",
}


def _texts(con, prefix: str) -> dict[str, dict[str, str]]:
    """Each report's sections (key -> text) from <prefix>sections, in report order."""
    rows = con.execute(f"SELECT report_id, section, text FROM {prefix}sections ORDER BY report_id, ordinal").fetchall()
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for rid, section, text in rows:
        out[rid][section] = text or ""
    return out


def _copies(con, prefix: str, texts: dict[str, dict[str, str]], keys_table: str) -> dict[str, dict[str, SIM.Match]]:
    """Per report, its best match with its agency's previous report and with another agency's of its year."""
    meta = con.execute(
        f"SELECT r.report_id, COALESCE(k.agency_key, r.report_id), r.year FROM {prefix}reports AS r "
        f"LEFT JOIN {prefix}{keys_table} AS k ON k.report_id = r.report_id WHERE r.year IS NOT NULL"
    ).fetchall()
    docs = [
        SIM.Text(rid, key, int(year), {k: v for k, v in texts[rid].items() if k in SECTIONS})
        for rid, key, year in meta
        if rid in texts
    ]
    best: dict[str, dict[str, SIM.Match]] = defaultdict(dict)
    for m in SIM.matches(docs):
        held = best[m.report_id].get(m.scope)
        if held is None or (m.share, held.other_id) > (held.share, m.other_id):
            best[m.report_id][m.scope] = m
    return best


def _shares(m: SIM.Match) -> str:
    """一 92%、二 80% …: the share of each section found in the other report."""
    return "、".join(f"{NUMERALS[int(k[1]) - 1]} {round(v * 100)}%" for k, v in sorted(m.sections.items()))


def _versions(con, prefix: str) -> dict[str, tuple[int, str]]:
    """Per report, its other versions with different numbers: how many, and which files and cells."""
    labels = S.column_labels()
    out: dict[str, list[str]] = defaultdict(list)
    rows = con.execute(
        f"SELECT report_id, source_file, differing FROM {prefix}versions ORDER BY report_id, source_file"
    ).fetchall()
    for rid, source, differing in rows:
        cells = [
            labels.get(t, {}).get(c, c) for t, _, c in (d.partition(".") for d in (differing or "").split(",") if d)
        ]
        shown = "、".join(cells[:4]) + (f" 等 {len(cells)} 格" if len(cells) > 4 else "")
        out[rid].append(f"{source}({shown} 不同)")
    return {rid: (len(v), ";".join(v)) for rid, v in out.items()}


def build_facts(con, prefix: str = "nb_", keys_table: str = "agency_keys") -> dict:
    """The table <prefix>text_facts; what run_results.json records (reports with text, sentences skipped)."""
    import pyarrow as pa

    texts = _texts(con, prefix)
    versions = _versions(con, prefix)
    copies = _copies(con, prefix, texts, keys_table) if texts else {}
    agency = dict(con.execute(f"SELECT report_id, agency FROM {prefix}reports").fetchall()) if copies else {}
    rows = []
    skipped = 0
    for rid in sorted(set(texts) | set(versions)):
        row = dict.fromkeys(c for c, _ in FACT_COLUMNS)
        row["report_id"] = rid
        row["versions"], row["versions_detail"] = versions.get(rid, (None, None))
        if rid in texts:
            skipped += _text_row(row, texts[rid], copies.get(rid, {}), agency)
        rows.append(row)
    schema = pa.schema([(c, getattr(pa, t)()) for c, t in FACT_COLUMNS])
    table = pa.Table.from_pylist(rows, schema=schema)
    name = f"{prefix}{FACTS_TABLE}"
    con.register(f"{name}_arrow", table)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(f"{name}_arrow")
    return {
        "reports_with_text": len(texts),
        "sentences_skipped": skipped,
        "copies": len(copies),
        "reports_with_versions": len(versions),
    }


def _text_row(row: dict, sections: dict[str, str], copies: dict[str, SIM.Match], agency: dict) -> int:
    """Fill a row's text columns from the report's sections; the number of sentences skipped as unclear."""
    facts = TF.read(sections)
    absent = [NUMERALS[i] for i, s in enumerate(SECTIONS) if s not in sections]
    row.update(
        sections_missing=len(absent),
        missing_sections="、".join(absent),
        five_generic=None if facts.five_generic is None else int(facts.five_generic),
        five_text=sections.get("s5"),
        title_year=facts.title_year,
        period_start=facts.period_years[0] if facts.period_years else None,
        period_end=facts.period_years[-1] if len(facts.period_years) > 1 else None,
        period_sentence=facts.period_sentence or None,
        skipped_sentences=len(facts.skipped),
    )
    for fact, (column, _) in STATED.items():
        st = facts.statements.get(fact)
        row[column] = st.value if st else None
        row[f"{column}_sentence"] = st.sentence if st else None
    for scope, key in (("previous", SIM.PREVIOUS_YEAR), ("same_year", SIM.SAME_YEAR)):
        m = copies.get(key)
        row[f"copied_{scope}_share"] = round(m.share * 100) if m else None
        row[f"copied_{scope}_from"] = m.other_id if m else None
        row[f"copied_{scope}_agency"] = agency.get(m.other_id) if m else None
        row[f"copied_{scope}_sections"] = _shares(m) if m else None
    return len(facts.skipped)


def sql(where_conds: list[str], prefix: str = "nb_") -> str:
    """SELECT of the asset: the text facts beside the report's year, format and tables' totals."""
    tables = " + ".join(
        f"(CASE WHEN EXISTS (SELECT 1 FROM {prefix}{t} AS x WHERE x.report_id = t.report_id) THEN 0 ELSE 1 END)"
        for t in S.STATUTORY_TABLES
    )
    conds = " AND ".join(["r.parse_status <> 'rejected'", *where_conds])
    facts = ", ".join(f"t.{c}" for c, _ in FACT_COLUMNS if c != "report_id")
    return f"""SELECT t.report_id, r.format_version, r.year, {facts},
  {tables} AS tables_missing,
  CASE WHEN r.format_version IS NULL THEN 1 ELSE 0 END AS format_unmatched,
  ap.new_total AS table_applications, rl.review_total AS table_reviews,
  rl.litigation_direct_total + rl.litigation_after_review_total AS table_litigations
FROM {prefix}{FACTS_TABLE} AS t
JOIN {prefix}reports AS r ON r.report_id = t.report_id
LEFT JOIN {prefix}applications AS ap ON ap.report_id = t.report_id
LEFT JOIN {prefix}review_litigation AS rl ON rl.report_id = t.report_id
WHERE {conds}"""
