"""The same suites give the same (report_id, rule_id) failures on pandas, DuckDB, SQLite, PostgreSQL, Spark.

The corpus is a slice of test_rules' examples (failing, passing and blank-operand reports of a dozen
rules). DuckDB is the reference and is itself checked against the stated failures, so parity is
never parity of two empty sets.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from nianbao import engines as E
from nianbao import schema as S
from nianbao.context import get_context
from nianbao.paths import ROOT

import gx_fixtures as F
import test_rules as T

CORPUS_RULES = ("R1.person", "R2.legal", "R2.total", "R3.other", "R4.review", "R5.applications",
                "R5.active_disclosure", "R6.magnitude", "R6.non_negative", "R7.total", "R8.fees",
                "R9.applications", "R9.active_disclosure_2019", "R10.rules", "R10.rules_2019")


def _examples():
    return [e for e in T.examples() if e[1].rule_id in CORPUS_RULES]


@pytest.fixture(scope="module")
def ctx():
    return get_context()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    data = tmp_path_factory.mktemp("engines") / "data"
    reports = [F.report(name, version=version, changes=changes) for name, _, _, changes, version in _examples()]
    F.write_reports(data, "corpus", reports)
    return data


@pytest.fixture(scope="module")
def reference(ctx, corpus):
    return set(F.run_suites(ctx, "duckdb", corpus, corpus.parent / "duckdb"))


def _rid(name):
    return F.report(name)["reports"]["report_id"]


def test_reference_matches_the_stated_failures(reference):
    stated = {(_rid(n), r) for n, case, kind, _, _ in _examples() if kind == "fail" for r in case.fails}
    stated |= {(_rid(n), r) for n, case, kind, _, _ in _examples() if kind == "pass" for r in case.passing_fails}
    blank = {_rid(n) for n, _, kind, _, _ in _examples() if kind == "blank"}
    assert {k for k in reference if k[0] not in blank} == stated
    assert len(reference) > len(stated)  # the blank-operand reports fail R9


@pytest.mark.parametrize("engine", ["pandas", "sqlite"])
def test_same_failures(engine, ctx, corpus, reference, tmp_path):
    kw = {"db_url": f"sqlite:///{tmp_path / 'nianbao.db'}"} if engine == "sqlite" else {}
    got = F.run_suites(ctx, "sql" if engine == "sqlite" else engine, corpus, tmp_path, **kw)
    assert set(got) == reference


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_url():
    """NIANBAO_PG_URL (set by .ci/run), else a throwaway server on a free loopback port."""
    if os.environ.get("NIANBAO_PG_URL"):
        yield os.environ["NIANBAO_PG_URL"]
        return
    if not (PGBIN / "initdb").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PGBIN} and NIANBAO_PG_URL not set")
    work = Path(tempfile.mkdtemp(prefix="nianbao-pg-"))
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_pg:
        shutil.chown(work, "postgres")
    port, data = _free_port(), work / "data"
    run = lambda *cmd: subprocess.run([*as_pg, *cmd], check=True, capture_output=True)  # noqa: E731
    try:
        run(PGBIN / "initdb", "-D", data, "-A", "trust", "-U", "postgres")
        run(PGBIN / "pg_ctl", "-D", data, "-l", work / "log", "-w", "-o",
            f"-p {port} -k {work} -c listen_addresses=127.0.0.1", "start")
        run(PGBIN / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "nianbao")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/nianbao"
    finally:
        subprocess.run([*as_pg, PGBIN / "pg_ctl", "-D", data, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.postgres
def test_same_failures_on_postgresql(ctx, corpus, reference, pg_url, tmp_path):
    assert set(F.run_suites(ctx, "sql", corpus, tmp_path, db_url=pg_url)) == reference


@pytest.mark.spark
def test_same_failures_on_spark(ctx, corpus, reference, tmp_path):
    """Every suite, whole, on Spark in local mode (small data: Spark pays seconds per expectation)."""
    assert set(F.run_suites(ctx, "spark", corpus, tmp_path)) == reference


# --- The plumbing ------------------------------------------------------------------------------


def test_yml_declares_the_datasources():
    doc = yaml.safe_load((ROOT / "great_expectations.yml").read_text(encoding="utf-8"))
    assert doc["fluent_datasources"] == E.datasources_config()


def test_attach_does_not_rewrite_the_yml(ctx, corpus, tmp_path):
    before = hashlib.sha256((ROOT / "great_expectations.yml").read_bytes()).hexdigest()
    for engine in ("duckdb", "pandas"):
        E.attach(ctx, engine, corpus, work_dir=tmp_path / engine)
    assert hashlib.sha256((ROOT / "great_expectations.yml").read_bytes()).hexdigest() == before


def _rows(ctx, engine, suite="review_litigation"):
    batch = E.batch_definition(ctx, engine, suite).get_batch()
    return batch.columns(), batch.head(fetch_all=True).data


def test_selection(ctx, tmp_path):
    data = tmp_path / "data"
    F.write_reports(data, "sel", [F.report("甲", region="江苏省淮安市", year=2023),
                                  F.report("乙", region="江苏省南京市", year=2022),
                                  F.report("丙", region="浙江省杭州市", year=2023, version=S.FORMAT_2019)])
    ids = {n: _rid_in(n, r, y) for n, r, y in (("甲", "江苏省淮安市", 2023), ("乙", "江苏省南京市", 2022),
                                               ("丙", "浙江省杭州市", 2023))}
    for where, expected in [({"region": "江苏省"}, {"甲", "乙"}), ({"year": 2023}, {"甲", "丙"}),
                            ({"agency": "乙"}, {"乙"}), ({"report_ids": [ids["丙"]]}, {"丙"}),
                            ({"region": "江苏省", "year": [2023]}, {"甲"}), ({"agency": "%"}, set())]:
        E.attach(ctx, "duckdb", data, where=where, work_dir=tmp_path / "work")
        _, df = _rows(ctx, "duckdb")
        assert set(df["report_id"]) == {ids[n] for n in expected}, where
    E.attach(ctx, "duckdb", data, work_dir=tmp_path / "work")
    assert set(_rows(ctx, "duckdb", "applications_2019")[1]["report_id"]) == {ids["丙"]}
    with pytest.raises(ValueError, match="unknown selection"):
        E.attach(ctx, "duckdb", data, where={"province": "x"}, work_dir=tmp_path / "work")
    with pytest.raises(ValueError, match="not report ids"):
        E.attach(ctx, "duckdb", data, where={"report_ids": ["x' OR 1=1 --"]}, work_dir=tmp_path / "work")


def _rid_in(name, region, year):
    return S.report_id_for(f"测试机关{name}", region, year)


def test_asset_joins_report_columns(ctx, corpus, tmp_path):
    E.attach(ctx, "duckdb", corpus, work_dir=tmp_path)
    columns, df = _rows(ctx, "duckdb", "active_disclosure_2021")
    assert {"agency", "region", "year", "level", "report_id", "rules_issued"} <= set(columns)
    assert set(df["format_version"]) == {S.FORMAT_2021}


def test_bad_data_folder_is_named(ctx, tmp_path):
    with pytest.raises(E.DataFolderError, match="no reports/ folder"):
        E.attach(ctx, "duckdb", tmp_path, work_dir=tmp_path / "w")
    data = tmp_path / "data"
    F.write_reports(data, "a", [F.report("甲")])
    F.write_reports(data, "b", [F.report("甲")])
    with pytest.raises(E.DataFolderError, match="report_id not unique"):
        E.attach(ctx, "duckdb", data, work_dir=tmp_path / "w")
    (data / "reports" / "b.parquet").unlink()
    table = pq.read_table(data / "review_litigation" / "b.parquet").drop_columns(["review_total"])
    pq.write_table(table, data / "review_litigation" / "b.parquet")
    with pytest.raises(E.DataFolderError, match=r"review_litigation/b\.parquet: missing column\(s\) \[.review_total.\]"):
        E.attach(ctx, "duckdb", data, work_dir=tmp_path / "w")


def test_empty_table_folder_gives_empty_assets(ctx, tmp_path):
    data = tmp_path / "data"
    (data / "reports").mkdir(parents=True)
    pq.write_table(S.REPORTS_SCHEMA.empty_table(), data / "reports" / "none.parquet")
    for suite, bd in E.attach(ctx, "duckdb", data, work_dir=tmp_path / "w").items():
        assert bd.get_batch().head(fetch_all=True).data.empty, suite


# --- The DuckDB fix ----------------------------------------------------------------------------

_DUCKDB_PROBE = textwrap.dedent("""
    import sys, duckdb, great_expectations as gx
    if sys.argv[2] == "fixed":
        import nianbao_plugins  # applies the fix
    con = duckdb.connect(sys.argv[1]); con.execute("CREATE TABLE t AS SELECT 1 AS a UNION ALL SELECT -2"); con.close()
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = {"globally": False}
    bd = (ctx.data_sources.add_sql("d", connection_string="duckdb:///" + sys.argv[1])
          .add_table_asset("t", table_name="t").add_batch_definition_whole_table("all"))
    r = bd.get_batch().validate(gx.expectations.ExpectColumnValuesToBeBetween(column="a", min_value=0),
                                result_format="COMPLETE")
    print("RESULT", r.success, r.result.get("unexpected_list"), "list index out of range" in str(r.exception_info))
""")


def _probe(tmp_path, mode):
    out = subprocess.run([sys.executable, "-c", _DUCKDB_PROBE, str(tmp_path / f"{mode}.duckdb"), mode],
                         capture_output=True, text=True, timeout=300)
    return next(line for line in out.stdout.splitlines() if line.startswith("RESULT"))


def test_duckdb_fix_is_needed_and_works(tmp_path):
    # GX 1.24.1 alone: the metric fails (rows fetched after the connection closed), no violation found
    assert _probe(tmp_path, "plain") == "RESULT False None True"
    assert _probe(tmp_path, "fixed") == "RESULT False [-2] False"  # with the fix: the real violation


def test_duckdb_fix_refuses_other_gx_versions():
    from nianbao_plugins import compat

    assert compat.duckdb_fix_applied()
    with pytest.raises(compat.IncompatibleGXVersion, match="1.24.1"):
        compat.apply_duckdb_fix(version="1.25.0")
