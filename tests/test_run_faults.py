"""Faults of runs and of the command line: selection values SQL would misread, a selection that matches
nothing, usage errors, and the run folders killed runs leave behind."""

from __future__ import annotations

import json
import os
import signal

import pandas as pd
import pytest
import sqlalchemy as sa
from checkpoint_support import base_reports, clone_root, make_root, report, run_cli, shared_nightly, write_data

from nianbao import engines as E
from nianbao import rules as R
from nianbao import schema as S
from nianbao.exitcodes import ExitCode, exit_code

# Agencies whose names SQL would misread: a bind parameter for SQLAlchemy's text(), a quote, both LIKE
# wildcards and the LIKE escape character. The decoy matches every one of them as an unescaped pattern.
REGION = "福建省平潭:x综合实验区"
AWKWARD = {"平潭 :x": "平潭 :x 局", "O'Neil": "O'Neil局", "%": "百分%之局", "_": "下_划线局", "\\": "反\\斜杠局"}
DECOY = "平潭诱饵局"
R1_ERROR = {"applications": {"new_person": 7, "new_total": 7}}  # new requests 7 against 5 granted: R1 fails


def awkward_data(folder):
    """The nightly fixture plus the awkward agencies and the decoy, each failing R1 (findings name them)."""
    extra = [report(a, REGION, "county", 2023, edits=R1_ERROR) for a in (*AWKWARD.values(), DECOY)]
    return write_data(folder, base_reports() + extra)


def awkward_ids() -> set[str]:
    return {S.report_id_for(a, REGION, 2023) for a in AWKWARD.values()}


AWKWARD_WHERE = {"region": ["福建省平潭:x"], "agency": list(AWKWARD)}
AWKWARD_SELECT = ["region:福建省平潭:x", *(f"agency:{v}" for v in AWKWARD)]


def latest(root):
    """The latest run's folder and its run_results.json."""
    run_dir = root / "uncommitted" / "runs" / "latest"
    return run_dir, json.loads((run_dir / "run_results.json").read_text(encoding="utf-8"))


# --- selection values are bound, never spliced into SQL ----------------------------------------------


def test_selection_values_never_enter_the_sql_text():
    for suite in R.SUITES:
        sql = E.suite_sql(suite, AWKWARD_WHERE)
        assert "nb_selection" in sql
        assert not [v for v in (":x", "O'Neil", "平潭") if v in sql], sql
    assert ("agency", "%平潭 :x%") in E.selection_rows(AWKWARD_WHERE)
    assert ("agency", "%\\%%") in E.selection_rows(AWKWARD_WHERE)  # LIKE's wildcards escaped in the bound value
    with pytest.raises(ValueError, match="not report ids"):
        E.selection_rows({"report_ids": ["R1' OR 1=1"]})


def _engine_args(engine: str, tmp_path) -> list[str]:
    """The command line's engine options for duckdb, sqlite or postgres (NIANBAO_PG_URL)."""
    if engine == "duckdb":
        return []
    if engine == "postgres" and not os.environ.get("NIANBAO_PG_URL"):
        pytest.skip("NIANBAO_PG_URL not set")
    url = os.environ["NIANBAO_PG_URL"] if engine == "postgres" else f"sqlite:///{tmp_path / 'nb.db'}"
    return ["--engine", "sql", "--db-url", url]


