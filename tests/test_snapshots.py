"""The data folder as atomic snapshots: an ingest commits every table and its state together or nothing,
killed after each file operation of its commit; runs read one snapshot whatever ingests commit meanwhile;
parser processes die with their ingest."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from checkpoint_support import make_root

from nianbao import datafolder
from nianbao import ingest as I
from nianbao import schema as S
from nianbao.parse import render as R

# Every file operation of a commit, in order: the tables, the state and the change log, the pointer
# written aside, then the pointer replaced (the commit itself).
COMMIT_STEPS = (*[f"write-{t}" for t in S.TABLE_SCHEMAS], "write-state", "write-changes", "write-pointer", "commit")
VOLATILE = {"ingested_at", "changed_at"}  # wall clock of the ingest: differs between any two ingests


def _report(agency: str, year: int, seed: int, **changes) -> dict:
    report = R.random_report(random.Random(seed), S.FORMAT_2021, agency=agency, year=year)
    report["tables"]["review_litigation"].update(changes)
    return report


def _inputs(folder: Path, n: int, seed: int, corrected: bool = False) -> Path:
    """n text reports in a folder (table 四's 行政复议 adds up); `corrected` changes the first one's values."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        report = _report(f"第{i}测试局", 2023, seed + i, review=[1, 2, 0, 0, 3])
        if corrected and i == 0:
            report["tables"]["applications"]["new"] = [7, 0, 0, 0, 0, 0, 7]
        (folder / f"r{i}.txt").write_text(R.render_text(report, "pipe"), encoding="utf-8")
    return folder


def _view(data: Path) -> dict[str, list[dict]]:
    """What every reader sees: each table of the current snapshot, rows sorted, wall clocks left out."""
    snapshot = datafolder.open_snapshot(data)
    out = {}
    for table in datafolder.TABLES:
        rows = pa.concat_tables(
            [pq.read_table(f) for f in snapshot.files(table)] or [S.TABLE_SCHEMAS[table].empty_table()],
            promote_options="default",
        ).to_pylist()
        out[table] = sorted((_stable(r) for r in rows), key=json.dumps)
    for name in ("state", "changes"):
        out[name] = sorted((_stable(r) for r in I.stored_table(data, name).to_pylist()), key=json.dumps)
    return out


def _stable(row: dict) -> dict:
    return {k: (v is not None if k in VOLATILE else str(v)) for k, v in row.items()}


def _ingest_in_child(
    inputs: Path, data: Path, env: dict | None = None, workers: int = 1, output=subprocess.PIPE
) -> subprocess.Popen:
    code = f"from nianbao.ingest import ingest; ingest([{str(inputs)!r}], {str(data)!r}, workers={workers})"
    return subprocess.Popen(
        [sys.executable, "-c", code], env={**os.environ, **(env or {})}, stdout=output, stderr=output
    )


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A data folder after a first ingest (old), the inputs of a second, and the folder both ingests make."""
    base = tmp_path_factory.mktemp("snapshots")
    first, second = _inputs(base / "first", 4, 1), _inputs(base / "second", 3, 1, corrected=True)
    (base / "second" / "new.txt").write_text(R.render_text(_report("新增测试局", 2023, 99), "pipe"), encoding="utf-8")
    old = base / "old"
    I.ingest([first], old)
    complete = base / "complete"
    shutil.copytree(old, complete)
    I.ingest([second], complete)
    again = base / "again"  # the second ingest run twice: its retry adds `unchanged` to the change log
    shutil.copytree(complete, again)
    I.ingest([second], again)
    return base, old, second, complete, again


@pytest.mark.parametrize("step", COMMIT_STEPS)
def test_a_kill_at_each_step_of_the_commit_leaves_a_snapshot_and_the_retry_completes_it(folders, step):
    base, old, second, complete, again = folders
    data = base / f"killed-{step}"
    shutil.copytree(old, data)
    before = datafolder.open_snapshot(data).id
    proc = _ingest_in_child(second, data, {"NIANBAO_TEST_CRASH_AT": f"ingest-{step}"})
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, step
    after = datafolder.open_snapshot(data)
    if step == "commit":  # killed right after the pointer was replaced: the new snapshot, whole
        assert after.id != before and _view(data) == _view(complete)
    else:  # killed before: the old snapshot, exactly, whatever files were written
        assert after.id == before and _view(data) == _view(old)
    summary = I.ingest([second], data)  # the retry gives what an ingest never killed gives
    assert summary.snapshot == datafolder.open_snapshot(data).id
    assert _view(data) == _view(again if step == "commit" else complete)
    # Only the committed snapshot's files of ingest remain: what the killed one wrote is cleaned up.
    named = set(datafolder.open_snapshot(data).listed.values())
    own = {p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file() and p.suffix in (".parquet", ".tmp")}
    assert own == named


NIGHTLIES = textwrap.dedent(
    """
    import json, sys
    from nianbao.run import run_checkpoint
    for data in sys.argv[1:]:
        outcome = run_checkpoint("nightly", data_dir=data)
        found = sorted([r.report_id, r.rule_id, r.status, r.message] for r in outcome.findings.itertuples())
        print(json.dumps({"data": data, "exit": int(outcome.exit_code), "snapshot": outcome.summary.get("snapshot"),
                          "findings": found}, ensure_ascii=False))
    """
)


def _nightlies(root: Path, folders: list[Path]) -> list[dict]:
    """One `run nightly` per folder, in one child process (GX imported once), against a private root."""
    full = {**os.environ, "NIANBAO_ROOT": str(root), "GX_ANALYTICS_ENABLED": "false"}
    full.pop("NIANBAO_TEST_CRASH_AT", None)
    done = subprocess.run(
        [sys.executable, "-c", NIGHTLIES, *map(str, folders)],
        cwd=root,
        env=full,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_a_nightly_on_a_killed_ingest_checks_the_old_snapshot(folders, tmp_path):
    _base, old, second, complete, _ = folders
    killed = []
    for step in COMMIT_STEPS:
        data = tmp_path / f"killed-{step}"
        shutil.copytree(old, data)
        _ingest_in_child(second, data, {"NIANBAO_TEST_CRASH_AT": f"ingest-{step}"}).communicate(timeout=300)
        killed.append(data)
    runs = {run["data"]: run for run in _nightlies(make_root(tmp_path), [old, complete, *killed])}
    expected_old, expected_new = runs[str(old)], runs[str(complete)]
    assert expected_old["findings"] != expected_new["findings"]  # the second ingest changes findings
    for data, step in zip(killed, COMMIT_STEPS):
        expected = expected_new if step == "commit" else expected_old
        got = runs[str(data)]
        assert (got["exit"], got["findings"]) == (expected["exit"], expected["findings"]), step
        assert got["snapshot"] == datafolder.open_snapshot(data).id


def test_runs_read_one_snapshot_while_ingests_commit(tmp_path):
    """Ingests alternate two versions of a report while nightlies run; each run's findings are those of
    the snapshot its run_results.json names, never a mix."""
    inputs = _inputs(tmp_path / "in", 3, 5)
    texts = {
        "clean": (inputs / "r0.txt").read_text(encoding="utf-8"),
        # table 四's 总计 wrong: R4.review fails; the same file corrected and broken again, as agencies do
        "broken": R.render_text(_report("第0测试局", 2023, 5, review=[1, 2, 0, 0, 999]), "pipe"),
    }
    data = tmp_path / "data"
    version_of = {I.ingest([inputs], data).snapshot: "clean"}
    stop = threading.Event()

    def commit_in_a_loop():
        for i in range(200):
            if stop.is_set():
                return
            version = "broken" if i % 2 == 0 else "clean"
            (inputs / "r0.txt").write_text(texts[version], encoding="utf-8")
            version_of[I.ingest([inputs], data).snapshot] = version

    writer = threading.Thread(target=commit_in_a_loop)
    writer.start()
    try:
        root = make_root(tmp_path)
        runs = _nightlies(root, [data] * 4)
    finally:
        stop.set()
        writer.join()
    assert len(runs) == 4
    assert len(version_of) > 2  # ingests did commit while the runs read
    for run in runs:
        version = version_of[run["snapshot"]]
        r4 = [f for f in run["findings"] if f[1] == "R4.review"]  # the group the broken version breaks
        assert bool(r4) == (version == "broken"), (version, r4)
        if r4:
            assert "999" in r4[0][3]  # the message's printed value is the snapshot's
    # Each run's pages show the cells of its snapshot too.
    latest = json.loads((root / "uncommitted" / "runs" / "latest.json").read_text(encoding="utf-8"))
    doc = json.loads((root / "uncommitted" / "runs" / latest["run_id"] / "run_results.json").read_text())
    pages = list((root / "uncommitted" / "data_docs" / "local_site" / "nianbao" / "agencies").glob("*.html"))
    if version_of[doc["snapshot"]] == "broken":
        assert any("999" in p.read_text(encoding="utf-8") for p in pages)


def _children(pid: int) -> set[int]:
    """Processes whose parent is pid (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_parser_processes_die_with_their_ingest(tmp_path):
    inputs = _inputs(tmp_path / "in", 6, 3)
    # No pipes: a parser process that outlived its ingest would hold them open.
    stall = {"NIANBAO_TEST_STALL_AT": "parse"}
    proc = _ingest_in_child(inputs, tmp_path / "data", stall, workers=2, output=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    children: set[int] = set()
    while time.monotonic() < deadline and len(children) < 3:  # two parser processes and the resource tracker
        children = _children(proc.pid)
        time.sleep(0.1)
    assert len(children) >= 2, children
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(c) for c in children):
        time.sleep(0.1)
    survivors = [c for c in children if _alive(c)]
    for pid in survivors:  # leave no process behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors
