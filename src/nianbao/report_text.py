"""The report-text asset: one row per report whose text was kept, with what the rules over the whole text read.

R17–R19 (numbers the text states against the tables), R23 (title year and statistics period against the
report year), R24–R25 (six sections, three tables, one format), R27 (section 五 says nothing) and R30
(内容雷同). What the text states is read in Python once per run (nianbao.text_facts, nianbao.similarity),
year by year and in forked workers, into the table nb_text_facts; the asset's SELECT joins it to the
reports and their tables' totals, so every engine checks the same rows with GX's own expectations.

Only reports with rows in the `sections` table, or with other versions (the `versions` table, R31), are
rows here: a data folder written before the text was kept, or a synthetic corpus without text, has none,
and the text rules then have nothing to say (never a section reported missing for text never read).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from . import forked
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


TEXT_COLUMNS = tuple(
    (c, t) for c, t in FACT_COLUMNS if c not in ("versions", "versions_detail") and not c.startswith("copied_")
)
CHUNK = 2_000  # reports a worker reads at a time
PARALLEL_FROM = 4_000  # a year with fewer reports is read in this process (forking costs more)


def _parts(sections: dict[str, str]) -> dict[str, str]:
    """The six parts of a report's sections (R30 compares those, not the title or the opening)."""
    return {k: v for k, v in sections.items() if k in SECTIONS}


@dataclass(frozen=True)
class _YearText:
    """One year's sections as Arrow (report by report, in order): what the forked workers share."""

    ids: list[str]
    keys: list[str]
    offsets: np.ndarray  # report i's sections are rows offsets[i]:offsets[i + 1]
    sections: object  # pyarrow Table (section, text)

    def text(self, i: int, year: int, parts_only: bool = False) -> SIM.Text:
        """Report i's text: every section (title, opening, 一–六), or the six parts only (R30 compares those)."""
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        part = self.sections.slice(lo, hi - lo)
        body = dict(zip(part.column("section").to_pylist(), (t or "" for t in part.column("text").to_pylist())))
        return SIM.Text(self.ids[i], self.keys[i], year, _parts(body) if parts_only else body)

    def chunks(self) -> list[tuple[int, int]]:
        return [(lo, min(lo + CHUNK, len(self.ids))) for lo in range(0, len(self.ids), CHUNK)]


def _year_text(con, prefix: str, keys_table: str, year: int | None) -> _YearText:
    """The sections of the reports of one year (NULL: of no year), in report order, as Arrow."""
    where = "r.year IS NULL" if year is None else f"r.year = {int(year)}"
    source = (
        f"FROM {prefix}sections AS s JOIN {prefix}reports AS r ON r.report_id = s.report_id "
        f"LEFT JOIN {prefix}{keys_table} AS k ON k.report_id = s.report_id WHERE {where}"
    )
    heads = con.execute(
        f"SELECT s.report_id, COALESCE(any_value(k.agency_key), s.report_id), count(*) {source} "
        "GROUP BY s.report_id ORDER BY s.report_id"
    ).fetchall()
    table = con.sql(f"SELECT s.section, s.text {source} ORDER BY s.report_id, s.ordinal").to_arrow_table()
    offsets = np.concatenate([[0], np.cumsum([n for _, _, n in heads], dtype=np.int64)])
    return _YearText([h[0] for h in heads], [h[1] for h in heads], offsets, table)


def _read_chunk(shared: tuple[_YearText, int], span: tuple[int, int]):
    """Text facts (Arrow) and sentence hashes of reports span[0]:span[1] of one year."""
    import pyarrow as pa

    year_text, year = shared
    rows, hashes, skipped = [], [], 0
    for i in range(*span):
        text = year_text.text(i, year)
        row = {"report_id": text.report_id}
        skipped += _text_row(row, text.sections)
        rows.append(row)
        hashes.append(SIM.sentence_hashes(SIM.split(_parts(text.sections))))
    schema = pa.schema([(c, getattr(pa, t)()) for c, t in TEXT_COLUMNS])
    return pa.Table.from_pylist(rows, schema=schema), hashes, skipped


