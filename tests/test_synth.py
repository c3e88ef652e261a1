"""The synthetic corpus generator and the hand-written DuckDB lower bound, on real Parquet files."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from nianbao import lowerbound, synth
from nianbao import rules as RL
from nianbao import schema as S
from nianbao.exitcodes import ExitCode

N = 20_000
# Which rule family each injection kind is about; the truth may list more (e.g. a +k breaks R1 and R3).
KIND_FAMILY = {
    "identity-broken": ("R1", "R2", "R3", "R4"),
    "negative-count": ("R5",),
    "blank-cell": ("R9",),
    "carried-forward-exceeds": ("R7",),
    "fee-in-yuan": ("R6",),
    "negative-fee": ("R6",),
    "rules-at-township": ("R10",),
    "items-below-zero": ("R8",),
}


def pairs(table: pa.Table) -> set[tuple[str, str]]:
    return set(zip(table["report_id"].to_pylist(), table["rule_id"].to_pylist()))


def read(folder, table: str) -> pa.Table:
    return pq.read_table(sorted((folder / table).glob("*.parquet")))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """20k reports, 10 % with one injected error, several part files."""
    out = tmp_path_factory.mktemp("synth")
    summary = synth.generate(N, out, error_rate=0.1, seed=11, chunk=7_000)
    return out, summary


def test_lowerbound_finds_exactly_the_injected_errors(corpus):
    """Every truth row is a failure of the lower bound and every failure is in the truth."""
    out, summary = corpus
    truth, found = pairs(pq.read_table(out / "_truth" / "truth.parquet")), pairs(lowerbound.failures(out))
    recall = len(truth & found) / len(truth)
    flagged_clean = {r for r, _ in found} - {r for r, _ in truth}
    print(
        f"\nlower bound on {N} reports: recall {recall:.6f}, clean reports flagged {len(flagged_clean)}, "
        f"truth rows {len(truth)}, failures {len(found)}"
    )
    assert summary.injected_reports > N * 0.08
    assert found == truth


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_violations_table_is_the_injected_truth(corpus, tmp_path, engine):
    """engines.prepare lists, in one query over the rows each suite's asset holds, exactly the injected
    failures; rows_failing counts each expectation's failing rows from it (what GX's count is checked against)."""
    from nianbao import engines
    from nianbao import violations as V

    out, _ = corpus
    prepared = engines.prepare(engine, out, work_dir=tmp_path / "work")
    try:
        found = prepared.violations
    finally:
        prepared.close()
    truth = pairs(pq.read_table(out / "_truth" / "truth.parquet"))
    flat = V.pairs(found)
    assert pairs(flat) == truth and flat.num_rows == len(truth)
    assert found.num_rows == len({r for r, _ in truth}) and all(len(x) > 0 for x in found["rule_ids"].to_pylist())
    suite_of = {(p["report_id"], p["rule_id"]): p["suite"] for p in flat.to_pylist()}
    assert set(suite_of.values()) == set(RL.SUITES)
    for suite in RL.SUITES:
        for check in RL.checks_for_suite(suite):
            ids = {r for (r, rule), s in suite_of.items() if s == suite and rule in {x.id for x in check.rules}}
            assert V.rows_failing(found, suite, [r.id for r in check.rules]) == (len(ids), ids), (suite, check.id)


def test_clean_corpus_has_no_failure(tmp_path):
    """With no injection, no rule fails on any report (every identity, R7, R10, the fee range hold)."""
    synth.generate(10_000, tmp_path, error_rate=0, seed=12)
    assert lowerbound.failures(tmp_path).num_rows == 0
    assert pq.read_table(tmp_path / "_truth" / "truth.parquet").num_rows == 0


def test_every_kind_is_injected_and_breaks_its_rule(corpus):
    """Each kind appears, and each injected (report, table) breaks a rule of the family the kind is about."""
    out, summary = corpus
    truth = pq.read_table(out / "_truth" / "truth.parquet").to_pylist()
    assert set(summary.injections) == set(KIND_FAMILY)
    families: dict[tuple[str, str, str], set[str]] = {}
    for row in truth:
        table = RL.RULES_BY_ID[row["rule_id"]].table
        families.setdefault((row["report_id"], table, row["injected"]), set()).add(row["rule_id"].split(".")[0])
    assert len(families) == sum(summary.injections.values())
    for (report, table, kind), found in families.items():
        assert found & set(KIND_FAMILY[kind]), (report, table, kind, found)
    # A blank makes its identities not assessable, which is not a failure: only R9 is broken.
    assert {r["rule_id"].split(".")[0] for r in truth if r["injected"] == "blank-cell"} == {"R9"}


def test_schemas_are_the_contract(corpus, tmp_path):
    """Every part file has the schema of schema.TABLE_SCHEMAS exactly; the truth has its four columns."""
    out, _ = corpus
    for table, schema in S.TABLE_SCHEMAS.items():
        # Parquet has no seconds unit: timestamp[s] reads back as [ms] from any writer, so the
        # contract is compared in its Parquet form.
        pq.write_table(schema.empty_table(), tmp_path / f"{table}.parquet")
        contract = pq.read_schema(tmp_path / f"{table}.parquet")
        files = sorted((out / table).glob("synth-11-*.parquet"))
        assert files, table
        for f in files:
            assert pq.read_schema(f).equals(contract, check_metadata=False), f
            assert pq.read_schema(f).names == schema.names
    assert pq.read_table(out / "cells").num_rows == 0
    assert pq.read_schema(out / "_truth" / "truth.parquet").names == ["report_id", "rule_id", "injected", "cell"]


def test_report_ids_follow_the_schema_function(corpus):
    """report_id == schema.report_id_for(agency, region, year), unique, and well formed."""
    out, _ = corpus
    reports = read(out, "reports").to_pylist()
    assert len(reports) == N
    assert all(r["report_id"] == S.report_id_for(r["agency"], r["region"], r["year"]) for r in reports)
    assert len({r["report_id"] for r in reports}) == N
    for table in synth.STATUTORY:
        assert read(out, table)["report_id"].to_pylist() == [r["report_id"] for r in reports]


def test_corpus_looks_national(corpus):
    """All levels, both formats and the single-row deviation appear; small units mostly report zeros."""
    out, _ = corpus
    reports = read(out, "reports")
    apps = read(out, "applications")
    assert set(reports["level"].to_pylist()) == set(S.LEVELS)
    versions = reports["format_version"].to_pylist()
    assert 0.8 < versions.count(S.FORMAT_2021) / N < 0.99
    assert synth.SINGLE_ROW_DEVIATION in reports["format_deviations"].to_pylist()
    township = pc.equal(reports["level"], "township")
    zeros = pc.sum(pc.and_(township, pc.equal(apps["new_total"], 0))).as_py() / pc.sum(township).as_py()
    assert zeros > 0.6
    province = pc.filter(apps["new_total"], pc.equal(reports["level"], "province"))
    assert pc.min(province).as_py() > pc.max(pc.filter(apps["new_total"], township)).as_py() / 10
    assert all(
        n.endswith(("镇人民政府", "乡人民政府", "街道办事处"))
        for n in pc.filter(reports["agency"], township).to_pylist()
    )


def test_same_seed_same_files(tmp_path):
    """Generation is deterministic for a seed, byte for byte, across several chunks."""
    digests = []
    for name in ("a", "b"):
        synth.generate(3_000, tmp_path / name, error_rate=0.2, seed=5, chunk=1_000)
        digests.append(
            {
                f.relative_to(tmp_path / name): hashlib.sha256(f.read_bytes()).hexdigest()
                for f in sorted((tmp_path / name).rglob("*.parquet"))
            }
        )
    assert digests[0] == digests[1]
    # 4 tables x 3 chunks, an empty file per side table (cells, sections, ...), the truth
    assert len(digests[0]) == 4 * 3 + len(set(S.TABLE_SCHEMAS) - {"reports", *synth.STATUTORY}) + 1
    synth.generate(3_000, tmp_path / "c", error_rate=0.2, seed=6, chunk=1_000)
    assert (tmp_path / "c" / "applications" / "synth-6-00000.parquet").read_bytes() != (
        tmp_path / "a" / "applications" / "synth-5-00000.parquet"
    ).read_bytes()


def test_regenerating_replaces_the_earlier_corpus(tmp_path):
    """A second run leaves no part file of the first; other writers' files stay."""
    synth.generate(2_000, tmp_path, seed=1, chunk=500)
    keep = tmp_path / "reports" / "ingest-x.parquet"
    keep.write_bytes(b"not ours")
    synth.generate(800, tmp_path, seed=2, chunk=500)
    assert sorted(f.name for f in (tmp_path / "applications").iterdir()) == [
        "synth-2-00000.parquet",
        "synth-2-00001.parquet",
    ]
    assert keep.exists()


