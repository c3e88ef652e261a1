"""The incremental nightly gives what a full nightly gives (nianbao.incremental).

One small synthetic data folder (three years, text on), six nights: a first run, additions, corrections
(a cell that makes a new failure, a table that fixes an old one), a deletion, a rule change (an
expectation edited: the state hash changes, the run must be full) and a night without change. Each night
runs twice on the same data folder, in two private projects: the default (incremental) nightly and
`--full-refresh`. Their findings, resolved findings, diagnoses, history events, run counts and the
auditors' pages must be identical.

Normalised before comparing: each run id becomes its night's number (RUN1…, both sequences run the same
nights), and times (GX's run time in page links, the Beijing time of the run on the pages) become TIME;
the column `carried` is compared apart (it is what differs, by design). GX's own pages (validations/,
expectations/, its index) are not compared: they are GX's record of the rows it validated tonight, which
is what an incremental night makes smaller.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from checkpoint_support import make_root

from nianbao import datafolder, report
from nianbao import schema as S

TABLES = datafolder.TABLES
TIME = re.compile(
    r"\d{8}T\d{6}(?:\.?\d+)?Z|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:?\d{2}|Z)?"
)
STATUTORY_SUITES = ("applications_2021", "applications_2019")


# --- the data folder, table by table -----------------------------------------------------------------


def load(data: Path) -> dict[str, pa.Table]:
    return {t: pq.read_table(data / t) for t in TABLES if (data / t).is_dir()}


def save(data: Path, tables: dict[str, pa.Table]) -> None:
    for t, table in tables.items():
        shutil.rmtree(data / t, ignore_errors=True)
        (data / t).mkdir(parents=True)
        pq.write_table(table, data / t / "part-0.parquet")


def without(tables: dict[str, pa.Table], ids: set[str]) -> dict[str, pa.Table]:
    keep = pa.array(sorted(ids), pa.string())
    return {t: x.filter(pc.invert(pc.is_in(x["report_id"], keep))) for t, x in tables.items()}


def only(tables: dict[str, pa.Table], ids: set[str]) -> dict[str, pa.Table]:
    keep = pa.array(sorted(ids), pa.string())
    return {t: x.filter(pc.is_in(x["report_id"], keep)) for t, x in tables.items()}


def added(a: dict[str, pa.Table], b: dict[str, pa.Table]) -> dict[str, pa.Table]:
    return {t: pa.concat_tables([a[t], b[t].cast(a[t].schema)]) for t in a}


# --- two projects, one per sequence --------------------------------------------------------------------


def run_both(roots: dict[str, Path], data: Path) -> None:
    """`nianbao run nightly` in the incremental project and `--full-refresh` in the other, side by side."""
    env = {k: v for k, v in os.environ.items() if k != "NIANBAO_TEST_CRASH_AT"}
    procs = {}
    for name, root in roots.items():
        if not root.exists():
            continue
        extra = ["--full-refresh"] if name == "full" else []
        # The full sequence reads its reports back five at a time (nianbao.run.outputs.report_chunks):
        # findings, diagnoses and pages must not depend on how they were read.
        chunked = {"NIANBAO_CHUNK_REPORTS": "5"} if name == "full" else {}
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "nianbao.cli", "run", "nightly", "--data", str(data), "--no-notify", *extra],
            cwd=root,
            env={**env, **chunked, "NIANBAO_ROOT": str(root), "GX_ANALYTICS_ENABLED": "false"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        assert proc.returncode in (0, 1, 2), f"{name}: exit {proc.returncode}\n{out[-2000:]}\n{err[-4000:]}"


def runs(root: Path) -> list[Path]:
    return sorted(d for d in (root / "uncommitted" / "runs").iterdir() if d.is_dir() and not d.is_symlink())


def results(run: Path) -> dict:
    return json.loads((run / "run_results.json").read_text(encoding="utf-8"))


def normaliser(root: Path):
    """Text with the project's run ids as RUN<night>, the runs' times as pages show them as TIME<night>
    (an agency page shows the run that last changed its results), other times as TIME."""
    ids = {r.name: f"RUN{i + 1}" for i, r in enumerate(runs(root))}
    shown = {
        report.beijing_time(results(r)["started_at"]): f"TIME{i + 1}"
        for i, r in enumerate(runs(root))
        if "started_at" in results(r)
    }

    def norm(text):
        if not isinstance(text, str):
            return text
        for rid, n in ids.items():
            text = text.replace(rid, n)
        for time, n in shown.items():
            text = text.replace(time, n)
        return TIME.sub("TIME", text)

    return norm


def frame(path: Path, norm, drop=("carried",)) -> pd.DataFrame:
    f = pq.read_table(path).to_pandas()
    f = f.drop(columns=[c for c in drop if c in f.columns])
    for c in f.columns:
        if pd.api.types.is_string_dtype(f[c]) or f[c].dtype == object:
            f[c] = f[c].astype(object).map(norm)
    return f.sort_values(list(f.columns[:6]), kind="stable").reset_index(drop=True) if len(f) else f


def history_events(root: Path, norm) -> pd.DataFrame:
    files = sorted((root / "uncommitted" / "history").glob("*/events-*.parquet"))
    parts = [frame(f, norm).assign(file=norm(f.name)) for f in files]
    return pd.concat(parts, ignore_index=True)


def pages(root: Path, norm) -> dict[str, str]:
    site = (root / "uncommitted" / "data_docs" / "local_site" / "nianbao").resolve()
    return {p.relative_to(site).as_posix(): norm(p.read_text(encoding="utf-8")) for p in sorted(site.rglob("*.html"))}


def compare(roots: dict[str, Path]) -> tuple[dict, dict]:
    """Assert the latest runs of both projects made the same outputs; their run_results.json."""
    inc, full = roots["incremental"], roots["full"]
    ni, nf = normaliser(inc), normaliser(full)
    ri, rf = runs(inc)[-1], runs(full)[-1]
    for name in ("findings.parquet", "resolved.parquet", "diagnoses.parquet"):
        pd.testing.assert_frame_equal(frame(ri / name, ni), frame(rf / name, nf), obj=name)
    pd.testing.assert_frame_equal(history_events(inc, ni), history_events(full, nf), obj="history")
    pi, pf = pages(inc, ni), pages(full, nf)
    assert sorted(pi) == sorted(pf)
    for name in pi:
        assert pi[name] == pf[name], f"page {name} differs"
    si, sf = results(ri), results(rf)
    assert si["counts"] == sf["counts"]
    assert si["reports_validated"] == sf["reports_validated"] > 0
    assert si["exit_code"] == sf["exit_code"]
    assert sf["incremental"]["full"] and sf["incremental"]["reason"] == "--full-refresh"
    # --full-refresh writes every agency page; the incremental night links those whose key is unchanged.
    assert sf["timings"]["agency_pages_linked"] == 0
    # The full sequence reads its failing reports 5 at a time; the incremental night tonight's at once (none
    # when nothing was validated again).
    assert sf["timings"]["report_chunks"] > 1 and si["timings"]["report_chunks"] <= 1
    assert si["previous_run_id"] == sf["previous_run_id"] or ni(si["previous_run_id"]) == nf(sf["previous_run_id"])
    carried = pq.read_table(ri / "findings.parquet").column("carried").to_pylist()
    assert sum(carried) == si["incremental"]["carried_findings"]
    assert not any(pq.read_table(rf / "findings.parquet").column("carried").to_pylist())
    return si, sf


def findings_of(run: Path) -> pd.DataFrame:
    return pd.read_parquet(run / "findings.parquet")


# --- the nights ------------------------------------------------------------------------------------


def test_incremental_nights_equal_full_refresh(tmp_path):
    source = tmp_path / "synth"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "nianbao", "synth", "--series", "2021-2023", "--agencies", "12"),
            *("--error-rate", "0.2", "--out", str(source), "--seed", "7"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    everything = load(source)
    reports = everything["reports"].to_pandas()
    total = len(reports)
    held = set(reports[reports.year == 2023].report_id.sort_values()[:3])
    roots = {"incremental": make_root(tmp_path / "incremental"), "full": tmp_path / "full" / "root"}
    data = tmp_path / "data"

    # Night 1: the first run is full (nothing to compare with); the project is then copied, so that both
    # sequences start from the same run (one run less to wait for).
    save(data, without(everything, held))
    run_both(roots, data)
    si = results(runs(roots["incremental"])[-1])
    assert si["incremental"]["full"] and si["incremental"]["revalidated"] is None
    shutil.copytree(roots["incremental"], roots["full"], symlinks=True)

    # Night 2: three reports of 2023 added. Their year (R30.same_year) and their agencies' reports are
    # validated again, not the others.
    tables = added(without(everything, held), only(everything, held))
    save(data, tables)
    run_both(roots, data)
    si, sf = compare(roots)
    inc = si["incremental"]
    assert not inc["full"] and inc["changed"] == 3 and inc["deleted"] == 0
    assert 3 <= inc["revalidated"] < total and inc["carried_findings"] > 0
    assert si["counts"]["history"] == sf["counts"]["history"]

    # Night 3: corrections. A clean 2022 report gets a wrong 总计 (a new failure); a report failing a
    # table 三 identity gets a table that adds up (an old failure fixed).
    before = findings_of(runs(roots["full"])[-1])
    failing = before[(before.status == "failed") & before.suite.isin(STATUTORY_SUITES)]
    fixed_id, fixed_rule = failing.report_id.iloc[0], failing.rule_id.iloc[0]
    fixed_version = reports.set_index("report_id").format_version[fixed_id]
    table = "applications"
    apps = tables[table].to_pandas()
    clean_ids = set(reports.report_id) - set(before.report_id)
    donor = sorted(
        r
        for r in clean_ids
        if reports.set_index("report_id").format_version[r] == fixed_version and r in set(apps.report_id)
    )[0]
    # A 2022 report whose agency reported in 2023: its 结转下年度 is what R11 compares next year's with.
    in_2023 = set(zip(reports[reports.year == 2023].agency, reports[reports.year == 2023].region))
    candidates = reports[(reports.year == 2022) & reports.report_id.isin(clean_ids - {donor})]
    broken_id = sorted(
        r for r, a, g in zip(candidates.report_id, candidates.agency, candidates.region) if (a, g) in in_2023
    )[0]
    next_year = reports[(reports.year == 2023) & (reports.agency == reports.set_index("report_id").agency[broken_id])]
    row = apps[apps.report_id == donor].assign(report_id=fixed_id)
    apps = pd.concat([apps[apps.report_id != fixed_id], row], ignore_index=True)
    apps.loc[apps.report_id == broken_id, S.app_col("carried_forward", "total")] += 1
    tables[table] = pa.Table.from_pandas(apps, schema=tables[table].schema, preserve_index=False)
    save(data, tables)
    run_both(roots, data)
    si, sf = compare(roots)
    inc = si["incremental"]
    assert not inc["full"] and inc["changed"] == 2 and inc["revalidated"] < total
    # Night 2 turned every finding of night 1 from new to persisting; tonight most pages stay the same.
    assert 0 < si["timings"]["agency_pages_linked"] < pages_written(runs(roots["incremental"])[-1])
    now = findings_of(runs(roots["incremental"])[-1])
    assert not ((now.report_id == fixed_id) & (now.rule_id == fixed_rule)).any()
    assert ((now.report_id == broken_id) & (now.history == "new") & ~now.carried).any()
    # The agency's 2023 report, unchanged itself, breaks R11 now: validated again, not carried.
    assert ((now.report_id.isin(set(next_year.report_id))) & (now.rule_id == "R11.total") & ~now.carried).any()
    resolved = pd.read_parquet(runs(roots["incremental"])[-1] / "resolved.parquet")
    assert ((resolved.report_id == fixed_id) & (resolved.rule_id == fixed_rule)).any()

    # Night 4: a report whose text another agency's report of its year copies leaves the data folder
    # (not resolved: it was not corrected); the other's R30.same_year is resolved, though its own rows
    # did not change, and the next year's report of its agency loses its pair (R11 not assessable).
    copies = now[now.rule_id == "R30.same_year"].report_id
    assert len(copies) >= 2, "the synthetic corpus has a pair of copied reports"
    gone = sorted(copies)[0]
    tables = without(tables, {gone})
    save(data, tables)
    run_both(roots, data)
    si, sf = compare(roots)
    inc = si["incremental"]
    assert not inc["full"] and inc["deleted"] == 1 and inc["changed"] == 0 and inc["revalidated"] < total - 1
    assert gone not in set(findings_of(runs(roots["incremental"])[-1]).report_id)
    resolved = pd.read_parquet(runs(roots["incremental"])[-1] / "resolved.parquet")
    assert ((resolved.rule_id == "R30.same_year") & (resolved.report_id != gone)).any()

    # Night 5: an expectation edited (the same in both projects): the state hash changes, the run is full.
    for root in roots.values():
        suite = root / "expectations" / "review_litigation.json"
        doc = json.loads(suite.read_text(encoding="utf-8"))
        doc["expectations"][0].setdefault("meta", {})["note"] = "incremental test: edited"
        suite.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    run_both(roots, data)
    si, sf = compare(roots)
    assert si["incremental"]["full"] and "状态哈希" in si["incremental"]["reason"]
    assert si["state_hash"] != results(runs(roots["incremental"])[-2])["state_hash"]

    # Night 6: nothing changed: nothing validated again, every finding carried.
    run_both(roots, data)
    si, sf = compare(roots)
    inc = si["incremental"]
    assert not inc["full"] and (inc["changed"], inc["deleted"], inc["revalidated"]) == (0, 0, 0)
    assert inc["carried_findings"] == si["counts"]["findings"] - roster_findings(si)
    assert si["reports_in_data"] == total - 1
    # Nothing changed for any page: every agency page is the last build's file, its report not read.
    assert si["timings"]["agency_pages_linked"] == pages_written(runs(roots["incremental"])[-1]) > 0
    assert si["timings"]["outputs"].get("read_reports_s", 0) == 0


def pages_written(run: Path) -> int:
    """Agency pages with findings the run wrote or linked (nianbao.page_cache keeps a key for each)."""
    return pq.read_metadata(run / "agency_pages.parquet").num_rows


def roster_findings(summary: dict) -> int:
    """Run-level findings (R28/R29, nianbao.roster): checked again every night, never carried."""
    return sum(
        n["failed"] + n["not_assessable"]
        for r, n in summary["counts"]["by_rule"].items()
        if r.split(".")[0] in ("R28", "R29")
    )


# --- what is validated again, without GX ----------------------------------------------------------------


def hashes(rows: list[tuple]) -> pa.Table:
    """A report_hashes table of (report_id, year, agency_key, meta, table, text, has_text)."""
    from nianbao import incremental

    cols = list(zip(*rows))
    names = ["report_id", "year", "agency_key", "meta_hash", "table_hash", "text_hash", "has_text"]
    data = {n: list(c) for n, c in zip(names, cols)}
    sums = {
        f.name: pa.nulls(len(rows), f.type) for f in incremental.HASHES_SCHEMA if f.name.endswith(("_sum", "_rows"))
    }
    return pa.table({**data, "suites": [""] * len(rows), **sums}).cast(incremental.HASHES_SCHEMA)


def rid(n: int) -> str:
    return f"R{n:016X}"


def test_revalidate_ids_neighbours_and_text_years():
    from nianbao import incremental

    # Agency A: 2021–2023; agency B: 2021–2023; C: 2022 only, without text.
    before = [
        (rid(1), 2021, "A", "m", "t", "x1", True),
        (rid(2), 2022, "A", "m", "t", "x2", True),
        (rid(3), 2023, "A", "m", "t", "x3", True),
        (rid(4), 2021, "B", "m", "t", "x4", True),
        (rid(5), 2022, "B", "m", "t", "x5", True),
        (rid(6), 2023, "B", "m", "t", "x6", True),
        (rid(7), 2022, "C", "m", "t", None, False),
    ]
    unchanged = incremental.revalidate_ids(hashes(before), hashes(before))
    assert unchanged == ((), (), set())
    # A table corrected (text untouched): the report and its agency's other years, not B's reports.
    now = [*before[:1], (rid(2), 2022, "A", "m", "t2", "x2", True), *before[2:]]
    changed, deleted, again = incremental.revalidate_ids(hashes(now), hashes(before))
    assert (changed, deleted, again) == ((rid(2),), (), {rid(1), rid(2), rid(3)})
    # Its text changed: every report of 2022 and 2023 (R30.same_year, R30.previous_year) as well.
    now = [*before[:1], (rid(2), 2022, "A", "m", "t", "x2b", True), *before[2:]]
    _, _, again = incremental.revalidate_ids(hashes(now), hashes(before))
    assert again == {rid(1), rid(2), rid(3), rid(5), rid(6), rid(7)}
    # A report without text deleted: only its agency (none other here), nothing else.
    changed, deleted, again = incremental.revalidate_ids(hashes(before[:6]), hashes(before))
    assert (changed, deleted, again) == ((), (rid(7),), set())
    # A key that goes (now ambiguous): the reports under the old key are checked again.
    now = [*before[:2], (rid(3), 2023, None, "m", "t", "x3", True), *before[3:]]
    _, _, again = incremental.revalidate_ids(hashes(now), hashes(before))
    assert {rid(1), rid(2), rid(3)} <= again


def test_unreadable_previous_run_is_full(tmp_path):
    from nianbao import incremental

    data = tmp_path / "data"
    save(data, {"reports": pa.table({"report_id": [rid(1)], "agency": ["甲局"], "region": ["某省"], "year": [2023]})})
    previous = tmp_path / "run"
    previous.mkdir()
    (previous / "run_results.json").write_text("{not json", encoding="utf-8")
    reason, before = incremental.full_reason(previous, "state", full_refresh=False)
    assert before is None and "无法读取" in reason
    assert incremental.report_hashes(datafolder.as_snapshot(data)).hashes.num_rows == 1
    reason, _ = incremental.full_reason(None, "state", full_refresh=False)
    assert reason is not None


def test_suites_of_reports_validated_or_carried():
    """Each report's suites: tonight's when validated, the last run's when carried, blank otherwise; and
    reports_validated counted per table as a full run counts it."""
    from nianbao import incremental

    table = hashes([(rid(n), 2022, "A", "m", "t", None, False) for n in range(1, 6)])
    tonight = {rid(1): ["applications_2021", "review_litigation"], rid(2): ["applications_2021"]}
    carried = pa.table(
        {"report_id": [rid(2), rid(3), rid(4)], "suites": ["stale", "applications_2019,review_litigation", ""]}
    )
    got = incremental.with_suites(table, tonight, carried)
    assert got["suites"].to_pylist() == [
        "applications_2021,review_litigation",
        "applications_2021",  # validated tonight: tonight's, not the carried ones
        "applications_2019,review_litigation",
        "",
        "",  # neither validated nor carried
    ]
    assert got.drop(["suites"]).equals(table.drop(["suites"]))
    # applications: 2 in 2021's asset + 1 in 2019's; review_litigation: 2.
    assert incremental.covered(got) == 3


def test_engine_takes_the_agency_keys_made_with_the_hashes(tmp_path):
    """The keys the incremental plan makes with its hashes, handed to the engine, give the derived
    assets what building them again gives: the same year pairs, records and violations."""
    from nianbao import engines, incremental

    data = tmp_path / "data"
    subprocess.run(
        [sys.executable, "-m", "nianbao", "synth", "--series", "2021-2023", "--agencies", "12", "--out", str(data)],
        check=True,
        capture_output=True,
    )
    snapshot = datafolder.as_snapshot(data)
    hashed = incremental.report_hashes(snapshot)
    assert hashed.keys.num_rows == hashed.hashes.num_rows and hashed.keys_record["linked_reports"] > 0
    built = engines.prepare("duckdb", snapshot, work_dir=tmp_path / "built")
    loaded = engines.prepare("duckdb", snapshot, work_dir=tmp_path / "loaded", agency_keys=hashed.agency_keys)
    try:

        def pairs(prepared) -> list[tuple]:
            return sorted(prepared.keepalive.execute("SELECT * FROM year_pairs").fetchall(), key=repr)

        assert pairs(loaded) == pairs(built) and len(pairs(built)) > 0
        strip = {s: {k: v for k, v in d.items() if k != "seconds"} for s, d in built.derived.items()}
        assert {s: {k: v for k, v in d.items() if k != "seconds"} for s, d in loaded.derived.items()} == strip
        assert loaded.violations.sort_by("report_id").equals(built.violations.sort_by("report_id"))
    finally:
        built.close()
        loaded.close()
