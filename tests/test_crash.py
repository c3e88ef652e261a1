"""A run killed halfway (SIGKILL while it writes the site) leaves the previous site and findings intact."""

from __future__ import annotations

import hashlib
import signal

from checkpoint_support import clone_root, run_cli, shared_nightly


def _digest(folder):
    """Content hash of every file under folder (following the site symlink)."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f.relative_to(folder).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def test_killed_run_leaves_previous_site_and_findings(tmp_path):
    root = clone_root(shared_nightly(), "crash")
    site = root / "uncommitted" / "data_docs" / "local_site"
    runs = root / "uncommitted" / "runs"
    before = {
        "target": site.resolve(),
        "site": _digest(site.resolve()),
        "latest": (runs / "latest.json").read_bytes(),
        "run": _digest(runs / "latest"),
        "runs": sorted(p.name for p in runs.iterdir()),
    }

    proc = run_cli(root, "run", "nightly", env={"NIANBAO_TEST_CRASH_AT": "pages"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]

    assert site.resolve() == before["target"] and _digest(site) == before["site"]
    assert (runs / "latest.json").read_bytes() == before["latest"] and _digest(runs / "latest") == before["run"]
    partial = [p for p in runs.iterdir() if p.name not in before["runs"]]
    assert [p.name.endswith(".partial") for p in partial] == [True]  # the dead run, never published
    builds = site.parent / "builds"
    half = [p for p in builds.iterdir() if p.name.endswith(".partial")]
    assert len(half) == 1 and any((half[0] / "nianbao" / "agencies").glob("*.html"))  # it died mid-way
    assert not (half[0] / "nianbao" / "index.html").exists()
