"""`nianbao prune --keep-runs N`: delete all but the newest N run folders (uncommitted/runs/RUN).

The history across runs lives apart (uncommitted/history, nianbao.ledger), so pruning loses none of
it: a finding first seen in a deleted run keeps that run id as its first_seen. The latest run is
always kept (the site and `latest` point at it), and nothing is pruned while a run holds the lock.
"""

from __future__ import annotations

import shutil

from .. import paths
from ..exitcodes import ExitCode
from .checkpoint import run_lock
from .history import latest_run


def run_folders() -> list:
    """Completed or failed run folders, oldest first (run ids sort by time)."""
    if not paths.RUNS_DIR.is_dir():
        return []
    return sorted(
        d
        for d in paths.RUNS_DIR.iterdir()
        if d.is_dir() and not d.is_symlink() and not d.name.startswith(".") and not d.name.endswith(".partial")
    )


def prune(keep_runs: int) -> int:
    """Delete all but the newest keep_runs run folders (never the latest); the number deleted."""
    with run_lock():
        folders = run_folders()
        latest = latest_run()
        doomed = [d for d in folders[: max(len(folders) - keep_runs, 0)] if latest is None or d.name != latest.name]
        for d in doomed:
            shutil.rmtree(d)
    return len(doomed)


def command_prune(args) -> ExitCode:
    if args.keep_runs < 1:
        print("nianbao prune:--keep-runs 至少为 1")
        return ExitCode.USAGE
    removed = prune(args.keep_runs)
    print(f"已删除 {removed} 个旧的运行目录,保留最近 {args.keep_runs} 个;历次检查记录(uncommitted/history)不受影响。")
    return ExitCode.OK
