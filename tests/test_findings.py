"""findings.collect: GX judges each expectation, the violations table names the rows and rules, and any
disagreement between the two is a `findings-disagree-with-gx` problem (the run exits 4, see test_run).

The validation results are real: the suites validated by GX on DuckDB over real Parquet files, with
the production result format (SUMMARY: failing-row counts and at most 20 report ids). Only the
violations table handed to collect() is tampered with, as a findings query that drifted from the
expectations would be.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import gx_fixtures as F
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nianbao import findings as FND
from nianbao import schema as S
from nianbao import violations as V
from nianbao.cells import LABELS
from nianbao.context import get_context
from nianbao.engines import PARTIAL_IDS, RESULT_FORMAT, attach

MANY = PARTIAL_IDS + 5  # reports failing R4.review: more than GX shows


def _rid(name: str) -> str:
    return F.report(name)["reports"]["report_id"]


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """(checkpoint-like result, violations table, report ids of the R4 failures GX showed)."""
    data = tmp_path_factory.mktemp("findings") / "data"
    reports = [
        F.report("clean"),
        F.report("r5", changes={"review_upheld": -1, "review_total": 4}),  # R5 and R4.review
        F.report("r1", changes={"new_person": 6, "new_total": 46}),  # R1.person, R1.total
        F.report("r1-2019", version=S.FORMAT_2019, changes={"new_person": 6, "new_total": 46}),
        F.report("blank", changes={"review_other": None}),
    ]  # R9 only
    reports += [F.report(f"r4-{i}", changes={"review_total": 9}) for i in range(MANY)]
    F.write_reports(data, "findings", reports)
    ctx = get_context()
    attached = attach(ctx, "duckdb", data, work_dir=data.parent / "work")
    try:
        run_results = {
            suite: bd.get_batch().validate(ctx.suites.get(suite), result_format=RESULT_FORMAT)
            for suite, bd in attached.items()
        }
    finally:
        attached.prepared.close()
    (r4,) = [r for r in run_results["review_litigation"].results if r.expectation_config.meta["check_id"] == "R4"]
    shown = FND._partial_ids(r4.result)
    assert r4.result["unexpected_count"] == MANY + 1 and len(shown) == PARTIAL_IDS
    return SimpleNamespace(run_results=run_results), attached.violations, set(shown)


def everything(rule_id: str, severity: str) -> bool:
    return True


def _pairs(table: pa.Table) -> set[tuple]:
    return {(p["suite"], p["rule_id"], p["report_id"]) for p in V.pairs(table).to_pylist()}


def test_gx_and_the_violations_table_agree(validated):
    result, found, _ = validated
    collected = FND.collect(result, everything, found)
    assert collected.problems == [] and collected.raised == []
    assert {(f.suite, f.rule_id, f.report_id) for f in collected.failures} == _pairs(found)
    stated = {
        ("review_litigation", "R5.review_litigation", _rid("r5")),
        ("review_litigation", "R4.review", _rid("r5")),
        ("applications_2021", "R1.person", _rid("r1")),
        ("applications_2021", "R1.total", _rid("r1")),
        ("applications_2019", "R1.person", _rid("r1-2019")),
        ("applications_2019", "R1.total", _rid("r1-2019")),
        ("review_litigation", "R9.review_litigation", _rid("blank")),
    }
    stated |= {("review_litigation", "R4.review", _rid(f"r4-{i}")) for i in range(MANY)}
    assert _pairs(found) == stated
    assert [(f.suite, f.rule_id, f.report_id) for f in collected.incomplete] == [
        ("review_litigation", "R9.review_litigation", _rid("blank"))
    ]
    assert collected.expectations["review_litigation"] == {"evaluated": 3, "failed": 3, "raised": 0, "rows": 5 + MANY}


# --- tampering: (what is done to the violations table) -> the checks found to disagree ----------


def _drop(table: pa.Table, report_id: str) -> pa.Table:
    return table.filter(pc.not_equal(table["report_id"], report_id))


def _add(table: pa.Table, suite: str, report_id: str, rule_ids: list[str]) -> pa.Table:
    row = pa.table({"suite": [suite], "report_id": [report_id], "rule_ids": [rule_ids]}, schema=V.SCHEMA)
    return pa.concat_tables([table, row])


def _edit(table: pa.Table, which: str, **changes) -> pa.Table:
    """The table with the row of report `which` changed."""
    rows = table.to_pylist()
    assert which in {row["report_id"] for row in rows}
    for row in rows:
        if row["report_id"] == which:
            row.update(changes)
    return pa.Table.from_pylist(rows, schema=V.SCHEMA)


def _not_shown(shown: set) -> str:
    return next(_rid(f"r4-{i}") for i in range(MANY) if _rid(f"r4-{i}") not in shown)


def _shown(shown: set) -> str:
    return next(_rid(f"r4-{i}") for i in range(MANY) if _rid(f"r4-{i}") in shown)


TAMPERING = [
    # a failing row GX shows, removed: one failing row fewer than GX counted
    ("drop a row GX shows", lambda t, shown: _drop(t, _shown(shown)), {("review_litigation", "R4")}),
    # beyond the 20 ids GX shows, only its count can tell
    ("drop a row GX does not show", lambda t, shown: _drop(t, _not_shown(shown)), {("review_litigation", "R4")}),
    (
        "add a row GX passed",
        lambda t, shown: _add(t, "review_litigation", _rid("clean"), ["R5.review_litigation"]),
        {("review_litigation", "R5.review_litigation")},
    ),
    (
        "add a rule to a failing row",
        lambda t, shown: _edit(t, _rid("blank"), rule_ids=["R9.review_litigation", "R4.review"]),
        {("review_litigation", "R4")},
    ),
    (
        "drop one of a row's rules",
        lambda t, shown: _edit(t, _rid("r5"), rule_ids=["R4.review"]),
        {("review_litigation", "R5.review_litigation")},
    ),
    # same count, but an id GX showed is not among the rows listed
    (
        "a shown failure under another report id",
        lambda t, shown: _edit(t, _shown(shown), report_id=_rid("clean")),
        {("review_litigation", "R4")},
    ),
    (
        "a row in the wrong suite",
        lambda t, shown: _edit(t, _rid("r1"), suite="applications_2019"),
        {("applications_2021", "R1"), ("applications_2019", "R1")},
    ),
    (
        "an empty table",
        lambda t, shown: V.SCHEMA.empty_table(),
        {
            ("review_litigation", "R4"),
            ("review_litigation", "R5.review_litigation"),
            ("review_litigation", "R9.review_litigation"),
            ("applications_2021", "R1"),
            ("applications_2019", "R1"),
        },
    ),
]


@pytest.mark.parametrize("name, tamper, disagree", TAMPERING, ids=[t[0] for t in TAMPERING])
def test_a_disagreement_with_gx_is_a_problem(validated, name, tamper, disagree):
    result, found, shown = validated
    tampered = tamper(found, shown)
    assert not tampered.equals(found)
    collected = FND.collect(result, everything, tampered)
    assert {p["code"] for p in collected.problems} == {"findings-disagree-with-gx"}
    assert {(p["suite"], p["rule_id"]) for p in collected.problems} == disagree
    assert len(collected.problems) == len(disagree)
    assert all("GX: success=False" in p["message"] or "GX: success=True" in p["message"] for p in collected.problems)


def test_rules_not_selected_still_disagree(validated):
    """Selection chooses which findings count, never whether GX and the findings query are compared."""
    result, found, shown = validated
    only_r1 = lambda rule_id, severity: rule_id.startswith("R1.")
    collected = FND.collect(result, only_r1, _drop(found, _shown(shown)))
    assert {(p["code"], p["suite"], p["rule_id"]) for p in collected.problems} == {
        ("findings-disagree-with-gx", "review_litigation", "R4")
    }
    assert {f.rule_id for f in collected.failures} == {"R1.person", "R1.total"}


# --- nianbao.violations' table, by hand -----------------------------------------------------------

TABLE = pa.Table.from_pylist(
    [
        {"suite": "review_litigation", "report_id": "A", "rule_ids": ["R4.review", "R5.review_litigation"]},
        {"suite": "review_litigation", "report_id": "B", "rule_ids": ["R4.litigation_direct"]},
        {"suite": "applications_2021", "report_id": "A", "rule_ids": ["R1.person"]},
    ],
    schema=V.SCHEMA,
)
R4_RULES = ["R4.review", "R4.litigation_direct", "R4.litigation_after_review"]


@pytest.mark.parametrize(
    "suite, rule_ids, expected",
    [
        ("review_litigation", R4_RULES, (2, {"A", "B"})),
        ("review_litigation", ["R5.review_litigation"], (1, {"A"})),
        ("review_litigation", ["R4.review", "R5.review_litigation"], (1, {"A"})),  # a row counts once
        ("review_litigation", ["R9.review_litigation"], (0, set())),
        ("applications_2021", ["R1.person", "R4.review"], (1, {"A"})),  # only the suite's rows
        ("applications_2019", ["R1.person"], (0, set())),
        ("review_litigation", [], (0, set())),
    ],
)
def test_rows_failing(suite, rule_ids, expected):
    assert V.rows_failing(TABLE, suite, rule_ids) == expected
    assert V.rows_failing(V.SCHEMA.empty_table(), suite, rule_ids) == (0, set())


def test_pairs():
    assert V.pairs(TABLE).to_pylist() == [
        {"suite": "review_litigation", "report_id": "A", "rule_id": "R4.review"},
        {"suite": "review_litigation", "report_id": "A", "rule_id": "R5.review_litigation"},
        {"suite": "review_litigation", "report_id": "B", "rule_id": "R4.litigation_direct"},
        {"suite": "applications_2021", "report_id": "A", "rule_id": "R1.person"},
    ]
    empty = V.pairs(V.SCHEMA.empty_table())
    assert empty.num_rows == 0 and empty.schema == V.PAIRS_SCHEMA


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(LABELS)),
        st.one_of(st.none(), st.integers(), st.floats(allow_nan=False, allow_infinity=False)),
    )
)
def test_cells_json_is_json_dumps(cells):
    assert FND.cells_json(cells) == json.dumps(cells, ensure_ascii=False)
    assert json.loads(FND.cells_json(cells)) == cells


def test_findings_are_written_in_row_groups_and_read_back_filtered(tmp_path, monkeypatch):
    """findings.parquet written WRITE_BATCH_ROWS at a time is the same table as written at once; carried
    flags land on their rows; read_where keeps the rows it marks, batch by batch."""
    import pandas as pd
    import pyarrow.parquet as pq

    rows = {c: [None] * 5 for c in FND.COLUMNS}
    rows.update(
        report_id=[f"R{i:016X}" for i in range(5)],
        rule_id=["R1.total", "R4.review", "R1.total", "R9.missing", "R1.total"],
        status=[FND.FAILED] * 4 + [FND.NOT_ASSESSABLE],
        message=["甲", "乙", "丙", "丁", "戊"],
        year=[2023] * 5,
        waived=[False] * 5,
    )
    frame = FND.to_frame(pd.DataFrame(rows))
    carried = {("R0000000000000001", "R4.review")}
    FND.write(frame, tmp_path / "whole.parquet", carried)
    monkeypatch.setattr(FND, "WRITE_BATCH_ROWS", 2)
    FND.write(frame, tmp_path / "batches.parquet", carried)
    whole, batches = (pq.read_table(tmp_path / f) for f in ("whole.parquet", "batches.parquet"))
    assert pq.ParquetFile(tmp_path / "batches.parquet").num_row_groups == 3
    assert batches.equals(whole) and batches["carried"].to_pylist() == [False, True, False, False, False]
    kept = FND.read_where(tmp_path / "batches.parquet", lambda b: pc.equal(b["rule_id"], "R1.total"))
    assert kept.report_id.tolist() == ["R0000000000000000", "R0000000000000002", "R0000000000000004"]
    pd.testing.assert_frame_equal(kept, FND.read(tmp_path / "whole.parquet").iloc[[0, 2, 4]].reset_index(drop=True))
    FND.write(FND.empty(), tmp_path / "empty.parquet")
    assert pq.read_table(tmp_path / "empty.parquet").schema.equals(FND.STORED_SCHEMA)
