"""Error localisation (nianbao.localise): the cells to correct, their values, ties, and the solver."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gx_fixtures import clean_applications, clean_review
from hypothesis import given, settings
from hypothesis import strategies as st

from nianbao import ingest_file, localise, synth
from nianbao import rules as R
from nianbao import schema as S
from nianbao.paths import ROOT

REAL = ROOT.parent / "shared" / "corpus" / "real"


def clean(version: str = S.FORMAT_2021) -> dict[str, dict]:
    """A report whose every identity holds, as {table: {column: value}}."""
    apps = dict.fromkeys(S.APPLICATION_COLUMNS) | clean_applications(version)
    return {
        "applications": {**apps, "format_version": version},
        "review_litigation": {**clean_review(), "format_version": version},
    }


def holds(values: dict[str, dict]) -> bool:
    """Every localised rule holds on values (blanks aside) and every printed count is non-negative."""
    from nianbao.kinds.identity import effective_right

    for rule in R.RULES:
        if rule.table not in localise.TABLES or rule.kind != "identity" or not localise.localised_rule(rule.id):
            continue
        row = values[rule.table]
        if row.get("format_version") not in rule.versions:
            continue
        ops = (*rule.left, *effective_right(rule, row))
        if any(row.get(c) is None for c in ops):
            continue
        left = sum(row[c] for c in rule.left)
        right = sum(row[c] for c in effective_right(rule, row))
        if not {"==": left == right, "<=": left <= right}[rule.op]:
            return False
    return all(v is None or v >= 0 for t in localise.TABLES for k, v in values[t].items() if k != "format_version")


def answer(values: dict[str, dict]) -> localise.Diagnosis | None:
    return localise.localise("r", values, values["applications"]["format_version"])


def cells_of(solution) -> dict[str, int | None]:
    return {c.cell: c.proposed for c in solution}


def test_report_002_two_broken_review_totals_are_the_unique_answer():
    """The real report 002 prints 行政复议 总计 0 under 10 + 1 and 复议后起诉 总计 0 under 5."""
    parsed = ingest_file.parse_one(REAL / "002.tables.txt", {})
    rows = ingest_file.report_rows(parsed)
    values = {t: rows[t][0] for t in localise.TABLES}
    diag = answer(values)
    assert diag is not None and not diag.ambiguous
    assert cells_of(diag.solutions[0]) == {"review_total": 11, "litigation_after_review_total": 5}
    # The row that could be 0 instead stays listed, as a dearer alternative of the same size.
    assert [cells_of(s) for s in diag.solutions[1:]] == [{"review_total": 11, "litigation_after_review_upheld": 0}]
    assert "「表四·行政复议·总计」印刷为 0,应为 11" in localise.headline(diag)


def _with(values, table, **cells):
    out = {t: dict(row) for t, row in values.items()}
    out[table].update(cells)
    return out


CASES = [
    # (name, table, edits, expected cells -> values of the unique answer, kind of the first change)
    ("negative total", "applications", {"total_person": -6}, {"total_person": 6}, localise.SIGN),
    ("wrong detail", "applications", {"granted_business": 7}, {"granted_business": 2}, localise.FELLEGI_HOLT),
    ("wrong grand total", "applications", {"total_total": 57}, {"total_total": 51}, localise.TYPO),
    ("new of one column", "applications", {"new_charity": 13}, {"new_charity": 8}, localise.FELLEGI_HOLT),
    ("total left out a row", "review_litigation", {"review_total": 4}, {"review_total": 5}, localise.OMISSION),
]


@pytest.mark.parametrize(("name", "table", "edits", "expected", "kind"), CASES, ids=[c[0] for c in CASES])
def test_one_wrong_cell_is_located_with_its_value(name, table, edits, expected, kind):
    diag = answer(_with(clean(), table, **edits))
    assert diag is not None
    assert cells_of(diag.solutions[0]) == expected and not diag.ambiguous, name
    assert diag.solutions[0][0].kind == kind


def test_two_digit_swap_and_copy_are_recognised():
    swapped = _with(clean(), "applications", total_total=15)
    diag = answer(swapped)
    assert cells_of(diag.solutions[0]) == {"total_total": 51} and diag.solutions[0][0].kind == localise.SWAP
    assert "疑似数字颠倒" in localise.headline(diag)
    apps = clean()["applications"]
    copied = _with(clean(), "applications", total_legal=apps["total_research"])
    diag = answer(copied)
    assert cells_of(diag.solutions[0]) == {"total_legal": apps["total_legal"]}
    assert diag.solutions[0][0].kind == localise.COPY


def test_equal_weights_give_a_tie_never_a_silent_pick():
    """A 表四 group with one broken total: with uniform weights total and rows are equally likely."""
    values = _with(clean(), "review_litigation", review_total=9)
    diag = localise.localise("r", values, S.FORMAT_2021, lambda cell: 1.0)
    assert diag.ambiguous and diag.best == len(diag.solutions) >= 2
    assert {"review_total": 5} in [cells_of(s) for s in diag.solutions]
    assert "无法唯一确定" in localise.headline(diag)


def test_two_wrong_cells_list_the_rectangle_as_a_tie():
    """Two cells of 表三 one too high, in different rows and columns: lowering the other two corners of
    the rectangle repairs the same row and column sums, so both sets are listed and the answer is
    ambiguous."""
    apps = clean()["applications"]
    values = _with(
        clean(),
        "applications",
        granted_research=apps["granted_research"] + 1,
        partly_granted_charity=apps["partly_granted_charity"] + 1,
    )
    diag = answer(values)
    assert diag.ambiguous and diag.best == 2
    mine = {"granted_research": apps["granted_research"], "partly_granted_charity": apps["partly_granted_charity"]}
    other = {
        "granted_charity": apps["granted_charity"] - 1,
        "partly_granted_research": apps["partly_granted_research"] - 1,
    }
    assert {frozenset(cells_of(s).items()) for s in diag.solutions} == {
        frozenset(mine.items()),
        frozenset(other.items()),
    }
    unequal = _with(clean(), "applications", granted_person=3, unable_1_business=4)  # no rectangle: unique
    assert [cells_of(s) for s in answer(unequal).solutions] == [{"granted_person": 1, "unable_1_business": 1}]
    assert not diag.solver  # pairs are found without the solver


def test_three_wrong_cells_are_found_by_the_solver():
    apps = clean()["applications"]
    wrong = {"granted_person": 9, "withheld_1_research": 6, "unable_1_other_org": 7}
    diag = answer(_with(clean(), "applications", **wrong))
    assert diag.solver and not diag.ambiguous
    assert cells_of(diag.solutions[0]) == {c: apps[c] for c in wrong}


def test_blank_cells_are_never_proposed():
    values = _with(clean(), "applications", granted_research=None, total_person=99)
    diag = answer(values)
    assert diag is not None and diag.solver  # blanks are free variables: the solver's case
    assert all(c.cell != "granted_research" for s in diag.solutions for c in s)


def test_no_value_is_negative_or_fractional_and_the_answer_repairs_the_report():
    values = _with(clean(), "applications", new_person=-3, total_total=1)
    diag = answer(values)
    for solution in diag.solutions:
        for c in solution:
            assert c.low >= 0 and (c.proposed is None or (c.proposed >= 0 and isinstance(c.proposed, int)))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(synth.LOCATED_ERRORS), st.sampled_from(S.FORMAT_VERSIONS))
def test_applying_the_first_answer_repairs_every_rule(seed, kind, version):
    """Whatever the injected error, every listed set, applied with its values, makes every rule hold;
    and the injected cells are repaired by one of the listed sets or by a smaller one."""
    rng = np.random.default_rng(seed)
    values = clean(version)
    injected = synth.inject_located(rng, values, kind)
    if injected is None or holds(values):
        return
    diag = answer(values)
    assert diag is not None
    for solution in diag.solutions:
        repaired = {t: dict(row) for t, row in values.items()}
        if any(c.proposed is None for c in solution):
            continue
        for c in solution:
            assert c.proposed >= 0
            repaired[c.table][c.cell] = c.proposed
        assert holds(repaired)
    assert len(diag.solutions[0]) <= len(injected)


def test_diagnoses_table_round_trips():
    values = _with(clean(), "review_litigation", review_total=9)
    reports = {"R1": {"meta": {"format_version": "2021"}, "values": values}}
    table = localise.diagnose("run", {"R1": {"R4.review"}}, reports)
    assert table.schema == localise.DIAGNOSES_SCHEMA
    rows = table.to_pylist()
    assert rows[0]["cell"] == "review_total" and rows[0]["proposed"] == 5 and rows[0]["best"]
    back = localise.from_table(table)["R1"]
    assert [cells_of(s) for s in back.solutions] == [cells_of(s) for s in answer(values).solutions]
    assert back.ambiguous == answer(values).ambiguous
    # Only arithmetic failures ask for a localisation.
    assert localise.diagnose("run", {"R1": {"R9.applications"}}, reports).num_rows == 0
    assert json.dumps(rows, ensure_ascii=False)


def test_a_blank_six_is_named_as_the_format_prints_it():
    """(六)其他处理 blank in a 2021 report: its three sub-rows are missing, not the 2019 single row."""
    from nianbao.kinds import kind
    from nianbao.report import _verdict_word, severity_word

    rule = R.RULES_BY_ID["R2.person"]
    for version, named, not_named in (
        (S.FORMAT_2021, "(六)其他处理·1.", "单行"),
        (S.FORMAT_2019, "(六)其他处理(单行,2019 格式)", "(六)其他处理·1."),
    ):
        row = _with(clean(version), "applications", other_1_person=None, other_2_person=None, other_3_person=None)
        row["applications"]["other_person"] = None
        why = kind("identity").explain(rule, row["applications"])
        assert why.status == "not_assessable" and named in why.message and not_named not in why.message
        assert set(why.cells) >= ({"other_1_person"} if version == S.FORMAT_2021 else {"other_person"})
    assert severity_word("error", "not_assessable") == "无法核验" == _verdict_word("error", "not_assessable")
    assert severity_word("error", "failed") == "错误"


def test_a_negative_detail_is_never_the_advised_total():
    """-9 printed in 表三 (七)总计·自然人: the advice never asks for a negative total, and the localisation
    names that cell with its true value."""
    from nianbao.kinds import kind

    values = _with(clean(), "applications", total_person=-9)
    why = kind("identity").explain(R.RULES_BY_ID["R3.total"], values["applications"])
    assert "-9" not in why.fix.split("应改为")[-1] and "为负数" in why.fix
    diag = answer(values)
    assert cells_of(diag.solutions[0]) == {"total_person": 6} and not diag.ambiguous


def test_single_wrong_cells_the_rules_single_out_are_located_exactly():
    """The evaluation (benchmarks/localise.py) on clean synthetic reports: where the rules single out one
    set of cells, the answer is that set with the true values in at least 95 % of cases, and a single
    wrong cell is never missed: it is the answer, a tie, or a listed alternative."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_localise", ROOT / "benchmarks" / "localise.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    reports = bench.clean_reports(120, seed=11)
    results, distinct, _ = bench.evaluate(reports, 11, localise.default_weight)
    for kind in ("detail", "total", "swap", "copy"):
        counts, among = results[kind], distinct[kind]
        assert sum(counts.values()) > 0, kind
        assert counts["missed"] == 0 and counts["wrong unique"] == 0, (kind, counts)
        if sum(among.values()):
            assert among["exact"] / sum(among.values()) >= 0.95, (kind, among)