def _sign_chunk(shared: tuple[_YearText, int, SIM.Templates], span: tuple[int, int]):
    """The MinHash signatures of reports span[0]:span[1] of one year."""
    year_text, year, templates = shared
    out = []
    for i in range(*span):
        out.append(SIM.signature(SIM.split(year_text.text(i, year, parts_only=True).sections), templates))
    return out


def _map(fn, shared, spans: list[tuple[int, int]], reports: int) -> list:
    """fn over the spans: in forked workers for a large year, else (or when forking fails) here."""
    done = None
    if reports >= PARALLEL_FROM:
        done = forked.forked_map(fn, shared, spans, forked.workers())
    return done if done is not None else [fn(shared, span) for span in spans]


def _texts_of(con, prefix: str, keys_table: str, ids: list[str], year: int) -> dict[str, SIM.Text]:
    """The texts of a few reports (last year's candidates of a copy), by id."""
    import pyarrow as pa

    if not ids:
        return {}
    con.register("nb_wanted_ids", pa.table({"report_id": pa.array(sorted(set(ids)), pa.string())}))
    try:
        rows = con.execute(
            f"SELECT s.report_id, COALESCE(k.agency_key, s.report_id), s.section, s.text FROM {prefix}sections AS s "
            f"LEFT JOIN {prefix}{keys_table} AS k ON k.report_id = s.report_id "
            "WHERE s.report_id IN (SELECT report_id FROM nb_wanted_ids) ORDER BY s.report_id, s.ordinal"
        ).fetchall()
    finally:
        con.unregister("nb_wanted_ids")
    out: dict[str, SIM.Text] = {}
    for rid, key, section, text in rows:
        if section in SECTIONS:
            out.setdefault(rid, SIM.Text(rid, key, year, {})).sections[section] = text or ""
    return out


def _shares(m: SIM.Match) -> str:
    """一 92%、二 80% …: the share of each section found in the other report."""
    return "、".join(f"{NUMERALS[int(k[1]) - 1]} {round(v * 100)}%" for k, v in sorted(m.sections.items()))


def _versions(con, prefix: str):
    """Per report, its other versions with different numbers: how many, and which files and cells (Arrow)."""
    import pyarrow as pa

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
    return pa.table(
        {
            "report_id": pa.array(list(out), pa.string()),
            "versions": pa.array([len(v) for v in out.values()], pa.int32()),
            "versions_detail": pa.array([";".join(v) for v in out.values()], pa.string()),
        }
    )


class _Copies:
    """Per report, its best match with its agency's previous report and with another agency's of its year."""

    def __init__(self) -> None:
        self.best: dict[str, dict[str, SIM.Match]] = defaultdict(dict)

    def add(self, m: SIM.Match | None) -> None:
        if m is None:
            return
        held = self.best[m.report_id].get(m.scope)
        if held is None or (m.share, held.other_id) > (held.share, m.other_id):
            self.best[m.report_id][m.scope] = m

    def table(self):
        import pyarrow as pa

        cols: dict[str, list] = {"report_id": list(self.best)}
        for scope, key in (("previous", SIM.PREVIOUS_YEAR), ("same_year", SIM.SAME_YEAR)):
            found = [self.best[rid].get(key) for rid in cols["report_id"]]
            cols[f"copied_{scope}_share"] = [round(m.share * 100) if m else None for m in found]
            cols[f"copied_{scope}_from"] = [m.other_id if m else None for m in found]
            cols[f"copied_{scope}_sections"] = [_shares(m) if m else None for m in found]
        types = {c: pa.int32() if c.endswith("_share") else pa.string() for c in cols}
        return pa.table({c: pa.array(v, types[c]) for c, v in cols.items()})


