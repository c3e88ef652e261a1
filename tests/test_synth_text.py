"""Synthetic report text (nianbao.synth_text) on real Parquet files: the sections table, its injected text
errors and their truth, checked by reading the text back with nianbao.text_facts and nianbao.similarity
(what nianbao.report_text feeds the text rules), independently of the generator's own truth step."""

from __future__ import annotations

import hashlib
from collections import defaultdict

import pyarrow.parquet as pq
import pytest

from nianbao import schema as S
from nianbao import similarity as SIM
from nianbao import synth
from nianbao import synth_text as TX
from nianbao import text_facts as TF
from nianbao.agency_key import agency_key
from nianbao.cli import build_parser

FIRST, LAST = 2021, 2024
TEXT_FAMILIES = ("R17", "R18", "R19", "R23", "R24", "R25", "R27", "R30")


def read(folder, table: str) -> list[dict]:
    return pq.read_table(sorted((folder / table).glob("*.parquet"))).to_pylist()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """300 agencies x 2021-2024 in several chunks, text errors at 2 % a kind, table errors at 10 %."""
    out = tmp_path_factory.mktemp("text")
    summary = synth.generate_series(
        300, out, first=FIRST, last=LAST, error_rate=0.1, crossyear_rate=0.05, seed=3, chunk=500, text_error_rate=0.02
    )
    texts: dict[str, dict[str, str]] = defaultdict(dict)
    for r in read(out, "sections"):
        texts[r["report_id"]][r["section"]] = r["text"]
    reports = {r["report_id"]: r for r in read(out, "reports")}
    truth = read(out, "_truth")
    return out, summary, texts, reports, truth


def text_truth(truth, families=TEXT_FAMILIES) -> set[tuple[str, str]]:
    return {(t["report_id"], t["rule_id"]) for t in truth if t["rule_id"].split(".")[0] in families}


def tables(folder) -> dict[str, dict[str, int | None]]:
    """Per report the tables' totals the text rules compare with (None: a blank, or a table it lacks)."""
    apps = {r["report_id"]: r for r in read(folder, "applications")}
    rl = {r["report_id"]: r for r in read(folder, "review_litigation")}
    out = {}
    for rid in (r["report_id"] for r in read(folder, "reports")):
        a = apps.get(rid, {"new_total": None})
        r = rl.get(rid, dict.fromkeys(("review_total", "litigation_direct_total", "litigation_after_review_total")))
        direct, after = r["litigation_direct_total"], r["litigation_after_review_total"]
        out[rid] = {
            TF.APPLICATIONS: a["new_total"],
            TF.REVIEWS: r["review_total"],
            TF.LITIGATIONS: None if direct is None or after is None else direct + after,
        }
    return out


def test_every_report_has_its_text(corpus):
    out, summary, texts, reports, truth = corpus
    assert set(texts) == set(reports) and len(texts) == summary.reports
    dropped = {t["report_id"] for t in truth if t["rule_id"] == "R24.sections"}
    assert dropped
    rows = read(out, "sections")
    for rid, parts in texts.items():
        body = [k for k in TX.BODY if k in parts]
        assert "title" in parts and "opening" in parts
        assert len(body) == (5 if rid in dropped else 6), rid
        assert parts["title"] == f"{reports[rid]['agency']}{reports[rid]['year']}年政府信息公开工作年度报告" or any(
            t["report_id"] == rid and t["rule_id"] == "R23.title" for t in truth
        )
    by_report = defaultdict(list)
    for r in rows:
        by_report[r["report_id"]].append(r)
        assert r["heading"] == TX.HEADINGS.get(r["section"], "")
    for parts in by_report.values():
        assert [p["ordinal"] for p in parts] == list(range(1, len(parts) + 1))
    clean = [sum(map(len, p.values())) for rid, p in texts.items() if rid not in {t["report_id"] for t in truth}]
    assert 500 <= sum(clean) / len(clean) <= 1_500


def test_same_seed_same_text(tmp_path):
    digests = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        synth.generate_series(40, tmp_path / name, first=2022, last=2023, seed=seed, chunk=30, text_error_rate=0.05)
        digests.append(
            {
                str(f.relative_to(tmp_path / name)): hashlib.sha256(f.read_bytes()).hexdigest()
                for f in sorted((tmp_path / name).rglob("*.parquet"))
            }
        )
    assert digests[0] == digests[1]
    # 40 agencies x 2 years in 3 chunks: 4 tables, the sections and the versions per chunk, an empty file
    # per other side table
    per_chunk = {"reports", "sections", "versions", *synth.STATUTORY}
    side = len(set(S.TABLE_SCHEMAS) - per_chunk)
    assert len([f for f in digests[0] if "synth-5-" in f]) == len(per_chunk) * 3 + side
    assert digests[2] != digests[0]


