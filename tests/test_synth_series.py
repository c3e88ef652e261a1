"""The synthetic series (`nianbao synth --series`): reports consistent across years, cross-year breaks and
their truth, on real Parquet files. The cross-year rules are re-evaluated here in plain Python, row by
row, independently of the generator's DuckDB evaluation (nianbao.crossyear_truth)."""

from __future__ import annotations

import hashlib
from collections import Counter
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

from nianbao import crossyear_truth as CY
from nianbao import lowerbound, synth
from nianbao import schema as S
from nianbao import synth_text as TX
from nianbao.cli import UsageError, build_parser
from nianbao.exitcodes import ExitCode

AGENCIES, FIRST, LAST = 400, 2019, 2025
APPLICANTS = [a for a, _ in S.APPLICANT_COLUMNS]
IN_FORCE = {"R12.rules": "rules", "R12.normative_docs": "normative"}


def read(folder, table: str) -> list[dict]:
    return pq.read_table(sorted((folder / table).glob("*.parquet"))).to_pylist()


def reports_by_agency(folder) -> dict[tuple[str, str], dict[int, dict]]:
    """(region, agency) -> year -> the report's row with its table 三 and table 二 cells (blank, None, for
    a table the report lacks; `has_applications`: whether it has a table 三)."""
    tables = {t: {r["report_id"]: r for r in read(folder, t)} for t in ("applications", "active_disclosure")}
    blank = {t: dict.fromkeys(S.TABLE_SCHEMAS[t].names) for t in tables}
    out: dict[tuple[str, str], dict[int, dict]] = {}
    for r in read(folder, "reports"):
        rid = r["report_id"]
        row = {**blank["active_disclosure"], **blank["applications"]}
        row.update({**tables["active_disclosure"].get(rid, {}), **tables["applications"].get(rid, {}), **r})
        row["has_applications"] = rid in tables["applications"]
        out.setdefault((r["region"], r["agency"]), {})[r["year"]] = row
    return out


def cross_year(folder) -> dict[str, set[tuple[str, str]]]:
    """R11/R12 (report, rule) pairs by status, evaluated row by row (DOMAIN.md R11, R12)."""
    out = {CY.FAILED: set(), CY.NOT_ASSESSABLE: set()}
    for years in reports_by_agency(folder).values():
        for year, this in years.items():
            if year == min(years) or not this["has_applications"]:
                continue  # no earlier report, or no table 三: no year pair
            prev = years.get(year - 1)
            checks = [(f"R11.{a}", [this[f"carried_over_{a}"]], [f"carried_forward_{a}"]) for a in APPLICANTS]
            # R12 unless last year's report is known to be in the 2019 format (its format unknown: not assessable)
            if this["format_version"] == S.FORMAT_2021 and (prev is None or prev["format_version"] != S.FORMAT_2019):
                for rule, k in IN_FORCE.items():
                    checks.append(
                        (rule, [this[f"{k}_in_force"], this[f"{k}_issued"], this[f"{k}_repealed"]], [f"{k}_in_force"])
                    )
            blank = [None in own or prev is None or None in [prev[c] for c in cols] for _, own, cols in checks]
            if CY.previous_rule() and (prev is None or any(blank)):
                out[CY.FAILED].add((this["report_id"], CY.PREVIOUS))  # says why R11/R12 are not assessable
            for rule, own, prev_cols in checks:
                before = [prev[c] if prev else None for c in prev_cols]
                if None in own or None in before:
                    out[CY.NOT_ASSESSABLE].add((this["report_id"], rule))
                elif rule.startswith("R11"):
                    if own[0] != before[0]:
                        out[CY.FAILED].add((this["report_id"], rule))
                elif own[0] + own[2] != before[0] + own[1]:
                    out[CY.FAILED].add((this["report_id"], rule))
    return out


def truth_pairs(table, status: str | None = None) -> set[tuple[str, str]]:
    rows = table.to_pylist()
    return {(r["report_id"], r["rule_id"]) for r in rows if status is None or r["status"] == status}


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """400 agencies x 2019-2025 in several chunks, with every kind of error at high rates."""
    out = tmp_path_factory.mktemp("series")
    summary = synth.generate_series(
        AGENCIES, out, error_rate=0.1, crossyear_rate=0.05, missing_rate=0.05, seed=7, chunk=1_000
    )
    return out, summary