@pytest.mark.parametrize("engine", ["duckdb", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_awkward_selection_values_select_exactly_their_reports(engine, tmp_path):
    """`--select "agency:平潭 :x"` failed on the sql engine (an unbound parameter `:x`); `%` and `_`
    matched every agency. Each value selects its report, on DuckDB and through the SQL engine's views."""
    args = _engine_args(engine, tmp_path)
    root = make_root(tmp_path)
    data = awkward_data(tmp_path / "data")
    proc = run_cli(root, "run", "nightly", "--data", str(data), *args, "--select", *AWKWARD_SELECT)
    assert proc.returncode == ExitCode.ERRORS, proc.stderr[-3000:]
    run_dir, summary = latest(root)
    assert summary["reports_validated"] == len(AWKWARD)
    findings = pd.read_parquet(run_dir / "findings.parquet")
    assert set(findings.report_id) == awkward_ids()


def _sql_engine_views(db_url, tmp_path) -> set[str]:
    """The report ids the sql engine's views hold for the awkward selection (what GX reads)."""
    prepared = E.prepare("sql", awkward_data(tmp_path / "data"), db_url=db_url, where=AWKWARD_WHERE, work_dir=tmp_path)
    assert prepared.reports == len(AWKWARD)
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return {r for (r,) in conn.execute(sa.text("SELECT report_id FROM review_litigation"))}
    finally:
        engine.dispose()


def test_sqlite_views_hold_the_selected_reports(tmp_path):
    assert _sql_engine_views(f"sqlite:///{tmp_path / 'nb.db'}", tmp_path) == awkward_ids()


@pytest.mark.postgres
def test_postgresql_views_hold_the_selected_reports(tmp_path):
    """A view cannot take bind parameters on PostgreSQL: the views read the selection from nb_selection."""
    if not os.environ.get("NIANBAO_PG_URL"):
        pytest.skip("NIANBAO_PG_URL not set")
    assert _sql_engine_views(os.environ["NIANBAO_PG_URL"], tmp_path) == awkward_ids()


# --- a selection that matches nothing checks nothing: never a pass -------------------------------------


def test_selection_matching_nothing_is_unreadable_input_and_keeps_the_site(tmp_path):
    root = clone_root(shared_nightly(), "select-nothing")
    runs = root / "uncommitted" / "runs"
    site = root / "uncommitted" / "data_docs" / "local_site"
    before = ((runs / "latest.json").read_bytes(), os.readlink(runs / "latest"), os.readlink(site))
    index = (site / "nianbao" / "index.html").read_bytes()

    proc = run_cli(root, "run", "nightly", "--select", "agency:不存在的机关")
    assert proc.returncode == ExitCode.INPUT_UNREADABLE, proc.stderr[-3000:]
    assert "agency:不存在的机关" in proc.stderr and "没有选中任何报告" in proc.stderr
    assert "全部通过" not in proc.stdout
    assert ((runs / "latest.json").read_bytes(), os.readlink(runs / "latest"), os.readlink(site)) == before
    assert (site / "nianbao" / "index.html").read_bytes() == index


# --- usage errors exit 64 in every command, never argparse's 2 (ERRORS) -----------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["gate", "F", "--year", "abc"],
        ["gate", "F", "--level", "bogus"],
        ["run", "--engine", "bogus"],
        ["gate", "F", "--engine", "bogus"],
        ["ingest", "F", "--year", "20a"],
        ["ingest", "F", "--level", "bogus"],
        ["parse", "F", "--year", "abc"],
        ["parse", "F", "--year", "123"],
        ["run", "--no-such-option"],
    ],
)
def test_usage_errors_exit_64(args, tmp_path):
    root = make_root(tmp_path)
    proc = run_cli(root, *args)
    assert proc.returncode == ExitCode.USAGE == 64, proc.stderr[-3000:]
    assert proc.stderr.startswith("usage: nianbao") and "用法错误" in proc.stderr
    assert not (root / "uncommitted" / "runs").exists()  # nothing ran


def test_usage_is_the_worst_outcome_of_the_pure_exit_code():
    assert exit_code(failed_severities={"error"}, config_error=True, usage_error=True) == ExitCode.USAGE


def test_bad_level_in_a_manifest_stays_a_configuration_error(tmp_path):
    root = make_root(tmp_path)
    (tmp_path / "x.txt").write_text("x", encoding="utf-8")
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,agency,region,year,level\nx.txt,甲,,2023,bogus\n", encoding="utf-8")
    proc = run_cli(root, "ingest", str(tmp_path / "x.txt"), "--out", str(tmp_path / "d"), "--manifest", str(manifest))
    assert proc.returncode == ExitCode.CONFIG_ERROR and "bogus" in proc.stderr


# --- run folders of killed runs -----------------------------------------------------------------------------


def test_a_run_removes_the_partial_folders_of_killed_runs(tmp_path):
    """The next run removes what a killed run left; its own RUN.partial is never taken for a stale one."""
    root = make_root(tmp_path)
    data = write_data(tmp_path / "data", base_reports()[:1])
    runs = root / "uncommitted" / "runs"

    killed = run_cli(root, "run", "nightly", "--data", str(data), env={"NIANBAO_TEST_CRASH_AT": "publish"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    [first] = runs.glob("*.partial")
    assert (first / "run_results.json").is_file()  # written whole, never renamed into place

    again = run_cli(root, "run", "nightly", "--data", str(data), env={"NIANBAO_TEST_CRASH_AT": "publish"})
    assert again.returncode == -signal.SIGKILL, again.stderr[-2000:]
    [second] = runs.glob("*.partial")
    assert second != first and (second / "run_results.json").is_file()  # the stale one gone, its own kept

    done = run_cli(root, "run", "nightly", "--data", str(data))
    assert done.returncode == ExitCode.OK, done.stderr[-3000:]
    assert not list(runs.glob("*.partial"))
    assert latest(root)[1]["completed"] is True