def test_large_corpora_span_report_years():
    """A million reports cover 2019-2024 with one national roster; years before 2021 use the 2019 format."""
    p = synth.plan(1_000_000, 0, 2024)
    assert list(p.years) == list(range(2019, 2025))
    assert len(p.sample) * len(p.years) >= 1_000_000 and len(set(p.sample.tolist())) == len(p.sample)
    keys = pc.binary_join_element_wise(p.roster.region, p.roster.agency, "|")
    assert pc.count_distinct(keys).as_py() == len(keys)  # one report per agency and year


def test_2020_reports_use_the_2019_format(tmp_path):
    synth.generate(500, tmp_path, seed=3, year=2020)
    assert set(read(tmp_path, "reports")["format_version"].to_pylist()) == {S.FORMAT_2019}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": 0}, "--reports"),
        ({"error_rate": 1.5}, "--error-rate"),
        ({"errors_per_report": 4}, "errors per report"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, message):
    args = {"n": 10, "error_rate": 0.02, "errors_per_report": 1} | kwargs
    with pytest.raises(ValueError, match=message):
        synth.generate(args.pop("n"), tmp_path, **args)


def test_command_reports_a_bad_output_folder(tmp_path, capsys):
    """--out naming a file: a clear message and the configuration exit code, no traceback."""
    target = tmp_path / "file"
    target.write_text("x")
    args = SimpleNamespace(reports=10, out=str(target), error_rate=0.02, seed=0, year=2024, errors_per_report=1)
    assert synth.command(args) == ExitCode.CONFIG_ERROR
    assert "is not a folder" in capsys.readouterr().err


