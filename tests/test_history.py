"""History across every run: five nightly runs with fixes and regressions, and pruning in between.

Each finding's first_seen, last_seen, resolved and reopened runs are checked against what the edits
between runs make of it; the history's files of earlier runs are never rewritten; pruning run folders
leaves the history whole; an agency whose findings are all resolved keeps its page.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from nianbao import ledger
from tests.checkpoint_support import base_reports, edited, make_root, run_cli, write_data

FEES = "苏州市财政局"  # an error fixed in run 2 and back in run 4 (a regression)
CLEAN = "西湖区人民政府"  # clean until run 3 breaks it; fixed again in run 4
BROKEN_FEES = {"fees_10k_yuan": Decimal("29232200")}


def _digests(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(f.relative_to(root)): (hashlib.sha256(f.read_bytes()).hexdigest(), f.stat().st_mtime_ns)
        for f in sorted((root / "uncommitted" / "history").rglob("events-*.parquet"))
    }


def _run(root: Path, reports: list[dict]) -> tuple[str, pd.DataFrame]:
    write_data(root / "data", reports)
    proc = run_cli(root, "run", "nightly")
    assert proc.returncode in (1, 2), proc.stdout + proc.stderr
    run_id = json.loads((root / "uncommitted" / "runs" / "latest.json").read_text())["run_id"]
    return run_id, pq.read_table(root / "uncommitted" / "runs" / run_id / "findings.parquet").to_pandas()


def _opt(value):
    return value if isinstance(value, str) else None


def _state(root: Path) -> pd.DataFrame:
    files = sorted((root / "uncommitted" / "history").rglob("events-*.parquet"))
    assert len({f.parent for f in files}) == 1  # one scope: nightly over data/
    events = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    return ledger.fold(events).set_index("fingerprint")


@pytest.fixture(scope="module")
def five_runs(tmp_path_factory):
    root = make_root(tmp_path_factory.mktemp("history"))
    base = base_reports()
    fixed = edited(base, FEES, "active_disclosure", {"fees_10k_yuan": Decimal("0")})
    broken_clean = edited(fixed, CLEAN, "review_litigation", {"review_upheld": 3})
    regressed = edited(base, FEES, "active_disclosure", BROKEN_FEES)  # CLEAN is clean again
    runs, frames, digests = [], [], []
    for i, reports in enumerate([base, fixed, broken_clean, regressed, regressed]):
        if i == 4:  # prune before the last run: only the newest two run folders stay
            proc = run_cli(root, "prune", "--keep-runs", "2")
            assert proc.returncode == 0, proc.stderr
            assert "已删除 2 个" in proc.stdout
            assert len([d for d in (root / "uncommitted" / "runs").iterdir() if d.is_dir() and not d.is_symlink()]) == 2
        run_id, frame = _run(root, reports)
        runs.append(run_id)
        frames.append(frame)
        digests.append(_digests(root))
    ids = {r["agency"]: r["report_id"] for r in base}
    return {"root": root, "runs": runs, "frames": frames, "digests": digests, "ids": ids}


def test_history_files_are_never_rewritten(five_runs):
    digests = five_runs["digests"]
    for i in range(1, len(digests)):
        assert len(digests[i]) == i + 1  # one new events file per run
        for name, digest in digests[i - 1].items():
            assert digests[i][name] == digest, f"{name} changed after run {i + 1}"


def test_first_seen_and_resolved_across_five_runs(five_runs):
    r1, r2, r3, r4, r5 = five_runs["runs"]
    frames, ids = five_runs["frames"], five_runs["ids"]
    fees, clean = ids[FEES], ids[CLEAN]
    fees_rules = set(frames[0][frames[0].report_id == fees].rule_id)
    clean_rules = set(frames[2][frames[2].report_id == clean].rule_id)
    assert fees_rules and clean_rules
    assert clean not in set(frames[0].report_id) and fees not in set(frames[1].report_id)

    # In every run's findings: first_seen as the edits make it (pruned runs included), last_seen = the run.
    for n, frame in enumerate(frames):
        for row in frame.itertuples():
            assert row.last_seen == five_runs["runs"][n]
            if row.report_id == clean:
                expected = r3
            else:
                expected = r1  # every other finding, the regressed fees one too, was first seen in run 1
            assert row.first_seen == expected, (n + 1, row.report_id, row.rule_id)

    state = _state(five_runs["root"])
    for rule in fees_rules:
        s = state.loc[ledger.fingerprint(fees, rule)]
        assert (s.first_seen, s.last_seen, _opt(s.resolved_at), s.reopened) == (r1, r5, None, r4)
    for rule in clean_rules:
        s = state.loc[ledger.fingerprint(clean, rule)]
        assert (s.first_seen, s.last_seen, _opt(s.resolved_at), s.reopened) == (r3, r3, r4, "")
    others = state[~state.report_id.isin({fees, clean})]
    assert len(others) and set(others.first_seen) == {r1} and set(others.last_seen) == {r5}
    assert others.resolved_at.isna().all()

    # Run 2 resolved the fees finding (the events say when), run 4 reopened it.
    events = pd.concat(
        [pq.read_table(f).to_pandas() for f in (five_runs["root"] / "uncommitted" / "history").rglob("events-*")]
    )
    fee_events = events[events.report_id == fees].sort_values("run_id")
    assert [(e.run_id, e.event) for e in fee_events.drop_duplicates(["run_id", "event"]).itertuples()] == [
        (r1, ledger.OPENED),
        (r2, ledger.RESOLVED),
        (r4, ledger.REOPENED),
        (r5, ledger.SEEN),
    ]
    # resolved.parquet keeps comparing with the previous run.
    resolved2 = pq.read_table(five_runs["root"] / "uncommitted" / "runs" / r5 / "resolved.parquet").to_pandas()
    assert resolved2.empty


def test_pages_show_trends_timelines_and_resolved_agencies(five_runs):
    site = five_runs["root"] / "uncommitted" / "data_docs" / "local_site" / "nianbao"
    ids = five_runs["ids"]
    landing = (site / "index.html").read_text(encoding="utf-8")
    assert 'id="trend-region"' in landing and 'id="trend-rule"' in landing
    assert landing.count('<svg class="spark"') >= 2
    assert "江苏省" in landing.split('id="trend-region"')[1].split("</table>")[0]
    # The agency fixed in run 4 has no finding now, but keeps its page with its history.
    assert f'href="agencies/{ids[CLEAN]}.html"' in landing
    clean_page = (site / "agencies" / f"{ids[CLEAN]}.html").read_text(encoding="utf-8")
    assert 'id="timeline"' in clean_page and "已整改" in clean_page and five_runs["runs"][3] in clean_page
    fees_page = (site / "agencies" / f"{ids[FEES]}.html").read_text(encoding="utf-8")
    assert "再次出现" in fees_page and five_runs["runs"][0] in fees_page


def test_a_night_reads_the_state_of_the_last_runs_not_every_events_file(five_runs, tmp_path, monkeypatch):
    """The state after each of the last two runs is kept beside the events (ledger.write_state); a night
    folds the latest with the events after it, to what folding every events file gives, and passes over
    a state file it cannot read."""
    import shutil

    from nianbao import paths

    runs = five_runs["runs"]
    shutil.copytree(five_runs["root"] / "uncommitted" / "history", tmp_path / "uncommitted" / "history")
    monkeypatch.setattr(paths, "UNCOMMITTED", tmp_path / "uncommitted")
    (folder,) = (tmp_path / "uncommitted" / "history").iterdir()
    scope = json.loads((folder / "scope.json").read_text(encoding="utf-8"))
    assert sorted(p.name for p in folder.glob("state-*.parquet")) == [f"state-{r}.parquet" for r in runs[-2:]]
    later = "99999999T000000000000Z-nightly"  # a run after all five

    def folded(events: pd.DataFrame) -> pd.DataFrame:
        return ledger.fold(events).astype(object).where(lambda d: d.notna(), None)

    every = folded(ledger.read_events(scope, before=later))
    assert len(every) and every.reopened.str.len().gt(0).any() and every.resolved_at.notna().any()
    for run in runs[-2:]:  # each state file is the history up to its run
        kept = pq.read_table(folder / f"state-{run}.parquet").to_pandas().astype(object)
        pd.testing.assert_frame_equal(
            kept.where(kept.notna(), None), folded(ledger.read_events(scope, before=run + "~"))
        )
    # The first three events files gone: the state of run 5 (and its events) still tells everything.
    for run in runs[:3]:
        (folder / f"events-{run}.parquet").unlink()
    pd.testing.assert_frame_equal(folded(ledger.history_before(scope, later)), every)
    assert not folded(ledger.read_events(scope, before=later)).equals(every)  # the state was what read it
    # Run 5's state file unreadable: run 4's and the events after it; with neither, the events alone.
    (folder / f"state-{runs[4]}.parquet").write_bytes(b"not parquet")
    pd.testing.assert_frame_equal(folded(ledger.history_before(scope, later)), every)