def test_cross_year_truth_is_what_the_tables_say(series):
    """Carry-over and the in-force chain hold for every agency and year pair, except exactly where the
    truth says; the not-assessable pairs are exactly the skipped years and blank cells."""
    out, summary = series
    truth = pq.read_table(out / CY.TRUTH_FILE)
    found = cross_year(out)
    assert found[CY.FAILED] == truth_pairs(truth, CY.FAILED)
    assert found[CY.NOT_ASSESSABLE] == truth_pairs(truth, CY.NOT_ASSESSABLE)
    families = Counter(r.split(".")[0] for _, r in found[CY.FAILED])
    assert families["R11"] > 50 and families["R12"] > 50
    # the failures are in the main truth table too, with the other rules
    main = pq.read_table(out / "_truth" / "truth.parquet")
    assert truth_pairs(truth, CY.FAILED) == {p for p in truth_pairs(main) if p[1].split(".")[0] in CY.FAMILIES}
    assert summary.crossyear_rows == CY.by_status(truth)


def test_each_break_fails_only_its_cross_year_rule(series):
    """A carried-over break fails R11 of its column and of 总计, an in-force break one R12 rule; the report's
    own identities still hold and last year's report is unchanged."""
    out, summary = series
    rows = pq.read_table(out / CY.TRUTH_FILE).to_pylist()
    by_kind: dict[str, dict[str, set[str]]] = {}
    for r in rows:
        by_kind.setdefault(r["injected"], {}).setdefault(r["report_id"], set()).add(r["rule_id"])
    broken = by_kind["carried-over-broken"]
    assert len(broken) == summary.injections["carried-over-broken"] > 20
    for rules in broken.values():
        assert len(rules) == 2 and "R11.total" in rules, rules
    in_force = by_kind["in-force-broken"]
    assert len(in_force) == summary.injections["in-force-broken"] > 20
    assert all(len(r) == 1 and next(iter(r)).startswith("R12.") for r in in_force.values())
    # The broken reports break no rule of their own (their truth is cross-year only).
    main = pq.read_table(out / "_truth" / "truth.parquet").to_pylist()
    own = {r["report_id"] for r in main if r["rule_id"].split(".")[0] not in CY.FAMILIES}
    assert not own & (set(broken) | set(in_force))
    assert {r["status"] for r in rows if r["injected"] in CY.BREAK_KINDS} == {CY.FAILED}


def test_skipped_years_are_not_assessable_not_failures(series):
    """The report after a skipped year: every R11 rule not assessable (R12 too in the 2021 format)."""
    out, summary = series
    rows = [r for r in pq.read_table(out / CY.TRUTH_FILE).to_pylist() if r["injected"] == CY.MISSING_YEAR]
    assert {r["status"] for r in rows if r["rule_id"] != CY.PREVIOUS} == {CY.NOT_ASSESSABLE}
    assert {r["status"] for r in rows if r["rule_id"] == CY.PREVIOUS} == ({CY.FAILED} if CY.previous_rule() else set())
    per_report = Counter(r["report_id"] for r in rows if r["rule_id"] != CY.PREVIOUS)
    assert len(per_report) == summary.injections[CY.MISSING_YEAR] > 20
    assert set(per_report.values()) <= {len(APPLICANTS), len(APPLICANTS) + len(IN_FORCE)}
    assert all(r["prev_report_id"] is None for r in rows)
    assert summary.reports < AGENCIES * (LAST - FIRST + 1)


def test_reports_own_identities_hold_unless_injected(series):
    """Every rule of the report itself fails exactly where a per-report error was injected (the lower
    bound, as tests/test_synth.py checks the single-year corpus). The text rules' truth is
    tests/test_synth_text.py's."""
    out, _ = series
    text = set(TX.TEXT_KINDS.values())
    truth = {
        p
        for p in truth_pairs(pq.read_table(out / "_truth" / "truth.parquet"))
        if p[1][:3] not in CY.FAMILIES and p[1].split(".")[0] not in text
    }
    found = lowerbound.failures(out)
    found = {
        p
        for p in zip(found["report_id"].to_pylist(), found["rule_id"].to_pylist())
        if p[1][:3] not in CY.FAMILIES and p[1].split(".")[0] not in text
    }
    assert truth and found == truth