def test_lowerbound_scopes_rows_like_the_suites(tmp_path):
    """Like the GX assets: no reports folder is an error naming it, a statutory table without files has
    nothing to check, and table 四 is checked whatever its format version (one suite for both)."""
    synth.generate(300, tmp_path, error_rate=1, errors_per_report=3, seed=1)
    review = read(tmp_path, "review_litigation")
    found = lowerbound.failures(tmp_path)
    review_rules = {r for _, r in pairs(found) if RL.RULES_BY_ID[r].table == "review_litigation"}
    assert review_rules
    (f,) = (tmp_path / "review_litigation").glob("*.parquet")
    i = review.schema.get_field_index("format_version")
    pq.write_table(review.set_column(i, review.schema.field(i), pa.nulls(review.num_rows, pa.string())), f)
    assert pairs(lowerbound.failures(tmp_path)) == pairs(found)
    f.unlink()
    assert pairs(lowerbound.failures(tmp_path)) == {p for p in pairs(found) if p[1] not in review_rules}
    for f in (tmp_path / "reports").glob("*.parquet"):
        f.unlink()
    with pytest.raises(FileNotFoundError, match="reports"):
        lowerbound.failures(tmp_path)


# --- The lower bound's semantics on hand-made cases (not derived from the generator's evaluator) ---


def _set(table: pa.Table, row: int, column: str, value) -> pa.Table:
    """table with one cell replaced."""
    values = table[column].to_pylist()
    values[row] = value
    i = table.schema.get_field_index(column)
    return table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))


