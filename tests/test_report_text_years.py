"""The report text read year by year: forked workers over chunks of a year give exactly the rows one
process gives, and the copies found are those of the in-memory comparison (nianbao.similarity.matches)."""

from __future__ import annotations

import duckdb
import pytest

from nianbao import agency_key, report_text, synth
from nianbao import similarity as SIM

TABLES = ("reports", "applications", "review_litigation", "sections", "versions")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """120 agencies x 2021-2024, copies and text errors at 5 % a kind."""
    out = tmp_path_factory.mktemp("years")
    synth.generate_series(120, out, first=2021, last=2024, error_rate=0.05, seed=11, chunk=200, text_error_rate=0.05)
    return out


def _facts(folder, monkeypatch, parallel: bool) -> tuple[list[tuple], dict]:
    con = duckdb.connect()
    for t in TABLES:
        con.execute(f"CREATE VIEW nb_{t} AS SELECT * FROM read_parquet('{folder}/{t}/*.parquet')")
    agency_key.build_keys(con, "nb_", "agency_keys")
    if parallel:  # every year in forked workers, many small chunks
        monkeypatch.setattr(report_text, "PARALLEL_FROM", 0)
        monkeypatch.setattr(report_text, "CHUNK", 7)
    recorded = report_text.build_facts(con, "nb_", "agency_keys")
    rows = con.execute("SELECT * FROM nb_text_facts ORDER BY report_id").fetchall()
    return rows, recorded


def test_forked_workers_give_the_rows_one_process_gives(folder, monkeypatch):
    one, recorded = _facts(folder, monkeypatch, parallel=False)
    many, recorded_many = _facts(folder, monkeypatch, parallel=True)
    with_text = duckdb.sql(f"SELECT count(DISTINCT report_id) FROM read_parquet('{folder}/sections/*.parquet')")
    assert recorded["reports_with_text"] == with_text.fetchall()[0][0] > 400 and recorded["copies"] > 0
    assert many == one and recorded_many == recorded


def test_copies_are_those_of_the_in_memory_comparison(folder, monkeypatch):
    rows, _ = _facts(folder, monkeypatch, parallel=True)
    con = duckdb.connect()
    texts: dict[str, dict[str, str]] = {}
    meta = {}
    for rid, section, text in con.execute(
        f"SELECT report_id, section, text FROM read_parquet('{folder}/sections/*.parquet') ORDER BY report_id, ordinal"
    ).fetchall():
        texts.setdefault(rid, {})[section] = text or ""
    for rid, agency, region, year in con.execute(
        f"SELECT report_id, agency, region, year FROM read_parquet('{folder}/reports/*.parquet')"
    ).fetchall():
        meta[rid] = (agency_key.agency_key(agency, region) or rid, year)
    docs = [
        SIM.Text(rid, *meta[rid], {k: v for k, v in body.items() if k in report_text.SECTIONS})
        for rid, body in texts.items()
    ]
    expected = {(m.report_id, m.scope) for m in SIM.matches(docs)}
    columns = [c for c, _ in report_text.FACT_COLUMNS]
    got = set()
    for row in rows:
        r = dict(zip(columns, row))
        got |= {(r["report_id"], SIM.PREVIOUS_YEAR)} if r["copied_previous_from"] else set()
        got |= {(r["report_id"], SIM.SAME_YEAR)} if r["copied_same_year_from"] else set()
    assert expected and got == expected