def build_facts(con, prefix: str = "nb_", keys_table: str = "agency_keys") -> dict:
    """The table <prefix>text_facts; what run_results.json records (reports with text, sentences skipped).

    Year by year, so that one year's text is held at a time (as Arrow; Python strings only for the
    reports a worker reads): the facts and sentence hashes of every report (forked workers), the year's
    templates, the signatures (forked workers), then the copies with last year's and this year's reports."""
    years = [
        y for (y,) in con.execute(f"SELECT DISTINCT year FROM {prefix}reports ORDER BY year NULLS LAST").fetchall()
    ]
    facts_name = f"{prefix}{FACTS_TABLE}_text"
    columns = ", ".join(
        f"{c} {'INTEGER' if t == 'int32' else 'BIGINT' if t == 'int64' else 'VARCHAR'}" for c, t in TEXT_COLUMNS
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {facts_name} ({columns})")
    copies, prev = _Copies(), None
    with_text = skipped = 0
    for year in years:
        year_text = _year_text(con, prefix, keys_table, year)
        if not year_text.ids:
            prev = None
            continue
        with_text += len(year_text.ids)
        spans = year_text.chunks()
        read = _map(_read_chunk, (year_text, year), spans, len(year_text.ids))
        for table, _, n in read:
            skipped += n
            con.register("nb_facts_chunk", table)
            con.execute(f"INSERT INTO {facts_name} SELECT * FROM nb_facts_chunk")
            con.unregister("nb_facts_chunk")
        if year is None:  # no year: no previous report, no year to compare within
            continue
        hashes = [h for _, chunk, _ in read for h in chunk]
        templates = SIM.count_templates(hashes, year_text.keys)
        del read, hashes
        signed = [
            s for chunk in _map(_sign_chunk, (year_text, year, templates), spans, len(year_text.ids)) for s in chunk
        ]
        this = SIM.Year.of(year, year_text.ids, year_text.keys, signed)
        del signed
        if prev is not None and prev.year == year - 1:
            pairs = SIM.previous_candidates(this, prev)
            before = _texts_of(con, prefix, keys_table, [prev.ids[j] for _, j in pairs], year - 1)
            for i, j in pairs:
                copies.add(
                    SIM.measure(year_text.text(i, year, True), before[prev.ids[j]], SIM.PREVIOUS_YEAR, templates)
                )
        for i, j in SIM.same_year_candidates(this):
            copies.add(
                SIM.measure(year_text.text(i, year, True), year_text.text(j, year, True), SIM.SAME_YEAR, templates)
            )
        prev = this
    versions = _versions(con, prefix)
    _write_facts(con, prefix, facts_name, versions, copies.table())
    return {
        "reports_with_text": with_text,
        "sentences_skipped": skipped,
        "copies": len(copies.best),
        "reports_with_versions": versions.num_rows,
    }


def _write_facts(con, prefix: str, facts_name: str, versions, copies) -> None:
    """<prefix>text_facts: the text facts, versions and copies of every report with text or versions."""
    name = f"{prefix}{FACTS_TABLE}"
    con.register("nb_versions_arrow", versions)
    con.register("nb_copies_arrow", copies)
    try:
        sources = {c: "f" for c, _ in TEXT_COLUMNS} | {"versions": "v", "versions_detail": "v"}
        select = []
        for c, _ in FACT_COLUMNS:
            if c == "report_id":
                select.append("COALESCE(f.report_id, v.report_id) AS report_id")
            elif c.startswith("copied_") and c.endswith("_agency"):
                select.append(f"o{c.split('_')[1][0]}.agency AS {c}")
            else:
                select.append(f"{sources.get(c, 'c')}.{c}")
        con.execute(
            f"CREATE OR REPLACE TABLE {name} AS SELECT {', '.join(select)} FROM {facts_name} AS f "
            "FULL JOIN nb_versions_arrow AS v ON v.report_id = f.report_id "
            "LEFT JOIN nb_copies_arrow AS c ON c.report_id = COALESCE(f.report_id, v.report_id) "
            f"LEFT JOIN {prefix}reports AS op ON op.report_id = c.copied_previous_from "
            f"LEFT JOIN {prefix}reports AS os ON os.report_id = c.copied_same_year_from "
            "ORDER BY 1"
        )
    finally:
        con.unregister("nb_versions_arrow")
        con.unregister("nb_copies_arrow")
        con.execute(f"DROP TABLE IF EXISTS {facts_name}")


def _text_row(row: dict, sections: dict[str, str]) -> int:
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