def test_format_switches_in_2021(series):
    """2019 and 2020 print the 2019 tables; from 2021 the 2021 tables, but for late agencies that keep
    the 2019 tables every year (R12 does not apply to them). A report whose table 二 was not read has no
    format version (R25)."""
    out, _ = series
    late = set()
    for key, years in reports_by_agency(out).items():
        years = {y: r for y, r in years.items() if r["format_version"] is not None}
        for year, r in years.items():
            if year < synth.FIRST_2021_FORMAT_YEAR:
                assert r["format_version"] == S.FORMAT_2019
            elif r["format_version"] == S.FORMAT_2019:
                late.add(key)
        if key in late:
            assert {r["format_version"] for y, r in years.items() if y >= 2021} == {S.FORMAT_2019}
    versions = Counter(r["format_version"] for r in read(out, "reports") if r["year"] >= 2021 and r["format_version"])
    assert 0.8 < versions[S.FORMAT_2021] / sum(versions.values()) < 1 and late


def test_truth_schemas(series):
    out, _ = series
    assert pq.read_schema(out / "_truth" / "truth.parquet").names == synth.TRUTH_SCHEMA.names
    crossyear = pq.read_table(out / CY.TRUTH_FILE)
    assert crossyear.schema.equals(CY.SCHEMA)
    known = {*CY.BREAK_KINDS, CY.MISSING_YEAR, TX.TABLE_MISSING, TX.FORMAT_UNMATCHED}
    known |= {k for kinds in synth.KINDS.values() for k in kinds}
    assert set(crossyear["injected"].to_pylist()) <= known
    assert set(crossyear["rule_id"].to_pylist()) <= {o[0] for o in CY.operands()}


def test_same_seed_same_files(tmp_path):
    digests = []
    for name in ("a", "b"):
        synth.generate_series(
            60, tmp_path / name, first=2020, last=2023, error_rate=0.2, crossyear_rate=0.2, seed=5, chunk=100
        )
        digests.append(
            {
                f.relative_to(tmp_path / name): hashlib.sha256(f.read_bytes()).hexdigest()
                for f in sorted((tmp_path / name).rglob("*.parquet"))
            }
        )
    assert digests[0] == digests[1]
    # 60 agencies x 4 years in chunks of 25 agencies: 4 tables, the text (sections) and the second
    # versions per chunk; an empty file per other side table (cells, ...); both truths
    per_chunk = {"reports", "sections", "versions", *synth.STATUTORY}
    side = len(set(S.TABLE_SCHEMAS) - per_chunk)
    assert len(digests[0]) == len(per_chunk) * 3 + side + 2


def test_reports_spanning_years_are_consistent_too(tmp_path, monkeypatch):
    """`--reports N` beyond one national year: the same agencies carried from year to year."""
    monkeypatch.setattr(synth, "MAX_REPORTS_PER_YEAR", 1_000)
    summary = synth.generate(2_500, tmp_path, error_rate=0.1, seed=4, year=2021, chunk=900)
    assert summary.years == [2019, 2020, 2021] and summary.reports == 2_500
    truth = pq.read_table(tmp_path / CY.TRUTH_FILE)
    found = cross_year(tmp_path)
    assert found[CY.FAILED] == truth_pairs(truth, CY.FAILED) and found[CY.FAILED]
    assert found[CY.NOT_ASSESSABLE] == truth_pairs(truth, CY.NOT_ASSESSABLE)
    assert not set(truth["injected"].to_pylist()) & {*CY.BREAK_KINDS, CY.MISSING_YEAR}


def test_command_line(tmp_path, capsys):
    args = build_parser().parse_args(["synth", "--series", "2020-2022", "--agencies", "30", "--out", str(tmp_path)])
    assert synth.command(args) == ExitCode.OK
    assert "2020–2022" in capsys.readouterr().out
    assert {r["year"] for r in read(tmp_path, "reports")} == {2020, 2021, 2022}
    bad = SimpleNamespace(**{**vars(args), "series": "2018-2020"})
    assert synth.command(bad) == ExitCode.CONFIG_ERROR
    assert "--series" in capsys.readouterr().err
    with pytest.raises(UsageError):
        build_parser().parse_args(["synth", "--series", "2020-2022", "--reports", "5", "--out", "x"])