def test_text_facts_find_exactly_the_truth(corpus):
    """Read back with text_facts against the final tables: every failing (report, rule) of R17-R19, R23,
    R24.sections, R27.five is in the truth and nothing else (no false alarm on clean reports)."""
    out, _, texts, reports, truth = corpus
    held = tables(out)
    found, stated = set(), defaultdict(int)
    with_rows = {t: {r["report_id"] for r in read(out, t)} for t in synth.STATUTORY}
    for rid, parts in texts.items():
        facts = TF.read(parts)
        year = reports[rid]["year"]
        for fact, rule in TX.FACT_RULES.items():
            st = facts.statements.get(fact)
            if st is not None:
                stated[(fact, st.value == 0 and "未" in st.sentence)] += 1
                if held[rid][fact] is not None and st.value != held[rid][fact]:
                    found.add((rid, rule))
        years = facts.period_years
        assert facts.title_year is not None
        for rule, y in (
            ("R23.title", facts.title_year),
            ("R23.period_start", years[:1]),
            ("R23.period_end", years[1:]),
        ):
            if y not in (year, (year,), ()):
                found.add((rid, rule))
        if any(k not in parts for k in TX.BODY):
            found.add((rid, "R24.sections"))
        if any(rid not in rows for rows in with_rows.values()):
            found.add((rid, "R24.tables"))
        if reports[rid]["format_version"] is None:
            found.add((rid, "R25.format"))
        if facts.five_generic:
            found.add((rid, "R27.five"))
    assert found == text_truth(truth, TEXT_FAMILIES[:-1])
    for fact in TX.FACT_RULES:  # each number stated in digits and as a negation
        assert stated[(fact, False)] and stated[(fact, True)], fact


def test_unclear_sentences_are_skipped(corpus):
    _, _, texts, _, _ = corpus
    skipped = [s for parts in texts.values() for s in TF.read(parts).skipped]
    assert any(s.startswith(TX.HANDLED[0]) for s in skipped) and any(s.startswith(TX.ONLINE[0]) for s in skipped)


def test_table_injections_on_stated_totals_are_in_the_truth(corpus):
    """A per-report table injection that changes a total the text states is an R17-R19 failure in the truth."""
    _, _, _, _, truth = corpus
    table_kinds = {k for kinds in synth.KINDS.values() for k in kinds}
    caused = [t for t in truth if t["rule_id"].split(".")[0] in ("R17", "R18", "R19") and t["injected"] in table_kinds]
    assert caused
    assert {t["cell"] for t in caused} <= {*synth.S.APPLICATION_COLUMNS, *synth.S.REVIEW_COLUMNS}


def test_similarity_finds_exactly_the_copies(corpus):
    """nianbao.similarity over every report: the copies made, both sides of a same-year copy, nothing else."""
    _, _, texts, reports, truth = corpus
    docs = [
        SIM.Text(
            rid, agency_key(r["agency"], r["region"]), r["year"], {k: v for k, v in texts[rid].items() if k in TX.BODY}
        )
        for rid, r in reports.items()
    ]
    scope = {SIM.PREVIOUS_YEAR: TX.PREVIOUS_RULE, SIM.SAME_YEAR: TX.SAME_YEAR_RULE}
    found = {(m.report_id, scope[m.scope]) for m in SIM.matches(docs)}
    expected = text_truth(truth, ("R30",))
    assert {r for _, r in expected} == {TX.PREVIOUS_RULE, TX.SAME_YEAR_RULE}
    assert found == expected


def test_every_text_kind_is_injected_with_truth(corpus):
    _, summary, _, _, truth = corpus
    injected = {t["injected"] for t in truth}
    for kind in TX.TEXT_KINDS:
        assert summary.injections.get(kind), kind
        assert kind in injected, kind
    same_year = [t for t in truth if t["injected"] == "copied-same-year"]
    assert {(t["report_id"], t["cell"]) for t in same_year} == {(t["cell"], t["report_id"]) for t in same_year}


def test_reports_corpus_has_no_text_unless_asked(tmp_path):
    synth.generate(500, tmp_path / "plain", seed=2)
    assert not read(tmp_path / "plain", "sections")
    synth.generate(500, tmp_path / "text", seed=2, text=True)
    assert {r["report_id"] for r in read(tmp_path / "text", "sections")} == {
        r["report_id"] for r in read(tmp_path / "text", "reports")
    }
    args = build_parser().parse_args(
        ["synth", "--series", "2022-2023", "--agencies", "20", "--no-text", "--out", str(tmp_path / "cli")]
    )
    assert synth.command(args) == 0
    assert not read(tmp_path / "cli", "sections")
    with pytest.raises(ValueError, match="--text-error-rate"):
        synth.generate(10, tmp_path / "bad", text=True, text_error_rate=0.5)


def test_second_versions_are_in_the_versions_table_and_the_truth(corpus):
    """A few clean reports get a mirror with 本年新收 总计 one higher: each is a versions row and R31."""
    out, summary, _, _, truth = corpus
    versions = read(out, "versions")
    got = {(v["report_id"], "R31.versions") for v in versions}
    assert got and got == {(t["report_id"], t["rule_id"]) for t in truth if t["rule_id"] == "R31.versions"}
    assert summary.injections[synth.SECOND_VERSION] == len(versions)
    assert all(v["differing"] == "applications.new_total" for v in versions)