def test_lowerbound_semantics_on_hand_made_cases(tmp_path):
    """Null operands are not assessable, (六) as one row stands in, bounds are inclusive, levels matter."""
    synth.generate(2_000, tmp_path, error_rate=0, seed=21)
    reports = read(tmp_path, "reports").to_pylist()
    tables = {t: read(tmp_path, t) for t in synth.STATUTORY}
    apps = tables["applications"].to_pylist()

    def pick(test, skip=()):
        return next(i for i, r in enumerate(reports) if test(r, apps[i]) and i not in skip)

    v21 = lambda r, a: r["format_version"] == S.FORMAT_2021 and r["format_deviations"] == ""
    single = lambda r, a: r["format_deviations"] == synth.SINGLE_ROW_DEVIATION
    used, expected = set(), set()

    def change(test, table, column, value, rules):
        i = pick(test, used)
        used.add(i)
        current = tables[table][column][i].as_py()
        tables[table] = _set(tables[table], i, column, value(current, apps[i]) if callable(value) else value)
        expected.update((reports[i]["report_id"], r) for r in rules)

    change(v21, "applications", "new_person", lambda v, a: v + 1, ["R1.person", "R3.new"])
    change(v21, "applications", "other_2_person", None, ["R9.applications"])
    change(single, "applications", "other_person", None, ["R9.applications"])
    change(single, "applications", "other_person", lambda v, a: v + 2, ["R2.person", "R3.other"])
    change(
        v21,
        "applications",
        "carried_forward_person",
        lambda v, a: v + a["total_person"] + 1,
        ["R1.person", "R3.carried_forward", "R7.person"],
    )
    change(lambda r, a: v21(r, a) and r["level"] == "township", "active_disclosure", "rules_in_force", 1, ["R10.rules"])
    change(lambda r, a: v21(r, a) and r["level"] == "city", "active_disclosure", "rules_in_force", 7, [])
    change(v21, "active_disclosure", "fees_10k_yuan", Decimal("100000"), [])
    change(v21, "active_disclosure", "fees_10k_yuan", Decimal("100000.000001"), ["R6.magnitude"])
    change(v21, "active_disclosure", "fees_10k_yuan", Decimal("-0.000001"), ["R6.non_negative"])
    change(v21, "review_litigation", "review_total", None, ["R9.review_litigation"])
    change(v21, "review_litigation", "review_pending", -1, ["R5.review_litigation", "R4.review"])

    for table, data in tables.items():
        (f,) = (tmp_path / table).glob("synth-*.parquet")
        pq.write_table(data, f)
    assert pairs(lowerbound.failures(tmp_path)) == expected


# --- The benchmark harness's own parts (the GX side is exercised by tests/test_recall.py) ---


def test_measure_reports_each_childs_own_peak_memory():
    """Peak RSS comes from wait4 per child: a big child does not inflate the next small one."""
    from nianbao import bench

    big = bench.measure(bench._python("-c", "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"))
    small = bench.measure(bench._python("-c", "pass"))
    assert big.code == small.code == 0
    assert big.peak_mb > 300 > small.peak_mb
    assert big.cpu_seconds > 0
    failing = bench.measure(bench._python("-c", "import sys; sys.exit(3)"))
    with pytest.raises(bench.BenchError, match="exit code 3"):
        bench._checked("step", failing)


def test_bench_lowerbound_child_and_synth_table(tmp_path, capsys):
    """The lower-bound child writes the failure pairs; the synth benchmark prints its row."""
    from nianbao import bench

    data = tmp_path / "data"
    synth.generate(3_000, data, error_rate=0.3, seed=8)
    run = bench.measure(bench._child("lowerbound", str(data), str(tmp_path / "lb.parquet")))
    assert run.code == 0, run.stderr
    assert bench._pairs(tmp_path / "lb.parquet") == bench._pairs(data / "_truth" / "truth.parquet")
    assert run.result()["failures"] == pq.read_table(data / "_truth" / "truth.parquet").num_rows
    bench.bench_synth([2_000], tmp_path, None)
    assert "2,000" in capsys.readouterr().out
